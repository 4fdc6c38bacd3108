/**
 * Collections against the plan limit: the refusal carries the quota extensions of
 * docs/guard.md, and deleteCollection frees a slot (empty collections only, never a cascade).
 */
import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it } from 'vitest';
import { CollectionsRepo } from '../../src/db/repositories/collections';
import { ingest } from '../documents/doc-helpers';
import { codeOf, createApiKey, createTenant, gql, twoTenants, type TestTenant } from '../helpers';

const CREATE = 'mutation($name: String!) { createCollection(input: { name: $name }) { id name } }';
const DELETE = 'mutation($id: ID!) { deleteCollection(id: $id) }';
const LIST = '{ collections { edges { node { id name } } } }';

const create = async (t: TestTenant, name: string, token = t.token) => {
  const r = await gql(CREATE, { name }, { token });
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data.createCollection.id as string;
};
const names = async (t: TestTenant) => (await gql(LIST, {}, { token: t.token })).body.data.collections.edges.map((e: any) => e.node.name);
const deleteAudits = async (t: TestTenant) =>
  (await gql('{ auditLog(first: 100) { edges { node { action targetId details } } } }', {}, { token: t.token })).body.data.auditLog.edges
    .map((e: any) => e.node)
    .filter((n: any) => n.action === 'collection.delete');

describe('collection limit', () => {
  it('refuses the 4th collection of a starter tenant with QUOTA_EXCEEDED, Retry-After and the guard’s extensions', async () => {
    const [a, b] = await twoTenants({ plan: 'starter' });
    for (const n of ['c1', 'c2', 'c3']) await create(a, n);
    const over = await gql(CREATE, { name: 'c4' }, { token: a.token });
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toBe('3600');
    expect(over.body.errors![0]!.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'collections', limit: 3, used: 3, retryAfter: 3600 });
    expect(over.body.errors![0]!.message).toMatch(/deleteCollection/);
    // Another tenant's collections do not count.
    await create(b, 'c1');
  });
});

describe('deleteCollection', () => {
  it('deletes an empty collection, frees the plan slot and writes an audit row', async () => {
    const [a, b] = await twoTenants({ plan: 'free' });
    const id = await create(a, 'only');
    const bId = await create(b, 'only');
    expect(codeOf(await gql(CREATE, { name: 'second' }, { token: a.token }))).toBe('QUOTA_EXCEEDED');

    const r = await gql(DELETE, { id }, { token: a.token });
    expect(r.body).toMatchObject({ data: { deleteCollection: true } });
    expect(await names(a)).toEqual([]);
    await create(a, 'second');
    expect(await names(a)).toEqual(['second']);
    expect(await deleteAudits(a)).toEqual([{ action: 'collection.delete', targetId: id, details: { name: 'only' } }]);
    // The other tenant is untouched.
    expect(await names(b)).toEqual(['only']);
    expect(await deleteAudits(b)).toEqual([]);
    expect(bId).toBeTruthy();
  });

  it('answers NOT_FOUND for an unknown id and, identically, for another tenant’s collection', async () => {
    const [a, b] = await twoTenants();
    const theirs = await create(b, 'theirs');
    const foreign = await gql(DELETE, { id: theirs }, { token: a.token });
    const unknown = await gql(DELETE, { id: crypto.randomUUID() }, { token: a.token });
    expect(codeOf(foreign)).toBe('NOT_FOUND');
    expect(foreign.status).toBe(unknown.status);
    expect(foreign.body.errors![0]!.message).toBe(unknown.body.errors![0]!.message);
    expect(foreign.body.data).toEqual(unknown.body.data);
    expect(await names(b)).toEqual(['theirs']);
    expect(await deleteAudits(b)).toEqual([]);
  });

  it('refuses a collection that still has documents, deletes nothing, and works once they are gone', async () => {
    const t = await createTenant();
    const id = await create(t, 'handbook');
    const doc = await ingest(t, { name: 'a.md', text: 'Refunds take 14 days.', collectionId: id });
    expect(doc.body.errors).toBeUndefined();
    const r = await gql(DELETE, { id }, { token: t.token });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.status).toBe(400);
    expect(r.body.errors![0]!.extensions).toMatchObject({ field: 'id', documents: 1 });
    expect(r.body.errors![0]!.message).toMatch(/still has 1 document\(s\): delete them first/);
    expect(await names(t)).toEqual(['handbook']);
    const docId = doc.body.data.ingestDocument.id;
    expect((await gql('query($id: ID!) { document(id: $id) { collection { id } } }', { id: docId }, { token: t.token })).body.data.document.collection.id).toBe(id);
    expect(await deleteAudits(t)).toEqual([]);

    expect((await gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id: docId }, { token: t.token })).body.errors).toBeUndefined();
    expect((await gql(DELETE, { id }, { token: t.token })).body.data.deleteCollection).toBe(true);
  });

  it('needs the member role and, for API keys, the ingest scope', async () => {
    const t = await createTenant();
    const id = await create(t, 'c');
    expect(codeOf(await gql(DELETE, { id }, { token: await t.tokenFor('viewer') }))).toBe('FORBIDDEN');
    for (const scopes of [['SEARCH'], ['CHAT']]) {
      const key = await createApiKey(t, scopes);
      expect(codeOf(await gql(DELETE, { id }, { token: key.secret })), scopes.join()).toBe('FORBIDDEN');
    }
    expect(await names(t)).toEqual(['c']);
    const ingestKey = await createApiKey(t, ['INGEST']);
    expect((await gql(DELETE, { id }, { token: ingestKey.secret })).body.data.deleteCollection).toBe(true);
    const again = await create(t, 'd', await t.tokenFor('member'));
    expect((await gql(DELETE, { id: again }, { token: await t.tokenFor('member') })).body.data.deleteCollection).toBe(true);
  });
});

describe('deleteCollection racing an ingest', () => {
  const real = Object.getOwnPropertyDescriptor(CollectionsRepo.prototype, 'refuseIfNotEmpty')!;
  afterEach(() => Object.defineProperty(CollectionsRepo.prototype, 'refuseIfNotEmpty', real));

  it('keeps the collection (and writes no audit row) when a document lands between the check and the delete', async () => {
    const [a, b] = await twoTenants();
    const id = await create(a, 'busy');
    const bId = await create(b, 'busy');
    let calls = 0;
    // The first emptiness check passes; then a document of this collection is written, as a
    // concurrent ingest would, before the delete statement runs.
    Object.defineProperty(CollectionsRepo.prototype, 'refuseIfNotEmpty', {
      configurable: true,
      value: async function (this: CollectionsRepo, collectionId: string) {
        await real.value.call(this, collectionId);
        if (calls++ === 0) {
          await env.DB.prepare('INSERT INTO documents (id, tenant_id, collection_id, name, source_type, content_hash) VALUES (?, ?, ?, ?, ?, ?)')
            .bind(crypto.randomUUID(), a.id, id, 'late.md', 'text', 'h')
            .run();
        }
      },
    });
    const r = await gql(DELETE, { id }, { token: a.token });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.body.errors![0]!.extensions).toMatchObject({ documents: 1 });
    expect(await names(a)).toEqual(['busy']);
    expect(await deleteAudits(a)).toEqual([]);
    expect(await names(b)).toEqual(['busy']);
    expect(bId).toBeTruthy();
  });
});

describe('createCollection under concurrency', () => {
  it('admits exactly the plan limit of concurrent creates, per tenant; the rest get QUOTA_EXCEEDED', async () => {
    const [a, b] = await twoTenants({ plan: 'starter' });
    const rs = await Promise.all(['p1', 'p2', 'p3', 'p4', 'p5', 'p6'].map((name) => gql(CREATE, { name }, { token: a.token })));
    const codes = rs.map((r) => (r.body.errors ? codeOf(r) : 'OK'));
    expect(codes.filter((c) => c === 'OK')).toHaveLength(3);
    expect(codes.filter((c) => c === 'QUOTA_EXCEEDED')).toHaveLength(3);
    expect(await names(a)).toHaveLength(3);
    // Tenant B's limit is its own.
    await create(b, 'p1');
    expect(await names(b)).toEqual(['p1']);
  });

  it('answers concurrent creates of one name with one collection and BAD_USER_INPUT for the rest, never a 500', async () => {
    const [a] = await twoTenants({ plan: 'pro' });
    const rs = await Promise.all([1, 2, 3, 4].map(() => gql(CREATE, { name: 'same' }, { token: a.token })));
    const codes = rs.map((r) => (r.body.errors ? codeOf(r) : 'OK'));
    expect(codes.filter((c) => c === 'OK')).toHaveLength(1);
    expect(codes.filter((c) => c === 'BAD_USER_INPUT')).toHaveLength(3);
    expect(await names(a)).toEqual(['same']);
    const audits = (await gql('{ auditLog(first: 100) { edges { node { action } } } }', {}, { token: a.token })).body.data.auditLog.edges
      .filter((e: any) => e.node.action === 'collection.create');
    expect(audits).toHaveLength(1);
  });
});
