/**
 * libSQL tenant databases on the real engine (Node, `@libsql/client` with `file:` databases):
 * a tenant created with a libSQL database gets its credential sealed with AES-GCM under
 * ENCRYPTION_KEY in the catalogue, the placement store opens it once per session, and wrong,
 * rotated or missing keys fail with an error that names the key id — never the credential.
 */
import { createClient } from '@libsql/client';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal';
import { libsqlDatabase } from '../../src/db/client';
import { PlatformStore } from '../../src/db/platform-store';
import { SCHEMA_VERSION } from '../../src/db/schema-version';
import { writeResidence } from '../../src/db/tenant-copy';
import { TenantScope } from '../../src/db/tenant-scope';
import { loadConfig, type AppEnv } from '../../src/env';
import { createLogger } from '../../src/lib/log';
import { keyIdOf, secretBox, sealedKeyId } from '../../src/lib/secret-box';
import { choosePlacement } from '../../src/placement/choose';
import { forgetSchemaChecks, openStore } from '../../src/placement/store';
import { freshLibsql, LIBSQL_MIGRATIONS_PARSE } from '../repositories/backends.node';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const KEY_A = btoa('a'.repeat(32));
const KEY_B = btoa('b'.repeat(32));
const log = createLogger('libsql-test');

/** Stand-ins for the R2 bindings (the Node project has no workerd): only their identity matters here. */
const bucket = (name: string) => ({ name, put() {}, get() {}, list() {} });
const BUCKETS = { DOCUMENTS: bucket('DOCUMENTS'), DOCUMENTS_EU: bucket('DOCUMENTS_EU') };

function envWith(key: string, placements = ''): AppEnv {
  return { ENVIRONMENT: 'test', JWT_SECRET: 'test-secret-0123456789-0123456789-abcdef', ENCRYPTION_KEY: key, PLACEMENTS: placements, ...BUCKETS } as unknown as AppEnv;
}

/** A catalogue (libSQL standing in for DB) with one tenant on a fresh libSQL database. */
async function tenantOnLibsql(key = KEY_A, opts: { migrated?: boolean; placements?: string; slug?: string; url?: string } = {}) {
  const catalogueClient = await freshLibsql('catalogue');
  const catalogue = libsqlDatabase(catalogueClient as never);
  const platform = new PlatformStore(catalogue);
  const env = envWith(key, opts.placements);
  const config = loadConfig(env);
  const url = opts.url ?? (opts.migrated === false ? `file:${join(mkdtempSync(join(tmpdir(), 'edgerag-raw-')), 'raw.db')}` : (await tenantDb()).url);
  const slug = opts.slug ?? `lib${Math.random().toString(36).slice(2, 8)}`;
  const chosen = await choosePlacement({ env, config, platform }, { libsql: { url, authToken: 'tok-SECRET-123' } }, slug);
  const tenant = await platform.createTenant({ slug, name: 'Lib Co', plan: 'pro', placement: chosen.placement, database: chosen.database }, 'platform:op', 'req');
  const root = { env, config, catalogue, log, connectLibsql: (c: { url: string; authToken?: string }) => createClient(c) as never };
  return { catalogueClient, catalogue, platform, tenant, root, url, config };
}

/** A migrated libSQL file database and its URL. */
async function tenantDb() {
  const dir = mkdtempSync(join(tmpdir(), 'edgerag-tenant-'));
  const url = `file:${join(dir, 'tenant.db')}`;
  const { migrateLibsql } = await import('../../src/db/migrate-libsql');
  const { MIGRATIONS } = await import('../repositories/backends.node');
  await migrateLibsql(createClient({ url }), MIGRATIONS);
  return { url };
}

const principal = (tenantId: string): Principal => ({
  kind: 'user', tenantRef: tenantId, userId: 'u1', apiKeyId: null, role: 'admin', scopes: [], platformAdmin: false, rateLimitPerMinute: null, collectionIds: null, agentIds: null,
});

describe.skipIf(!LIBSQL_MIGRATIONS_PARSE)('libSQL tenant databases', () => {
  it('stores URL and token as ciphertext under the current key id, and serves the tenant from its own database', async () => {
    const { catalogueClient, tenant, root, url, platform } = await tenantOnLibsql();
    expect(tenant.placement).toMatch(/^dedicated:lib/);
    expect(tenant.tier).toBe('dedicated');
    const stored = (await catalogueClient.execute('SELECT * FROM tenant_databases')).rows[0]!;
    const dump = JSON.stringify(stored);
    expect(dump).not.toContain(url);
    expect(dump).not.toContain('tok-SECRET-123');
    expect(stored.key_id).toBe(await keyIdOf(new TextEncoder().encode('a'.repeat(32)) as Uint8Array<ArrayBuffer>));
    expect(sealedKeyId(String(stored.url_ciphertext))).toBe(stored.key_id);
    // The audit row names the database, never its credential.
    const audit = JSON.stringify((await catalogueClient.execute("SELECT details FROM audit_log WHERE action = 'tenant.create'")).rows);
    expect(audit).toContain(tenant.placement.slice('dedicated:'.length));
    expect(audit).not.toContain('tok-SECRET-123');
    expect(audit).not.toContain(url);

    const store = await openStore(root, tenant.placement);
    expect(store.backend).toBe('libsql');
    await writeResidence(store.db, tenant);
    const scope = new TenantScope(store.db, tenant, principal(tenant.id), 'req', root.catalogue);
    await scope.collections.create({ name: 'kept in libsql' }, null);
    const direct = createClient({ url });
    expect((await direct.execute({ sql: 'SELECT name FROM collections WHERE tenant_id = ?', args: [tenant.id] })).rows.map((r) => r.name)).toEqual(['kept in libsql']);
    expect((await catalogueClient.execute({ sql: 'SELECT count(*) AS n FROM collections WHERE tenant_id = ?', args: [tenant.id] })).rows[0]!.n).toBe(0);
    expect(await platform.tenantsIn(tenant.placement)).toHaveLength(1);
  });

  it('gives a libSQL database the bucket, vector index and jurisdiction its PLACEMENTS entry names (else the defaults)', async () => {
    const slug = `lib${Math.random().toString(36).slice(2, 8)}`;
    const placements = JSON.stringify({ [`dedicated:${slug}`]: { backend: 'libsql', bucket: 'DOCUMENTS_EU', jurisdiction: 'eu' } });
    const { tenant, root } = await tenantOnLibsql(KEY_A, { placements, slug });
    expect(tenant.placement).toBe(`dedicated:${slug}`);
    const store = await openStore(root, tenant.placement);
    expect(store).toMatchObject({ backend: 'libsql', bucket: 'DOCUMENTS_EU', jurisdiction: 'eu', vectorIndex: `local:dedicated:${slug}` });
    expect(store.blobs).toBe(BUCKETS.DOCUMENTS_EU);

    const plain = await tenantOnLibsql(KEY_A);
    const defaults = await openStore(plain.root, plain.tenant.placement);
    expect(defaults).toMatchObject({ backend: 'libsql', bucket: 'DOCUMENTS', jurisdiction: null });
    expect(defaults.blobs).toBe(BUCKETS.DOCUMENTS);
  });

  it('refuses a libSQL placement id that is a configured D1 database, and one whose entry has no registered database', async () => {
    const catalogue = libsqlDatabase((await freshLibsql('catalogue')) as never);
    const platform = new PlatformStore(catalogue);
    const env = envWith(KEY_A, JSON.stringify({ 'dedicated:named': { backend: 'libsql' } }));
    const config = loadConfig(env);
    // The entry only names bindings: without a registered database it is not a placement to choose.
    await expect(choosePlacement({ env, config, platform }, { placement: 'dedicated:named' }, 'x')).rejects.toMatchObject({ code: 'BAD_USER_INPUT', extensions: { field: 'placement' } });
    await expect(choosePlacement({ env, config, platform }, { tier: 'dedicated' }, 'x')).rejects.toMatchObject({ code: 'BAD_USER_INPUT', extensions: { field: 'tier' } });
  });

  it('opens credentials sealed under a previous key while ENCRYPTION_KEY still lists it (rotation)', async () => {
    const { tenant, root } = await tenantOnLibsql(KEY_A);
    const rotated = { ...root, env: envWith(`${KEY_B},${KEY_A}`) };
    const store = await openStore(rotated, tenant.placement);
    expect(store.backend).toBe('libsql');
    expect((await secretBox(`${KEY_B},${KEY_A}`)).currentKeyId).toBe(await keyIdOf(new TextEncoder().encode('b'.repeat(32)) as Uint8Array<ArrayBuffer>));
  });

  it('refuses with a clear error when the key that sealed the credential is gone, naming key ids only', async () => {
    const { tenant, root, url } = await tenantOnLibsql(KEY_A);
    const err = await openStore({ ...root, env: envWith(KEY_B) }, tenant.placement).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).toMatch(/sealed under key id [0-9a-f]{16}, which ENCRYPTION_KEY does not hold/);
    expect(message).not.toContain(url);
    expect(message).not.toContain('tok-SECRET-123');
  });

  it('refuses a tampered ciphertext or one moved to another row', async () => {
    const box = await secretBox(KEY_A);
    const sealed = await box.seal('libsql://db.example.turso.io', 'tenant_databases:x:url');
    await expect(box.open(sealed, 'tenant_databases:y:url')).rejects.toThrow(/does not open under key id/);
    const [v, id, iv, ct] = sealed.split('.');
    const flipped = `${v}.${id}.${iv}.${ct!.slice(0, -2)}${ct!.endsWith('AA') ? 'AB' : 'AA'}`;
    await expect(box.open(flipped, 'tenant_databases:x:url')).rejects.toThrow(/altered/);
  });

  it.each([
    ['empty', '', /ENCRYPTION_KEY is not set/],
    ['too short', btoa('short'), /must be 32 bytes \(got 5\)/],
    ['the second key too short', `${KEY_A},${btoa('x')}`, /key #2 must be 32 bytes/],
  ])('refuses an ENCRYPTION_KEY that is %s', async (_what, key, message) => {
    await expect(secretBox(key)).rejects.toThrow(message);
  });

  it('refuses to register a libSQL database when ENCRYPTION_KEY is unusable (BAD_USER_INPUT naming it)', async () => {
    const err = await tenantOnLibsql(btoa('short')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', extensions: { field: 'libsql' } });
  });

  it('answers UPSTREAM_UNAVAILABLE for a libSQL server that cannot be reached (the web client over HTTP, as in the Worker)', async () => {
    forgetSchemaChecks();
    // Nothing listens on this port (this worktree's range): the real @libsql/client/web fails to connect.
    const { tenant, root } = await tenantOnLibsql(KEY_A, { url: 'http://127.0.0.1:8859' });
    const { connectLibsql: _node, ...workerRoot } = root;
    const logged: string[] = [];
    const log = { ...root.log, error: (msg: string, fields?: Record<string, unknown>) => void logged.push(JSON.stringify({ msg, ...fields })) };
    const err = await openStore({ ...workerRoot, log }, tenant.placement).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', extensions: { reason: 'database_unreachable' } });
    expect(String((err as Error).message)).not.toContain('8859');
    // The log keeps the cause (connection refused) but not the database's host, part of the sealed credential.
    expect(logged.join()).toContain('ECONNREFUSED');
    expect(logged.join()).not.toContain('127.0.0.1:8859');
  });

  it('refuses a file: URL outside the tests, saying a Worker cannot open files and what to give instead', async () => {
    const catalogue = libsqlDatabase((await freshLibsql('catalogue')) as never);
    const env = { ...envWith(KEY_A), ENVIRONMENT: 'development' } as AppEnv;
    const err = await choosePlacement({ env, config: loadConfig(env), platform: new PlatformStore(catalogue) }, { libsql: { url: 'file:/tmp/x.db' } }, 'x').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/a Worker cannot open file: databases.*http:\/\/ \(local sqld, `turso dev`\)/) });
  });

  it('refuses a tenant whose libSQL database is behind the schema, with a clear error', async () => {
    forgetSchemaChecks();
    const { tenant, root } = await tenantOnLibsql(KEY_A, { migrated: false });
    const err = await openStore(root, tenant.placement).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', extensions: { reason: 'schema_behind', schemaVersion: 0, requiredSchemaVersion: SCHEMA_VERSION } });
  });
});
