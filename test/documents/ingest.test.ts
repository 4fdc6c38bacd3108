/** Ingestion and search through the Worker: happy paths, replacement, no-op, delete, sources. */
import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { codeOf, createTenant, gql } from '../helpers';
import {
  chunkCount, deliver, getDocument, hits, ingest, ingestProcessed, makePdf, MODES, originals, row, upload, vectorCount,
} from './doc-helpers';

const HANDBOOK = `# Employee handbook

## Holidays
Every employee gets twenty-five vacation days per year. Unused vacation days expire in March.

## Expenses
Travel expenses are reimbursed within thirty days when the receipt is uploaded to the portal.
`;

describe('ingestDocument → queue → search', () => {
  it('indexes inline Markdown and finds it in every mode, with citations', async () => {
    const t = await createTenant();
    const r = await ingest(t, { name: 'handbook.md', text: HANDBOOK, tags: ['hr'] });
    expect(r.body.errors).toBeUndefined();
    const doc = r.body.data.ingestDocument;
    expect(doc).toMatchObject({ name: 'handbook.md', status: 'PENDING', chunkCount: 0, mimeType: 'text/markdown', sourceType: 'text', tags: ['hr'] });
    expect(doc.contentHash).toMatch(/^[0-9a-f]{64}$/);
    // Nothing is searchable before processing.
    expect(await hits(t, { query: 'vacation days', mode: 'KEYWORD' })).toEqual([]);

    const q = await deliver(doc.id);
    expect(q.explicitAcks).toHaveLength(1);
    const done = await getDocument(t, doc.id);
    expect(done).toMatchObject({ status: 'COMPLETED', error: null });
    expect(done.chunkCount).toBeGreaterThanOrEqual(2);
    expect(await chunkCount(doc.id)).toBe(done.chunkCount);
    expect(await vectorCount(t.id)).toBe(done.chunkCount);

    for (const mode of MODES) {
      const found = await hits(t, { query: 'how many vacation days do I get', mode, topK: 3 });
      expect(found.length, mode).toBeGreaterThan(0);
      expect(found[0]!.text, mode).toContain('twenty-five vacation days');
      expect(found[0]!.heading, mode).toBe('Employee handbook › Holidays');
      expect(found[0]!.document).toEqual({ id: doc.id, name: 'handbook.md' });
      expect(found[0]!.page).toBeNull();
      expect(found[0]!.score).toBeGreaterThan(0);
      expect(found.map((h) => h.score)).toEqual([...found.map((h) => h.score)].sort((a, b) => b - a));
    }
    const expenses = await hits(t, { query: 'receipt reimbursed', mode: 'HYBRID', topK: 1 });
    expect(expenses).toHaveLength(1);
    expect(expenses[0]!.heading).toBe('Employee handbook › Expenses');
  });

  it('keeps the original in R2 under the tenant prefix', async () => {
    const t = await createTenant();
    const doc = await ingestProcessed(t, { name: 'a.txt', text: 'alpha beta gamma' });
    const keys = await originals(t.id, doc.id);
    // `<tenant>/<document>/<version>-<nonce>`: the nonce keeps concurrent write attempts apart.
    expect(keys).toEqual([(await row(doc.id))!.object_key]);
    expect(keys[0]).toMatch(new RegExp(`^${t.id}/${doc.id}/1-[0-9a-z]+$`));
    expect(await (await env.DOCUMENTS.get(keys[0]!))!.text()).toBe('alpha beta gamma');
  });

  it('treats the same content under the same name as a no-op', async () => {
    const t = await createTenant();
    const first = await ingestProcessed(t, { name: 'notes.txt', text: 'Quarterly revenue grew by nine percent.' });
    const before = await row(first.id);
    // Whitespace-only differences normalise to the same content.
    const again = await ingest(t, { name: 'notes.txt', text: 'Quarterly revenue grew by nine percent.\r\n\n' });
    expect(again.body.data.ingestDocument).toMatchObject({ id: first.id, status: 'COMPLETED', contentHash: first.contentHash });
    expect(await row(first.id)).toEqual(before);
    const audit = await env.DB.prepare("SELECT count(*) AS n FROM audit_log WHERE target_id = ?").bind(first.id).first<{ n: number }>();
    expect(audit!.n).toBe(1);
  });

  it('replaces changed content: old version searchable until the new one completes, then gone', async () => {
    const t = await createTenant();
    const v1 = await ingestProcessed(t, { name: 'policy.txt', text: 'The office closes at nine in the evening. Parking is free.' });
    const r = await ingest(t, { name: 'policy.txt', text: 'The office closes at six. Bicycles are welcome in the courtyard.' });
    const pending = r.body.data.ingestDocument;
    expect(pending).toMatchObject({ id: v1.id, status: 'PENDING' });
    expect(pending.contentHash).not.toBe(v1.contentHash);
    // Still the old version, never a mix.
    for (const mode of MODES) {
      expect((await hits(t, { query: 'parking free', mode })).map((h) => h.text), mode).toEqual([v1Text()]);
      expect(await hits(t, { query: 'bicycles courtyard', mode: 'KEYWORD' })).toEqual([]);
    }
    await deliver(v1.id);
    const v2 = await getDocument(t, v1.id);
    expect(v2.status).toBe('COMPLETED');
    for (const mode of MODES) {
      const found = await hits(t, { query: 'bicycles courtyard', mode });
      expect(found.map((h) => h.text), mode).toEqual(['The office closes at six. Bicycles are welcome in the courtyard.']);
      expect(found.every((h) => h.chunkId.startsWith(`${v1.id}:2:`))).toBe(true);
    }
    expect(await hits(t, { query: 'parking free', mode: 'KEYWORD' })).toEqual([]);
    // Old chunks, vectors and originals are cleaned up.
    expect(await chunkCount(v1.id)).toBe(v2.chunkCount);
    expect(await vectorCount(t.id)).toBe(v2.chunkCount);
    const left = await originals(t.id, v1.id);
    expect(left).toEqual([(await row(v1.id))!.object_key]);
    expect(left[0]).toMatch(new RegExp(`^${t.id}/${v1.id}/2-[0-9a-z]+$`));
    // A late duplicate of the first message is ignored.
    const docs = await gql('{ documents { edges { node { id } } } }', {}, { token: t.token });
    expect(docs.body.data.documents.edges).toHaveLength(1);
  });

  it('deletes rows, chunks, vectors and originals; gone from every mode', async () => {
    const t = await createTenant();
    const doc = await ingestProcessed(t, { name: 'gone.txt', text: 'Zebras migrate across the savanna every spring.' });
    const keep = await ingestProcessed(t, { name: 'kept.txt', text: 'Penguins huddle together in the antarctic winter.' });
    const r = await gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id: doc.id }, { token: t.token });
    expect(r.body).toEqual({ data: { deleteDocument: true }, extensions: expect.anything() });
    for (const mode of MODES) {
      const found = await hits(t, { query: 'zebras migrate savanna', mode, topK: 10 });
      expect(found.filter((h) => h.document.id === doc.id), mode).toEqual([]);
    }
    expect(await getDocument(t, doc.id)).toBeNull();
    expect(await chunkCount(doc.id)).toBe(0);
    expect(await vectorCount(t.id)).toBe(keep.chunkCount);
    expect(await originals(t.id, doc.id)).toEqual([]);
    const again = await gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id: doc.id }, { token: t.token });
    expect(codeOf(again)).toBe('NOT_FOUND');
  });

  it('accepts a multipart file upload (Markdown)', async () => {
    const t = await createTenant();
    const file = new File(['# Guide\n\n## Setup\nInstall the widget with the blue cable.\n'], 'guide.md', { type: 'text/markdown' });
    const r = await upload(t, { name: 'Guide' }, file);
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.ingestDocument).toMatchObject({ name: 'Guide', sourceType: 'file', mimeType: 'text/markdown', status: 'PENDING' });
    await deliver(r.body.data.ingestDocument.id);
    const found = await hits(t, { query: 'blue cable', mode: 'HYBRID' });
    expect(found[0]).toMatchObject({ heading: 'Guide › Setup', text: 'Install the widget with the blue cable.' });
  });

  it('extracts PDF text per page and cites the page', async () => {
    const t = await createTenant();
    const pdf = makePdf(['Chapter one talks about lighthouses.', 'Chapter two is about submarines and sonar.']);
    const r = await upload(t, { name: 'book' }, new File([pdf], 'book.pdf', { type: 'application/pdf' }));
    expect(r.body.errors).toBeUndefined();
    const id = r.body.data.ingestDocument.id;
    await deliver(id);
    expect((await getDocument(t, id)).status).toBe('COMPLETED');
    for (const mode of MODES) {
      const found = await hits(t, { query: 'submarines sonar', mode, topK: 1 });
      expect(found[0], mode).toMatchObject({ page: 2 });
      expect(found[0]!.text).toContain('submarines');
    }
  });

  it('extracts HTML without scripts and with headings', async () => {
    const t = await createTenant();
    const html = '<html><head><title>x</title><script>var secretToken = 1;</script></head><body><h1>Returns</h1><p>Items can be returned within &amp; up to 14 days.</p></body></html>';
    const doc = await ingestProcessed(t, { name: 'returns.html', text: html });
    expect(doc.status).toBe('COMPLETED');
    const found = await hits(t, { query: 'returned days', mode: 'KEYWORD' });
    expect(found[0]).toMatchObject({ heading: 'Returns', text: 'Items can be returned within & up to 14 days.' });
    expect(await hits(t, { query: 'secretToken', mode: 'KEYWORD' })).toEqual([]);
  });

  describe('from a URL', () => {
    afterEach(() => vi.unstubAllGlobals());
    const real = globalThis.fetch;
    const stubHost = (body: string, headers: Record<string, string>, status = 200) =>
      vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        if (url.host !== 'docs.example.test') return real(input, init);
        return new Response(body, { status, headers });
      });

    it('fetches, detects the type and indexes it', async () => {
      const t = await createTenant();
      stubHost('# FAQ\n\nOur support line answers around the clock.', { 'content-type': 'text/markdown; charset=utf-8' });
      const r = await ingest(t, { name: 'faq', url: 'https://docs.example.test/faq.md' });
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data.ingestDocument).toMatchObject({ sourceType: 'url', mimeType: 'text/markdown' });
      await deliver(r.body.data.ingestDocument.id);
      expect((await hits(t, { query: 'support line', mode: 'KEYWORD' }))[0]?.heading).toBe('FAQ');
    });

    it('refuses non-http schemes, error statuses and oversized bodies', async () => {
      const t = await createTenant({ limits: { maxDocumentBytes: 1000 } });
      expect(codeOf(await ingest(t, { name: 'x', url: 'ftp://docs.example.test/a.txt' }))).toBe('BAD_USER_INPUT');
      expect(codeOf(await ingest(t, { name: 'x', url: 'not a url' }))).toBe('BAD_USER_INPUT');
      stubHost('missing', { 'content-type': 'text/plain' }, 404);
      expect(codeOf(await ingest(t, { name: 'x', url: 'https://docs.example.test/a.txt' }))).toBe('BAD_USER_INPUT');
      stubHost('x'.repeat(5000), { 'content-type': 'text/plain' });
      const big = await ingest(t, { name: 'x', url: 'https://docs.example.test/a.txt' });
      expect(codeOf(big)).toBe('PAYLOAD_TOO_LARGE');
      stubHost('<binary>', { 'content-type': 'image/png' });
      expect(codeOf(await ingest(t, { name: 'x', url: 'https://docs.example.test/a.png' }))).toBe('BAD_USER_INPUT');
    });
  });
});

function v1Text() {
  return 'The office closes at nine in the evening. Parking is free.';
}
