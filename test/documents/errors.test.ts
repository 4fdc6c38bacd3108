/** ingestDocument / deleteDocument / search: input errors, limits and permissions. */
import { describe, expect, it } from 'vitest';
import { codeOf, createApiKey, createTenant, gql } from '../helpers';
import { ingest, ingestProcessed, search, upload } from './doc-helpers';

describe('ingestDocument errors', () => {
  it('needs exactly one of text, file or url, and a name', async () => {
    const t = await createTenant();
    for (const input of [{ name: 'x' }, { name: 'x', text: 'a', url: 'https://example.com/a' }, { name: '  ', text: 'a' }, { name: 'x'.repeat(201), text: 'a' }]) {
      const r = await ingest(t, input);
      expect(codeOf(r), JSON.stringify(input)).toBe('BAD_USER_INPUT');
      expect(r.status).toBe(400);
    }
  });

  it('refuses empty content, bad tags and bad metadata', async () => {
    const t = await createTenant();
    expect(codeOf(await ingest(t, { name: 'x', text: '   \n\n ' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await ingest(t, { name: 'x', text: 'a', tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await ingest(t, { name: 'x', text: 'a', metadata: [1, 2] }))).toBe('BAD_USER_INPUT');
  });

  it('answers NOT_FOUND for an unknown collection and for another tenant’s collection', async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    const col = await gql('mutation { createCollection(input: { name: "b-docs" }) { id } }', {}, { token: b.token });
    const other = col.body.data.createCollection.id;
    for (const collectionId of [crypto.randomUUID(), other]) {
      const r = await ingest(a, { name: 'x', text: 'hello', collectionId });
      expect(codeOf(r)).toBe('NOT_FOUND');
      expect(r.body.errors![0]!.message).toBe('Collection not found');
    }
  });

  it('enforces the plan’s document size (PAYLOAD_TOO_LARGE, 413)', async () => {
    const t = await createTenant({ limits: { maxDocumentBytes: 100 } });
    const r = await ingest(t, { name: 'big', text: 'x'.repeat(101) });
    expect(codeOf(r)).toBe('PAYLOAD_TOO_LARGE');
    expect(r.status).toBe(413);
    const u = await upload(t, { name: 'big' }, new File(['y'.repeat(500)], 'big.txt', { type: 'text/plain' }));
    expect(u.body.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
    expect(codeOf(await ingest(t, { name: 'ok', text: 'x'.repeat(100) }))).toBeUndefined();
  });

  it('refuses unsupported file types and a fake PDF', async () => {
    const t = await createTenant();
    const png = await upload(t, { name: 'img' }, new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], 'a.png', { type: 'image/png' }));
    expect(png.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const fake = await upload(t, { name: 'fake' }, new File(['not a pdf at all'], 'a.pdf', { type: 'application/pdf' }));
    expect(fake.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('permissions', () => {
  it('viewers search but cannot ingest or delete', async () => {
    const t = await createTenant();
    const doc = await ingestProcessed(t, { name: 'a', text: 'orchids need indirect light' });
    const viewer = await t.tokenFor('viewer');
    expect(codeOf(await ingest(t, { name: 'b', text: 'x' }, viewer))).toBe('FORBIDDEN');
    expect(codeOf(await gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id: doc.id }, { token: viewer }))).toBe('FORBIDDEN');
    const r = await search(t, { query: 'orchids', mode: 'KEYWORD' }, viewer);
    expect(r.body.data!.search.hits).toHaveLength(1);
  });

  it('members ingest; API keys need the ingest / search scope', async () => {
    const t = await createTenant();
    const member = await t.tokenFor('member');
    expect(codeOf(await ingest(t, { name: 'm', text: 'member text' }, member))).toBeUndefined();
    const searchOnly = await createApiKey(t, ['SEARCH']);
    expect(codeOf(await ingest(t, { name: 'k', text: 'key text' }, searchOnly.secret))).toBe('FORBIDDEN');
    expect(codeOf(await search(t, { query: 'member' }, searchOnly.secret))).toBeUndefined();
    const ingestOnly = await createApiKey(t, ['INGEST']);
    expect(codeOf(await ingest(t, { name: 'k', text: 'key text' }, ingestOnly.secret))).toBeUndefined();
    expect(codeOf(await search(t, { query: 'member' }, ingestOnly.secret))).toBe('FORBIDDEN');
  });

  it('needs a credential', async () => {
    const r = await gql('query { search(input: { query: "x" }) { hits { text } } }', {}, { token: null });
    expect(codeOf(r)).toBe('UNAUTHENTICATED');
  });
});

describe('search input', () => {
  it('caps topK at 1..50 and refuses an empty query', async () => {
    const t = await createTenant();
    for (const input of [{ query: 'x', topK: 0 }, { query: 'x', topK: 51 }, { query: '   ' }, { query: 'x'.repeat(2001) }]) {
      expect(codeOf(await search(t, input)), JSON.stringify(input).slice(0, 40)).toBe('BAD_USER_INPUT');
    }
    expect(codeOf(await search(t, { query: 'x', topK: 50 }))).toBeUndefined();
  });

  it('treats FTS5 syntax in the query as plain words', async () => {
    const t = await createTenant();
    await ingestProcessed(t, { name: 'q', text: 'Quotes and NEAR operators: col:value and star* are just words here.' });
    for (const query of ['"unbalanced', 'NEAR(a b', 'text:foo', 'a AND OR NOT', '*', '^start', 'x") OR 1=1 --', "'; DROP TABLE chunks; --", '((((']) {
      for (const mode of ['KEYWORD', 'HYBRID'] as const) {
        const r = await search(t, { query, mode });
        expect(r.body.errors, `${mode} ${query}`).toBeUndefined();
      }
    }
    const r = await search(t, { query: 'NEAR operators', mode: 'KEYWORD' });
    expect(r.body.data!.search.hits).toHaveLength(1);
  });
});
