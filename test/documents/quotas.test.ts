/** Plan limits through the TenantGuard: documents, stored bytes and embedding tokens. */
import { describe, expect, it } from 'vitest';
import { codeOf, createTenant, gql, twoTenants } from '../helpers';
import { deliver, getDocument, ingest, ingestProcessed } from './doc-helpers';

const usage = async (token: string) =>
  (await gql('{ usage { documents storedBytes embeddingTokens documentLimit } }', {}, { token })).body.data.usage;

describe('ingestion quotas', () => {
  it('counts documents and stored bytes up on ingest and down on delete, per tenant', async () => {
    const [a, b] = await twoTenants();
    const doc = await ingestProcessed(a, { name: 'a.txt', text: 'twelve bytes' });
    const after = await usage(a.token);
    // The original and its extracted text (one chunk: the whole text) both count.
    expect(doc.indexedBytes).toBe(12);
    expect(after).toMatchObject({ documents: 1, storedBytes: 12 + 12 });
    expect(after.embeddingTokens).toBeGreaterThan(0);
    expect(await usage(b.token)).toMatchObject({ documents: 0, storedBytes: 0, embeddingTokens: 0 });
    // A replacement changes stored bytes only; a no-op changes nothing.
    await ingest(a, { name: 'a.txt', text: 'twenty-two bytes long!' });
    await ingest(a, { name: 'a.txt', text: 'twenty-two bytes long!' });
    expect(await usage(a.token)).toMatchObject({ documents: 1, storedBytes: 22 + 12 });
    await deliver(doc.id);
    expect(await usage(a.token)).toMatchObject({ documents: 1, storedBytes: 22 + 22 });
    await gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id: doc.id }, { token: a.token });
    expect(await usage(a.token)).toMatchObject({ documents: 0, storedBytes: 0 });
  });

  it('refuses a document over the plan’s document count with QUOTA_EXCEEDED', async () => {
    const t = await createTenant({ limits: { documents: 1 } });
    expect(codeOf(await ingest(t, { name: 'one', text: 'first' }))).toBeUndefined();
    const r = await ingest(t, { name: 'two', text: 'second' });
    expect(codeOf(r)).toBe('QUOTA_EXCEEDED');
    expect(r.status).toBe(429);
    // Replacing the existing document is not a new document.
    expect(codeOf(await ingest(t, { name: 'one', text: 'first, edited' }))).toBeUndefined();
  });

  it('ends FAILED when the embedding token quota cannot cover the document', async () => {
    const t = await createTenant({ limits: { monthlyEmbeddingTokens: 5 } });
    const r = await ingest(t, { name: 'long', text: 'This sentence certainly needs more than five embedding tokens to embed.' });
    const id = r.body.data.ingestDocument.id;
    await deliver(id);
    expect(await getDocument(t, id)).toMatchObject({ status: 'FAILED', error: 'The monthly embedding token quota is exhausted.', chunkCount: 0 });
  });
});
