// Architecture rules that the type checker cannot see (runs in `npm test`):
//  1. Only src/db/** may use drizzle-orm or the table objects: tenant data is reached
//     through TenantScope (src/db/tenant-scope.ts), deployment data through PlatformStore.
//  2. Only the composition layer (src/index.ts, src/context.ts, src/services.ts, src/http/**,
//     src/objects/**) may read bindings from `env`; resolvers and services never do.
//  3. Services (src/rag, src/ai, src/vector, src/db, src/lifecycle) import nothing from GraphQL.
//  4. Only the tenant session and the placement store (src/tenant-session.ts,
//     src/placement/store.ts) open databases (databaseFor, libsqlDatabase, withSession):
//     nothing below the session chooses a database (DESIGN §11).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts')) files.push(relative(root, p));
  }
})(join(root, 'src'));

const problems = [];
for (const file of files) {
  const text = readFileSync(join(root, file), 'utf8');
  const inDb = file.startsWith('src/db/');
  if (!inDb && /from ['"]drizzle-orm/.test(text)) problems.push(`${file}: imports drizzle-orm outside src/db (use TenantScope)`);
  if (!inDb && /import\s*\{[^}]*\b(tenants|documents|chunks|collections|conversations|messages|apiKeys|auditLog|usage|memberships|agents)\b[^}]*\}\s*from\s*['"][./]*db\/schema['"]/.test(text) && !/import\s+type/.test(text.match(/import[^;]*db\/schema['"]/)?.[0] ?? '')) {
    problems.push(`${file}: imports table objects from db/schema outside src/db`);
  }
  // src/vector/index.ts is the factory that maps bindings to a VectorStore for the composition root.
  const composition = ['src/index.ts', 'src/context.ts', 'src/services.ts', 'src/env.ts', 'src/vector/index.ts', 'src/tenant-session.ts', 'src/placement/store.ts'].includes(file) || file.startsWith('src/http/') || file.startsWith('src/objects/');
  if (!composition && /\benv\.(DB|DOCUMENTS|INGEST_QUEUE|TENANT_GUARD|LOCAL_VECTORS|VECTORIZE)\b/.test(text)) {
    problems.push(`${file}: reads a binding from env (wire it in src/services.ts or src/context.ts)`);
  }
  // The TenantGuard opens the global catalogue (DB) only: it holds the tenant's admission
  // record (tenant row, keys, domains), never tenant data, so it chooses no placement.
  const opensDatabases = ['src/db/client.ts', 'src/tenant-session.ts', 'src/placement/store.ts', 'src/http/health.ts', 'src/objects/tenant-guard.ts'].includes(file);
  if (!opensDatabases && /\b(databaseFor|libsqlDatabase)\(|\.withSession\(/.test(text)) {
    problems.push(`${file}: opens a database (only the tenant session and src/placement/store.ts choose databases)`);
  }
  const service = ['src/rag/', 'src/ai/', 'src/vector/', 'src/db/', 'src/lifecycle/'].some((d) => file.startsWith(d));
  if (service && /from ['"](graphql|graphql-yoga|@pothos\/core)['"]/.test(text)) problems.push(`${file}: a service imports GraphQL`);
}
if (problems.length) {
  console.error(`Architecture check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`Architecture check: ${files.length} files, rules hold.`);
