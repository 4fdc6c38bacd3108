/**
 * The openai-SDK embedding path and provider failures. Runs in the "openai" vitest
 * project: the Worker has OPENAI_API_KEY and OPENAI_BASE_URL=https://fake-openai.test/v1,
 * and this file replaces globalThis.fetch for that host only (the Worker shares the
 * test's isolate), so the real SDK talks to a fake OpenAI-compatible endpoint. The fake
 * fails deterministically by content (a POISON marker), so background queue deliveries
 * and the deliveries driven here see the same provider.
 */
import { env } from 'cloudflare:test';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { embedAll } from '../../src/ai/embeddings';
import { OfflineEmbeddings } from '../../src/ai/offline-embeddings';
import { OpenAIEmbeddings } from '../../src/ai/openai-embeddings';
import { createTenant } from '../helpers';
import { chunkCount, deliver, getDocument, hits, ingest, MODES, search, vectorCount } from './doc-helpers';

const HOST = 'fake-openai.test';
const offline = new OfflineEmbeddings(384);
let calls: { inputs: string[]; body: any; authorization: string | null }[] = [];
let failWith: number | null = null;

beforeEach(() => {
  calls = [];
  failWith = null;
});
// Installed for the whole file: queue deliveries in the background must meet the same fake.
beforeAll(() => {
  const real = globalThis.fetch;
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    if (url.host !== HOST) return real(input, init);
    if (url.pathname !== '/v1/embeddings') return new Response('not found', { status: 404 });
    const body = (await req.json()) as { input: string[]; model: string; dimensions?: number };
    calls.push({ inputs: body.input, body, authorization: req.headers.get('authorization') });
    if (failWith || body.input.some((t) => t.includes('POISON'))) {
      return new Response(JSON.stringify({ error: { message: 'upstream down', type: 'server_error' } }), {
        status: failWith ?? 500,
        headers: { 'content-type': 'application/json' },
      });
    }
    return Response.json({
      object: 'list',
      model: body.model,
      data: body.input.map((t, index) => ({ object: 'embedding', index, embedding: Array.from(offline.vector(t)) })),
      usage: { prompt_tokens: 7 * body.input.length, total_tokens: 7 * body.input.length },
    });
  });
});
afterAll(() => vi.unstubAllGlobals());

const workerEnv = () => env as unknown as Record<string, unknown>;

describe('openai embeddings', () => {
  it('batches: one call per batch of at most 96 inputs, with model, dimensions and key', async () => {
    const p = new OpenAIEmbeddings({ apiKey: 'sk-unit', baseUrl: `https://${HOST}/v1`, model: 'text-embedding-3-small', dimensions: 384 });
    const texts = Array.from({ length: 200 }, (_, i) => `text number ${i}`);
    const r = await embedAll(p, texts);
    expect(calls.map((c) => c.inputs.length)).toEqual([96, 96, 8]);
    expect(calls[0]!.body).toMatchObject({ model: 'text-embedding-3-small', dimensions: 384, encoding_format: 'float' });
    expect(calls[0]!.authorization).toBe('Bearer sk-unit');
    expect(r.vectors).toHaveLength(200);
    expect(r.vectors[5]).toEqual(Array.from(offline.vector('text number 5')));
    expect(r.tokens).toBe(1400);
  });

  it('refuses vectors of the wrong size as a non-retryable error', async () => {
    const p = new OpenAIEmbeddings({ apiKey: 'k', baseUrl: `https://${HOST}/v1`, model: 'text-embedding-3-small', dimensions: 512 });
    await expect(p.embed(['a'])).rejects.toMatchObject({ name: 'EmbeddingProviderError', retryable: false });
    failWith = 429;
    await expect(p.embed(['a'])).rejects.toMatchObject({ retryable: true });
    failWith = 401;
    await expect(p.embed(['a'])).rejects.toMatchObject({ retryable: false });
  });

  it('indexes a document through the provider and searches with it', async () => {
    const t = await createTenant();
    const r = await ingest(t, { name: 'gardening.txt', text: 'Tomatoes need six hours of direct sunlight every day.' });
    const id = r.body.data.ingestDocument.id;
    await deliver(id);
    expect((await getDocument(t, id)).status).toBe('COMPLETED');
    expect(calls.some((c) => c.inputs.some((i) => i.includes('Tomatoes need six hours')))).toBe(true);
    for (const mode of MODES) expect((await hits(t, { query: 'tomatoes sunlight', mode }))[0]?.document.id, mode).toBe(id);
  });
});

describe('search when the provider fails', () => {
  it('VECTOR answers UPSTREAM_UNAVAILABLE; HYBRID falls back to its keyword half', async () => {
    const t = await createTenant();
    const r = await ingest(t, { name: 'bees.txt', text: 'Honey bees dance to share the location of flowers.' });
    await deliver(r.body.data.ingestDocument.id);
    failWith = 503;
    const v = await search(t, { query: 'bees dance', mode: 'VECTOR' });
    expect(v.body.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    const h = await search(t, { query: 'bees dance', mode: 'HYBRID' });
    expect(h.body.errors).toBeUndefined();
    expect(h.body.data!.search.hits.map((x) => x.text)).toEqual(['Honey bees dance to share the location of flowers.']);
  });
});

describe('provider failures', () => {
  // Enough text for several embedding batches; the poisoned chunk is in a later batch,
  // so earlier batches succeed before the failure.
  const longText = (poison: boolean) =>
    Array.from({ length: 2000 }, (_, i) => `Paragraph ${i} describes inventory item ${i} in the north warehouse with care and detail.${poison && i === 1990 ? ' POISON' : ''}`)
      .join('\n\n');

  it('retries with backoff, then ends FAILED with a readable error and no chunks or vectors', async () => {
    const t = await createTenant();
    const r = await ingest(t, { name: 'inventory.txt', text: longText(true) });
    const id = r.body.data.ingestDocument.id;
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 4; attempt++) {
      const q = await deliver(id, { attempts: attempt, workerEnv: workerEnv() });
      expect(q.retryMessages, `attempt ${attempt}`).toHaveLength(1);
      expect(q.explicitAcks).toEqual([]);
      delays.push(q.delays[0]!);
      const doc = await getDocument(t, id);
      expect(doc.status).toBe('PENDING');
      expect(doc.error).toMatch(new RegExp(`^Attempt ${attempt} failed: Embedding provider failed \\(HTTP 500\\)\\.; retrying\\.$`));
    }
    expect(delays).toEqual([10, 20, 40, 80]);
    expect(calls.filter((c) => c.inputs.length === 96).length).toBeGreaterThan(0); // earlier batches did succeed
    const last = await deliver(id, { attempts: 5 });
    expect(last.explicitAcks).toHaveLength(1);
    const doc = await getDocument(t, id);
    expect(doc).toMatchObject({ status: 'FAILED', chunkCount: 0 });
    expect(doc.error).toBe('Embedding provider failed (HTTP 500). (gave up after 5 attempts)');
    expect(await chunkCount(id)).toBe(0);
    expect(await vectorCount(t.id)).toBe(0);
    for (const mode of MODES) expect(await hits(t, { query: 'inventory north warehouse', mode }), mode).toEqual([]);
  });

  it('fails at once on a non-retryable provider error', async () => {
    const t = await createTenant();
    failWith = 401;
    const r = await ingest(t, { name: 'x.txt', text: 'Some text to embed.' });
    const id = r.body.data.ingestDocument.id;
    const q = await deliver(id, { attempts: 1 });
    expect(q.explicitAcks).toHaveLength(1);
    expect(await getDocument(t, id)).toMatchObject({ status: 'FAILED', error: 'Embedding provider failed (HTTP 401).' });
  });

  it('a failed replacement leaves the previous version searchable', async () => {
    const t = await createTenant();
    const r1 = await ingest(t, { name: 'stock.txt', text: 'Ball bearings are stocked in aisle seven.' });
    const id = r1.body.data.ingestDocument.id;
    await deliver(id);
    expect((await getDocument(t, id)).status).toBe('COMPLETED');
    await ingest(t, { name: 'stock.txt', text: 'Ball bearings moved to aisle nine. POISON' });
    await deliver(id, { attempts: 5 });
    const doc = await getDocument(t, id);
    expect(doc.status).toBe('FAILED');
    for (const mode of MODES) {
      expect((await hits(t, { query: 'ball bearings aisle', mode })).map((h) => h.text), mode).toEqual(['Ball bearings are stocked in aisle seven.']);
    }
    expect(await chunkCount(id)).toBe(1);
  });

  it('the dead-letter consumer marks the document FAILED', async () => {
    const t = await createTenant();
    const r = await ingest(t, { name: 'dlq.txt', text: 'Never processed. POISON' });
    const id = r.body.data.ingestDocument.id;
    await deliver(id, { attempts: 1 });
    const q = await deliver(id, { queue: 'edgerag-ingest-dlq' });
    expect(q.explicitAcks).toHaveLength(1);
    const doc = await getDocument(t, id);
    expect(doc.status).toBe('FAILED');
    expect(doc.error).toBe('Processing gave up after repeated failures. Last error: Embedding provider failed (HTTP 500).');
    expect(await chunkCount(id)).toBe(0);
  });
});
