/**
 * Empty or blank ids and tags are BAD_USER_INPUT naming the field, never read as "none
 * given": collectionId "" is not "no collection", conversationId "" is not "a new
 * conversation", tags [""] are not accepted.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ask, askStream } from '../chat/chat-helpers';
import { ingest, search } from '../documents/doc-helpers';
import { codeOf, gql, twoTenants, type GqlResult } from '../helpers';

const fieldOf = (r: GqlResult) => r.body.errors?.[0]?.extensions?.field;
const documentCount = async (tenantId: string) =>
  (await env.DB.prepare('SELECT count(*) AS n FROM documents WHERE tenant_id = ?').bind(tenantId).first<{ n: number }>())!.n;
const conversationCount = async (tenantId: string) =>
  (await env.DB.prepare('SELECT count(*) AS n FROM conversations WHERE tenant_id = ?').bind(tenantId).first<{ n: number }>())!.n;

describe('ingestDocument', () => {
  it('refuses an empty or blank collectionId and empty tags; a malformed or foreign id stays NOT_FOUND', async () => {
    const [a, b] = await twoTenants();
    for (const collectionId of ['', '   ']) {
      const r = await ingest(a, { name: 'x.md', text: 'hello', collectionId });
      expect(codeOf(r), JSON.stringify(collectionId)).toBe('BAD_USER_INPUT');
      expect(fieldOf(r)).toBe('collectionId');
      expect(r.status).toBe(400);
    }
    for (const tags of [[''], ['ok', '  ']]) {
      const r = await ingest(a, { name: 'x.md', text: 'hello', tags });
      expect(codeOf(r), JSON.stringify(tags)).toBe('BAD_USER_INPUT');
      expect(fieldOf(r)).toBe('tags');
    }
    expect(await documentCount(a.id)).toBe(0);

    const theirs = (await gql('mutation { createCollection(input: { name: "b" }) { id } }', {}, { token: b.token })).body.data.createCollection.id;
    for (const collectionId of ['not-a-uuid', theirs]) expect(codeOf(await ingest(a, { name: 'x.md', text: 'hello', collectionId }))).toBe('NOT_FOUND');

    const ok = await ingest(a, { name: 'x.md', text: 'hello', tags: ['ok'] });
    expect(ok.body.data.ingestDocument.tags).toEqual(['ok']);
  });
});

describe('search and ask filters', () => {
  it('refuses empty ids and tags in search filters, naming the list', async () => {
    const [a] = await twoTenants();
    const cases: [Record<string, unknown>, string][] = [
      [{ collectionIds: [''] }, 'filter.collectionIds'],
      [{ documentIds: ['  '] }, 'filter.documentIds'],
      [{ collectionIds: [crypto.randomUUID(), ''] }, 'filter.collectionIds'],
      [{ tags: [''] }, 'filter.tags'],
    ];
    for (const [filter, field] of cases) {
      const r = await search(a, { query: 'hello', filter });
      expect(codeOf(r), JSON.stringify(filter)).toBe('BAD_USER_INPUT');
      expect(fieldOf(r)).toBe(field);
    }
    expect((await search(a, { query: 'hello', filter: { collectionIds: [crypto.randomUUID()] } })).body.data!.search.hits).toEqual([]);
  });

  it('refuses an empty conversationId and empty filter values in ask and askStream, storing nothing', async () => {
    const [a, b] = await twoTenants();
    for (const conversationId of ['', ' ']) {
      const r = await ask(a.token, { question: 'What is the refund policy?', conversationId });
      expect(codeOf(r)).toBe('BAD_USER_INPUT');
      expect(fieldOf(r)).toBe('conversationId');
      const s = await askStream(a.token, { question: 'What is the refund policy?', conversationId });
      expect(s.errors[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(s.errors[0]?.extensions?.field).toBe('conversationId');
    }
    const filtered = await ask(a.token, { question: 'What is the refund policy?', filter: { collectionIds: [''] } });
    expect(fieldOf(filtered)).toBe('filter.collectionIds');
    expect(await conversationCount(a.id)).toBe(0);

    // A real id of another tenant is still NOT_FOUND, and omitting the id starts a conversation.
    const theirs = (await ask(b.token, { question: 'Hello?' })).body.data.ask.conversation.id;
    expect(codeOf(await ask(a.token, { question: 'Hello?', conversationId: theirs }))).toBe('NOT_FOUND');
    expect((await ask(a.token, { question: 'Hello?' })).body.errors).toBeUndefined();
    expect(await conversationCount(a.id)).toBe(1);
  });
});

describe('documents(filter)', () => {
  it('refuses an empty collectionId or tag instead of ignoring the filter', async () => {
    const [a] = await twoTenants();
    const q = 'query($filter: DocumentFilter) { documents(filter: $filter) { edges { node { id } } } }';
    expect(fieldOf(await gql(q, { filter: { collectionId: '' } }, { token: a.token }))).toBe('filter.collectionId');
    expect(fieldOf(await gql(q, { filter: { tag: ' ' } }, { token: a.token }))).toBe('filter.tag');
    expect((await gql(q, { filter: { collectionId: crypto.randomUUID() } }, { token: a.token })).body.data.documents.edges).toEqual([]);
  });
});
