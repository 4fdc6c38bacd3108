// npm run dev: local migrations, demo tenants, dev tokens, then `wrangler dev` on :8787.
// Needs no Cloudflare account, no API key and no internet.
import { spawnSync, spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync } from 'node:fs';
import { mintToken, readDevVars } from './lib.mjs';
import { SEED_DOCUMENTS } from './seed-documents.mjs';

const wrangler = ['node_modules/wrangler/bin/wrangler.js'];
const run = (args) => {
  const r = spawnSync(process.execPath, [...wrangler, ...args], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(r.stdout);
    process.exit(r.status ?? 1);
  }
};

if (!existsSync('.dev.vars')) {
  copyFileSync('.dev.vars.example', '.dev.vars');
  console.log('created .dev.vars from .dev.vars.example');
} else {
  // A .dev.vars from before a setting moved there (wrangler.toml's top-level vars are
  // production-safe) would silently run in production mode: add what it lacks.
  const have = readDevVars('.dev.vars');
  const example = readDevVars('.dev.vars.example');
  const missing = Object.keys(example).filter((k) => !(k in have));
  if (missing.length) {
    appendFileSync('.dev.vars', `\n# added by npm run dev from .dev.vars.example\n${missing.map((k) => `${k}=${example[k]}`).join('\n')}\n`);
    console.log(`added ${missing.join(', ')} to .dev.vars from .dev.vars.example`);
  }
}
console.log('applying local migrations to every tenant database…');
{
  const r = spawnSync(process.execPath, ['scripts/db-migrate.mjs', '--local'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
run(['d1', 'execute', 'DB', '--local', '--file', 'scripts/seed.sql']);
run(['d1', 'execute', 'DB_EU', '--local', '--file', 'scripts/seed-eu.sql']);

const { JWT_SECRET } = readDevVars();
const tokens = {
  acme: await mintToken({ secret: JWT_SECRET, tenant: 'acme', role: 'admin', sub: 'alice' }),
  globex: await mintToken({ secret: JWT_SECRET, tenant: 'globex', role: 'admin', sub: 'hank' }),
  platform: await mintToken({ secret: JWT_SECRET, role: 'owner', sub: 'operator', platformAdmin: true }),
};

const port = process.env.PORT ?? '8787';
console.log(`
edgerag is starting on http://localhost:${port}

  GraphiQL (Acme admin token pre-filled):  http://localhost:${port}/graphql
  Per-tenant hosts also work:              http://acme.localhost:${port}/graphql

  Dev tokens (30 days):
    acme   (admin, alice):  ${tokens.acme}
    globex (admin, hank):   ${tokens.globex}
    platform admin:         ${tokens.platform}

  More: npm run token -- --tenant acme --role member
  curl -s http://localhost:${port}/graphql -H 'content-type: application/json' \\
       -H "authorization: Bearer ${tokens.acme.slice(0, 16)}…" -d '{"query":"{ viewer { role tenant { slug } } }"}'
`);
// Miniflare would fetch Request.cf from workers.cloudflare.com on start; offline that only
// prints a scary error and falls back to a placeholder, so skip it unless asked for.
// wrangler's [build] step writes the GraphiQL page, with the Acme token pre-filled.
const child = spawn(process.execPath, [...wrangler, 'dev', '--port', port, '--ip', '127.0.0.1', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: {
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    ...process.env,
    EDGERAG_GRAPHIQL_HEADERS: JSON.stringify({ Authorization: `Bearer ${tokens.acme}` }, null, 2),
  },
});
const stop = () => child.kill('SIGINT');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
child.on('exit', (code) => process.exit(code ?? 0));

// Once the Worker answers, give each demo tenant its demo documents (only when it has none),
// through GraphQL like any client; the local queue then indexes them within seconds.
(async () => {
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  for (const [slug, docs] of Object.entries(SEED_DOCUMENTS)) {
    const call = (query, variables) =>
      fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[slug]}` },
        body: JSON.stringify({ query, variables }),
      }).then((r) => r.json());
    try {
      const have = await call('{ documents(first: 1) { edges { node { id } } } }');
      if (have.errors || have.data.documents.edges.length > 0) continue;
      for (const input of docs) {
        const r = await call('mutation($input: IngestDocumentInput!) { ingestDocument(input: $input) { id } }', { input });
        if (r.errors) console.warn(`seed ${slug}/${input.name}: ${r.errors[0].message}`);
      }
      // A query the tenant's own seeded documents answer (acme: the handbook; globex: the widget docs).
      const example = slug === 'globex' ? 'widget setup' : 'vacation days';
      console.log(`seeded ${docs.length} demo documents for ${slug} (searchable once processed: try { search(input: { query: "${example}" }) { hits { text } } })`);
    } catch (err) {
      console.warn(`seeding ${slug} failed: ${err.message}`);
    }
  }
})();
