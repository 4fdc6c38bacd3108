/**
 * The schema-version check (a tenant whose database is behind the code's migrations is refused
 * with a clear error, not an SQL failure) and D1 Sessions bookmarks (x-edgerag-bookmark).
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS, SCHEMA_VERSION, versionOf } from '../../src/db/schema-version';
import { forgetSchemaChecks } from '../../src/placement/store';
import { BOOKMARK_HEADER } from '../../src/tenant-session';
import { codeOf, createTenant, gql } from '../helpers';
import { postWith } from './move-helpers';

describe('schema version', () => {
  it('SCHEMA_VERSION is the newest migration in migrations/', () => {
    const numbers = env.TEST_MIGRATIONS.map((m) => Number(m.name.split('_')[0])).sort((a, b) => a - b);
    expect(SCHEMA_VERSION).toBe(Math.max(...numbers));
    expect(MIGRATIONS).toEqual(numbers);
  });

  it('a gap counts as behind: a later migration applied before an earlier one does not hide it', () => {
    expect(versionOf(MIGRATIONS)).toBe(SCHEMA_VERSION);
    expect(versionOf([])).toBe(0);
    const withoutSecondLast = MIGRATIONS.filter((n) => n !== MIGRATIONS.at(-2));
    expect(versionOf(withoutSecondLast)).toBe(MIGRATIONS.at(-3));
    expect(versionOf(MIGRATIONS.slice(1))).toBe(0);
  });

  it('refuses a tenant whose database is behind the schema (503, says so), and serves it once migrated', async () => {
    const t = await createTenant({ placement: 'dedicated:d1-1' });
    const db = env.DB_DEDICATED_1!;
    const newest = (await db.prepare('SELECT id, name, applied_at FROM d1_migrations ORDER BY id DESC LIMIT 1').first<{ id: number; name: string; applied_at: string }>())!;
    await db.prepare('DELETE FROM d1_migrations WHERE id = ?').bind(newest.id).run();
    forgetSchemaChecks();
    try {
      const r = await postWith({}, '{ documents(first: 1) { edges { node { id } } } }', {}, t.token);
      expect(r.status).toBe(503);
      expect(codeOf(r)).toBe('UPSTREAM_UNAVAILABLE');
      expect(r.body.errors![0]!.message).toMatch(
        new RegExp(`^This tenant's database is at schema version \\d+, and this service needs ${SCHEMA_VERSION}: it is refused until the database is migrated\\.$`),
      );
      expect(r.body.errors![0]!.extensions).toMatchObject({ reason: 'schema_behind' });
      // A tenant in another database is served meanwhile.
      const other = await createTenant();
      expect((await gql('{ documents(first: 1) { edges { node { id } } } }', {}, { token: other.token })).body.errors).toBeUndefined();
    } finally {
      await db.prepare('INSERT INTO d1_migrations (id, name, applied_at) VALUES (?, ?, ?)').bind(newest.id, newest.name, newest.applied_at).run();
    }
    expect((await postWith({}, '{ documents(first: 1) { edges { node { id } } } }', {}, t.token)).status).toBe(200);
  });
});

describe('D1 Sessions bookmarks', () => {
  it('answers every tenant request with a bookmark; sent back, it reads the request\'s own writes', async () => {
    const [a] = [await createTenant({ placement: 'regional:eu' })];
    const write = await gql('mutation { createCollection(input: { name: "fresh" }) { id } }', {}, { token: a.token });
    const bookmark = write.headers.get(BOOKMARK_HEADER);
    expect(bookmark).toBeTruthy();
    const read = await gql('{ collections(first: 5) { edges { node { name } } } }', {}, { token: a.token, headers: { [BOOKMARK_HEADER]: bookmark! } });
    expect(read.body.data.collections.edges.map((e: { node: { name: string } }) => e.node.name)).toEqual(['fresh']);
    expect(read.headers.get(BOOKMARK_HEADER)).toBeTruthy();
  });

  it('refuses a value that cannot be a bookmark, naming the header', async () => {
    const t = await createTenant({ placement: 'regional:eu' });
    const r = await gql('{ collections(first: 5) { edges { node { name } } } }', {}, { token: t.token, headers: { [BOOKMARK_HEADER]: 'not a bookmark!' } });
    expect(r.status).toBe(400);
    expect(r.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: BOOKMARK_HEADER });
  });

  it('exposes the header to browsers (CORS) and sends none on a tenantless platform request', async () => {
    const { platformToken } = await import('./placement-helpers');
    const r = await gql('{ tenants(first: 1) { edges { node { id } } } }', {}, { token: await platformToken() });
    expect(r.headers.get(BOOKMARK_HEADER)).toBeNull();
    const t = await createTenant();
    const cors = await gql('{ tenant { id } }', {}, { token: t.token, headers: { origin: 'http://localhost:5173' } });
    expect(cors.headers.get('access-control-expose-headers')).toContain(BOOKMARK_HEADER);
  });
});
