// npm run db:migrate [-- --remote] [--env production]
//
// Applies migrations/ to EVERY tenant database (docs/placement.md):
//  1. each D1 database bound in wrangler.toml (the catalogue DB, regional and dedicated
//     placements), with `wrangler d1 migrations apply <binding>`;
//  2. each libSQL database registered in the catalogue (tenant_databases), over its URL with
//     @libsql/client, recording applied files in the same d1_migrations table; and writes the
//     residence row of the tenants placed there (src/db/tenant-copy.ts).
// Local by default (miniflare's state under .wrangler); --remote for the deployed databases.
// libSQL credentials are opened with ENCRYPTION_KEY: from the environment, else .dev.vars.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { readDevVars } from './lib.mjs';

const args = process.argv.slice(2);
const remote = args.includes('--remote');
const envIndex = args.indexOf('--env');
const envName = envIndex >= 0 ? args[envIndex + 1] : null;
for (const a of args) {
  if (!['--remote', '--local', '--env', envName].includes(a)) {
    console.error(`db:migrate: unknown argument ${a} (use --local | --remote, --env <name>)`);
    process.exit(2);
  }
}
const where = remote ? '--remote' : '--local';
const envArgs = envName ? ['--env', envName] : [];

const wrangler = (cmd, opts = {}) => {
  const r = spawnSync(process.execPath, ['node_modules/wrangler/bin/wrangler.js', ...cmd, where, ...envArgs], {
    stdio: opts.capture ? ['ignore', 'pipe', 'inherit'] : ['ignore', 'inherit', 'inherit'],
    encoding: 'utf8',
    env: { CLOUDFLARE_CF_FETCH_ENABLED: 'false', CI: 'true', ...process.env },
  });
  if (r.status !== 0) {
    if (opts.capture) console.error(r.stdout);
    console.error(`db:migrate: wrangler ${cmd.join(' ')} failed`);
    process.exit(r.status ?? 1);
  }
  return r.stdout;
};

/** D1 bindings of wrangler.toml for the chosen environment (top level, or [[env.<name>.d1_databases]]). */
function d1Bindings() {
  const toml = readFileSync('wrangler.toml', 'utf8');
  const header = envName ? `[[env.${envName}.d1_databases]]` : '[[d1_databases]]';
  const out = [];
  const lines = toml.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== header) continue;
    for (let j = i + 1; j < lines.length && !lines[j].trim().startsWith('['); j++) {
      const m = /^\s*binding\s*=\s*"([A-Z0-9_]+)"/.exec(lines[j]);
      if (m) out.push(m[1]);
    }
  }
  return out;
}

const bindings = d1Bindings();
if (!bindings.includes('DB')) {
  console.error(`db:migrate: wrangler.toml has no D1 binding DB${envName ? ` in env ${envName}` : ''}`);
  process.exit(1);
}
for (const binding of bindings) {
  console.log(`D1 ${binding} (${remote ? 'remote' : 'local'}):`);
  wrangler(['d1', 'migrations', 'apply', binding]);
}

// libSQL tenant databases registered in the catalogue.
const rows = JSON.parse(
  wrangler(['d1', 'execute', 'DB', '--json', '--command', 'SELECT name, url_ciphertext, token_ciphertext, key_id FROM tenant_databases ORDER BY name'], { capture: true }),
)[0]?.results ?? [];
if (rows.length === 0) {
  console.log('libSQL: no tenant databases registered.');
  process.exit(0);
}
const tenants = JSON.parse(
  wrangler(['d1', 'execute', 'DB', '--json', '--command', "SELECT * FROM tenants WHERE placement LIKE 'dedicated:%' OR moving_to LIKE 'dedicated:%'"], { capture: true }),
)[0]?.results ?? [];
const key = process.env.ENCRYPTION_KEY || (remote ? '' : readDevVars().ENCRYPTION_KEY);
if (!key) {
  console.error('db:migrate: set ENCRYPTION_KEY to open the libSQL credentials (the same value as the Worker secret)');
  process.exit(1);
}
const { secretBox } = await import('../src/lib/secret-box.ts');
const { migrateLibsql } = await import('../src/db/migrate-libsql.ts');
const { createClient } = await import('@libsql/client');
const box = await secretBox(key);
const migrations = readdirSync('migrations')
  .filter((f) => f.endsWith('.sql'))
  .map((name) => ({ name, sql: readFileSync(`migrations/${name}`, 'utf8') }));
let failed = false;
for (const row of rows) {
  let host = null;
  try {
    const url = await box.open(row.url_ciphertext, `tenant_databases:${row.name}:url`);
    try {
      host = new URL(url).host || null;
    } catch {
      host = null;
    }
    const authToken = await box.open(row.token_ciphertext, `tenant_databases:${row.name}:token`);
    const client = createClient({ url, authToken: authToken || undefined });
    const applied = await migrateLibsql(client, migrations);
    for (const t of tenants.filter((t) => t.placement === `dedicated:${row.name}` || t.moving_to === `dedicated:${row.name}`)) {
      const cols = Object.keys(t).filter((c) => c !== 'moving_to');
      await client.execute({ sql: `INSERT OR IGNORE INTO tenants (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`, args: cols.map((c) => t[c]) });
    }
    client.close();
    // Never print the URL or token: the name and key id identify the database.
    console.log(`libSQL ${row.name} (key ${row.key_id}): ${applied.length ? `applied ${applied.join(', ')}` : 'up to date'}`);
  } catch (err) {
    failed = true;
    // A connection error names the host (part of the sealed URL): print it scrubbed.
    const detail = `${err.message}${err.cause ? ` (${err.cause.message ?? err.cause})` : ''}`;
    console.error(`libSQL ${row.name}: ${host ? detail.replaceAll(host, '<libsql host>').replaceAll(host.split(':')[0], '<libsql host>') : detail}`);
  }
}
process.exit(failed ? 1 : 0);
