// Bundle check (runs in `npm test`): builds the Worker the way `wrangler deploy` does
// (--dry-run, nothing uploaded, no account needed) and fails if
//   - the build fails, or
//   - a package the Worker relies on for `instanceof` checks is bundled twice. A second
//     copy of graphql (its CommonJS files next to the ESM entry) gave two GraphQLError
//     classes: the error mask no longer recognised syntax errors, and a typo answered 500
//     instead of 400 under `wrangler dev` and in production, while tests still passed.
// Prints the bundle's size and gzip size (the figure the README quotes).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const out = '.generated/bundle-check';
rmSync(out, { recursive: true, force: true });
mkdirSync('.generated/assets', { recursive: true });
const r = spawnSync(
  process.execPath,
  ['node_modules/wrangler/bin/wrangler.js', 'deploy', '--dry-run', '--outdir', out, '--metafile', `${out}/meta.json`],
  { encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
);
if (r.status !== 0) {
  console.error(`Bundle check: wrangler deploy --dry-run failed\n${r.stdout}\n${r.stderr}`);
  process.exit(1);
}

const meta = JSON.parse(readFileSync(`${out}/meta.json`, 'utf8'));
const inputs = Object.keys(meta.inputs);
const problems = [];
// graphql ships .mjs (ESM) and .js (CommonJS) side by side; the bundle must use only one.
const graphqlCjs = inputs.filter((p) => /(^|\/)node_modules\/graphql\/.*\.js$/.test(p));
const graphqlEsm = inputs.filter((p) => /(^|\/)node_modules\/graphql\/.*\.mjs$/.test(p));
if (graphqlCjs.length && graphqlEsm.length) {
  problems.push(`graphql is bundled twice (ESM and ${graphqlCjs.length} CommonJS files, e.g. ${graphqlCjs[0]}); alias the deep import in wrangler.toml [alias]`);
}
if (problems.length) {
  console.error(`Bundle check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
const code = readFileSync(`${out}/index.js`);
const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
console.log(`Bundle check: ${inputs.length} modules, one copy of graphql; ${kib(code.byteLength)}, gzip ${kib(gzipSync(code).byteLength)}.`);
rmSync(out, { recursive: true, force: true });
