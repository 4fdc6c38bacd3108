/**
 * PDF page-tree bombs and derived storage (issue 9, item 6). A page tree that lists one child
 * over and over declares thousands of pages in about a kilobyte; pdf.js takes the count from
 * the tree and would extract every one. The plan's maxPdfPages refuses such a file before any
 * page is read, PDFs are read page by page and stop at the chunk cap, and the extracted text
 * (the chunks D1 stores) counts against storedBytes with the original.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { DEFAULT_PLANS } from '../../src/env';
import { consumeIngestBatch } from '../../src/rag/ingest-consumer';
import { ingestConsumerDeps } from '../../src/services';
import { createTenant, gql, twoTenants, type TestTenant } from '../helpers';
import { chunkCount, deliver, getDocument, makePageTreeBomb, makePdf, messageFor, upload, vectorCount } from './doc-helpers';

const usage = async (t: TestTenant): Promise<{ documents: number; storedBytes: number }> =>
  (await gql('{ usage { documents storedBytes } }', {}, { token: t.token })).body.data.usage;

const uploadPdf = async (t: TestTenant, name: string, pdf: Uint8Array<ArrayBuffer>) => {
  const r = await upload(t, { name }, new File([pdf], `${name}.pdf`, { type: 'application/pdf' }));
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data.ingestDocument.id as string;
};

/** Sum of the UTF-8 bytes of a document's stored chunk texts. */
const chunkTextBytes = async (documentId: string): Promise<number> => {
  const rows = (await env.DB.prepare('SELECT text FROM chunks WHERE document_id = ?').bind(documentId).all<{ text: string }>()).results;
  return rows.reduce((n, r) => n + new TextEncoder().encode(r.text).byteLength, 0);
};

describe('PDF page cap (plan maxPdfPages)', () => {
  it('is part of every plan', () => {
    expect(DEFAULT_PLANS.free.maxPdfPages).toBe(200);
    expect(DEFAULT_PLANS.starter.maxPdfPages).toBe(1_000);
    expect(DEFAULT_PLANS.pro.maxPdfPages).toBe(2_000);
    expect(DEFAULT_PLANS.enterprise.maxPdfPages).toBe(5_000);
  });

  it('fails a 1 KB page-tree bomb declaring 10,000 pages before reading a page: no chunks, no vectors; the other tenant is untouched', async () => {
    const [a, b] = await twoTenants({ plan: 'free' });
    const bomb = makePageTreeBomb(4, 10);
    expect(bomb.byteLength).toBeLessThan(2_000);
    const id = await uploadPdf(a, 'bomb', bomb);
    const good = await uploadPdf(b, 'good', makePdf(['A perfectly ordinary page.']));
    expect(await deliver(id)).toMatchObject({ explicitAcks: [expect.any(String)], retryMessages: [] });
    await deliver(good);
    expect(await getDocument(a, id)).toMatchObject({
      status: 'FAILED', chunkCount: 0, indexedBytes: 0,
      error: 'The PDF has 10000 pages; this plan allows at most 200 pages per PDF.',
    });
    expect(await chunkCount(id)).toBe(0);
    expect(await vectorCount(a.id)).toBe(0);
    // Only the original counts.
    expect(await usage(a)).toEqual({ documents: 1, storedBytes: bomb.byteLength });
    expect(await getDocument(b, good)).toMatchObject({ status: 'COMPLETED', chunkCount: 1 });
    expect(await getDocument(b, id)).toBeNull();
  });

  it('follows a per-tenant override: at the cap the PDF is read, one page over it is refused', async () => {
    const t = await createTenant({ limits: { maxPdfPages: 3 } });
    const three = await uploadPdf(t, 'three', makePdf(['Page one.', 'Page two.', 'Page three.']));
    const four = await uploadPdf(t, 'four', makePdf(['Page one.', 'Page two.', 'Page three.', 'Page four.']));
    await deliver(three);
    await deliver(four);
    expect(await getDocument(t, three)).toMatchObject({ status: 'COMPLETED', chunkCount: 3 });
    expect(await getDocument(t, four)).toMatchObject({ status: 'FAILED', error: 'The PDF has 4 pages; this plan allows at most 3 pages per PDF.' });
  });

  it('a bomb under a generous page cap is stopped by the processing budget, and only that document fails', async () => {
    const [a, b] = await twoTenants({ limits: { maxPdfPages: 100_000 } });
    const bomb = await uploadPdf(a, 'bomb', makePageTreeBomb(4, 10));
    const good = await uploadPdf(b, 'good', makePdf(['The cafeteria opens at eight.']));
    // One batch, the hostile document first: each message is settled on its own.
    const messages = [await messageFor(bomb), await messageFor(good)].map((body) => ({ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body }));
    const batch = createMessageBatch('edgerag-ingest', messages);
    const ctx = createExecutionContext();
    await (worker as ExportedHandler<Env>).queue!(batch as MessageBatch<unknown>, env as Env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.sort()).toEqual(messages.map((m) => m.id).sort());
    expect(result.retryMessages).toEqual([]);
    const failed = await getDocument(a, bomb);
    expect(failed).toMatchObject({ status: 'FAILED', chunkCount: 0 });
    expect(failed.error).toMatch(/^Extracting the text needed more processing than a document of this size may use, and was stopped/);
    expect(await chunkCount(bomb)).toBe(0);
    expect(await getDocument(b, good)).toMatchObject({ status: 'COMPLETED', chunkCount: 1 });
  });
});

describe('PDFs are read page by page', () => {
  it('stop at the chunk cap: the pages after it are never read', async () => {
    const t = await createTenant();
    const id = await uploadPdf(t, 'long', makePdf(Array.from({ length: 10 }, (_, i) => `This is page number ${i + 1}.`)));
    const body = await messageFor(id);
    const batch = createMessageBatch('edgerag-ingest', [{ id: 'm1', timestamp: new Date(), attempts: 1, body }]);
    await consumeIngestBatch(batch as MessageBatch<unknown>, { ...ingestConsumerDeps(env as never), maxChunks: 3 }, false);
    expect(await getDocument(t, id)).toMatchObject({
      status: 'FAILED', chunkCount: 0, error: 'The document produces more than 3 chunks (stopped reading at page 4 of 10).',
    });
    expect(await chunkCount(id)).toBe(0);
  });
});

describe('derived storage counts against storedBytes', () => {
  it('a completed PDF counts its original and its chunk text; deleting gives both back', async () => {
    const [a, b] = await twoTenants();
    const pdf = makePdf(['Chapter one talks about lighthouses.', 'Chapter two is about submarines and sonar.']);
    const id = await uploadPdf(a, 'book', pdf);
    expect(await usage(a)).toEqual({ documents: 1, storedBytes: pdf.byteLength });
    await deliver(id);
    const doc = await getDocument(a, id);
    expect(doc.status).toBe('COMPLETED');
    const derived = await chunkTextBytes(id);
    expect(derived).toBeGreaterThan(60);
    expect(doc.indexedBytes).toBe(derived);
    expect(await usage(a)).toEqual({ documents: 1, storedBytes: pdf.byteLength + derived });
    expect(await usage(b)).toEqual({ documents: 0, storedBytes: 0 });
    const del = await gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id }, { token: a.token });
    expect(del.body.data).toEqual({ deleteDocument: true });
    expect(await usage(a)).toEqual({ documents: 0, storedBytes: 0 });
  });

  it('a small PDF that expands past the stored-bytes quota fails, and the quota holds only the original', async () => {
    const bomb = makePageTreeBomb(2, 10, 'Every repeated page adds this sentence to the index once more.');
    // The original fits; its 100 pages of extracted text (about 6 KB) do not.
    const [a, b] = await twoTenants({ limits: { storedBytes: bomb.byteLength + 1_000 } });
    const id = await uploadPdf(a, 'bomb', bomb);
    await deliver(id);
    expect(await getDocument(a, id)).toMatchObject({
      status: 'FAILED', chunkCount: 0, indexedBytes: 0, error: 'The stored bytes quota is exhausted: the extracted text does not fit.',
    });
    expect(await chunkCount(id)).toBe(0);
    expect(await vectorCount(a.id)).toBe(0);
    expect(await usage(a)).toEqual({ documents: 1, storedBytes: bomb.byteLength });
    expect(await usage(b)).toEqual({ documents: 0, storedBytes: 0 });
  });
});
