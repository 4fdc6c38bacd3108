/**
 * API-key scopes (and JWT `scope` claims) on the document catalogue: reading collections
 * and documents needs INGEST or SEARCH (ADMIN implies both); a CHAT-only credential is
 * refused. A JWT without a scope claim stays unrestricted.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { codeOf, createApiKey, gql, twoTenants } from '../helpers';

const COLLECTIONS = '{ collections { edges { node { id name } } } }';
const DOCUMENTS = '{ documents { edges { node { id name tags metadata sourceUrl } } } }';
const DOCUMENT = 'query($id: ID!) { document(id: $id) { id name tags metadata sourceUrl } }';

async function insertDocument(tenantId: string, name: string): Promise<string> {
  const id = crypto.randomUUID();
  await env.DB.prepare('INSERT INTO documents (id, tenant_id, name, source_type, content_hash, status, tags, source_url) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    .bind(id, tenantId, name, 'url', `hash-${id}`, 'completed', '["secret-tag"]', 'https://intranet.example/plan')
    .run();
  return id;
}

describe('scopes on document and collection reads', () => {
  it('refuses a CHAT-only API key with FORBIDDEN and leaks nothing', async () => {
    const [a] = await twoTenants();
    await gql('mutation { createCollection(input: { name: "handbook" }) { id } }', {}, { token: a.token });
    const doc = await insertDocument(a.id, 'board-minutes.md');
    const chat = await createApiKey(a, ['CHAT']);
    for (const [query, vars] of [[COLLECTIONS, {}], [DOCUMENTS, {}], [DOCUMENT, { id: doc }]] as const) {
      const r = await gql(query, vars, { token: chat.secret });
      expect(codeOf(r), query).toBe('FORBIDDEN');
      expect(r.status).toBe(403);
      expect(r.body.errors![0]!.message).toBe('This needs the ingest or search scope');
      const text = JSON.stringify(r.body);
      expect(text).not.toContain('board-minutes');
      expect(text).not.toContain('handbook');
      expect(text).not.toContain('secret-tag');
    }
    // The key still does what CHAT is for.
    expect((await gql('{ conversations { edges { cursor } } }', {}, { token: chat.secret })).body.errors).toBeUndefined();
  });

  it('lets SEARCH, INGEST and ADMIN keys read, each only its own tenant', async () => {
    const [a, b] = await twoTenants();
    const docA = await insertDocument(a.id, 'a.md');
    const docB = await insertDocument(b.id, 'b.md');
    await gql('mutation { createCollection(input: { name: "col-a" }) { id } }', {}, { token: a.token });
    await gql('mutation { createCollection(input: { name: "col-b" }) { id } }', {}, { token: b.token });
    for (const scopes of [['SEARCH'], ['INGEST'], ['ADMIN'], ['CHAT', 'SEARCH']]) {
      const key = await createApiKey(a, scopes);
      const docs = await gql(DOCUMENTS, {}, { token: key.secret });
      expect(docs.body.errors, scopes.join()).toBeUndefined();
      expect(docs.body.data.documents.edges.map((e: any) => e.node.name)).toEqual(['a.md']);
      const cols = await gql(COLLECTIONS, {}, { token: key.secret });
      expect(cols.body.data.collections.edges.map((e: any) => e.node.name)).toEqual(['col-a']);
      expect((await gql(DOCUMENT, { id: docA }, { token: key.secret })).body.data.document.name).toBe('a.md');
      // Another tenant's document is null, exactly like a missing one.
      const foreign = await gql(DOCUMENT, { id: docB }, { token: key.secret });
      expect(foreign.body).toMatchObject({ data: { document: null } });
      expect(foreign.body.errors).toBeUndefined();
    }
  });

  it('holds a JWT scope claim to the same rule; a JWT without one is unrestricted', async () => {
    const [a] = await twoTenants();
    const doc = await insertDocument(a.id, 'a.md');
    const chatOnly = await a.tokenFor('member', 'scoped-chat', { scope: 'chat' });
    expect(codeOf(await gql(DOCUMENTS, {}, { token: chatOnly }))).toBe('FORBIDDEN');
    expect(codeOf(await gql(COLLECTIONS, {}, { token: chatOnly }))).toBe('FORBIDDEN');
    expect(codeOf(await gql(DOCUMENT, { id: doc }, { token: chatOnly }))).toBe('FORBIDDEN');
    const searchScoped = await a.tokenFor('viewer', 'scoped-search', { scope: 'search' });
    expect((await gql(DOCUMENT, { id: doc }, { token: searchScoped })).body.data.document.name).toBe('a.md');
    const plain = await a.tokenFor('viewer');
    expect((await gql(DOCUMENTS, {}, { token: plain })).body.data.documents.edges).toHaveLength(1);
    expect((await gql(COLLECTIONS, {}, { token: plain })).body.errors).toBeUndefined();
  });
});
