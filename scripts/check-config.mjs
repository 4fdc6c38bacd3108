// Configuration check (runs in `npm test`): the top-level [vars] of wrangler.toml are what a
// plain `wrangler deploy` ships, so they must be production-safe; development settings
// belong in .dev.vars.example (read by `wrangler dev` through .dev.vars) and vitest.config.ts.
import { readFileSync } from 'node:fs';

const toml = readFileSync('wrangler.toml', 'utf8');
const section = /^\[vars\]\s*$([\s\S]*?)^\[/m.exec(toml);
if (!section) {
  console.error('Config check failed: wrangler.toml has no top-level [vars]');
  process.exit(1);
}
const vars = Object.fromEntries([...section[1].matchAll(/^([A-Z0-9_]+)\s*=\s*"([^"]*)"/gm)].map((m) => [m[1], m[2]]));
const SAFE = { ENVIRONMENT: 'production', GRAPHIQL: 'false', INTROSPECTION: 'false', DOMAIN_VERIFIER: 'dns' };
const problems = Object.entries(SAFE)
  .filter(([k, v]) => vars[k] !== v)
  .map(([k, v]) => `top-level [vars] ${k} must be "${v}" (got ${vars[k] === undefined ? 'nothing' : `"${vars[k]}"`}); put development values in .dev.vars.example`);
if (vars.BASE_DOMAIN === 'localhost') problems.push('top-level [vars] BASE_DOMAIN must not be localhost (localhost origins would pass CORS); .dev.vars.example sets it');
const example = readFileSync('.dev.vars.example', 'utf8');
for (const [k, v] of Object.entries({ ENVIRONMENT: 'development', GRAPHIQL: 'true', INTROSPECTION: 'true', BASE_DOMAIN: 'localhost' })) {
  if (!new RegExp(`^${k}=${v}$`, 'm').test(example)) problems.push(`.dev.vars.example must set ${k}=${v} (npm run dev and wrangler dev rely on it)`);
}
if (problems.length) {
  console.error(`Config check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('Config check: top-level [vars] are production-safe; .dev.vars.example has the development settings.');
