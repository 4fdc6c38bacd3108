/**
 * Optional reranking through a fake `/rerank` server (Cohere / Jina / vLLM request shape),
 * installed by replacing globalThis.fetch for its host only: the Worker runs in the test's
 * isolate. The Worker is called with RERANK_URL set for these requests only.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import worker from '../../src/index';
import { twoTenants, type TestTenant } from '../helpers';
import { ingestProcessed } from '../documents/doc-helpers';

const HOST = 'fake-rerank.test';
const RERANK_ENV = { RERANK_URL: `https://${HOST}/v1/rerank`, RERANK_MODEL: 'fake-cross-encoder', RERANK_API_KEY: 'rk-test' };

interface RerankCall {
  body: { model: string; query: string; documents: string[]; top_n: number };
  authorization: string | null;
}
let calls: RerankCall[] = [];
let reply: (body: RerankCall['body']) => Response;
/** Scores a document 1 when it says "preferred", else 0.1: the opposite of the fused order below. */
const preferMarked = (body: RerankCall['body']) =>
  Response.json({ results: body.documents.map((d, index) => ({ index, relevance_score: d.includes('preferred') ? 1 : 0.1 })), usage: { total_tokens: 123 } });

beforeEach(() => {
  calls = [];
  reply = preferMarked;
  const real = globalThis.fetch;
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init);
    if (new URL(req.url).host !== HOST) return real(input as RequestInfo, init);
    const body = (await req.json()) as RerankCall['body'];
    calls.push({ body, authorization: req.headers.get('authorization') });
    return reply(body);
  });
});
afterEach(() => vi.restoreAllMocks());

/** One GraphQL request through the Worker with extra vars; waits for its waitUntil work (usage records). */
async function call(t: TestTenant, query: string, variables: Record<string, unknown>, extra: Record<string, string> = RERANK_ENV) {
  const request = new Request('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${t.token}` },
    body: JSON.stringify({ query, variables }),
  });
  const ctx = createExecutionContext();
  const res = await (worker as ExportedHandler<Env>).fetch!(request as Request<unknown, IncomingRequestCfProperties>, { ...env, ...extra } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return (await res.json()) as { data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

const SEARCH = 'query($i: SearchInput!) { search(input: $i) { hits { score document { name } } } }';
const names = (r: { data?: any }) => r.data.search.hits.map((h: { document: { name: string } }) => h.document.name);
const embeddingTokens = async (t: TestTenant) => (await call(t, '{ usage { embeddingTokens } }', {})).data.usage.embeddingTokens as number;

async function corpus(t: TestTenant) {
  await ingestProcessed(t, { name: 'best', text: 'Solar panel installation guide: solar panel mounting, solar panel wiring.' });
  await ingestProcessed(t, { name: 'marked', text: 'Our preferred installer handles the solar panel.' });
}

describe('reranking', () => {
  it('is off by default: with a reranker configured, nothing is sent unless asked', async () => {
    const [t] = await twoTenants();
    await corpus(t);
    const r = await call(t, SEARCH, { i: { query: 'solar panel installation' } });
    expect(r.errors).toBeUndefined();
    expect(names(r)).toEqual(['best', 'marked']);
    expect(calls).toHaveLength(0);
  });

  it('reorders by the reranker when asked, with its scores, and meters its tokens', async () => {
    const [t] = await twoTenants();
    await corpus(t);
    const before = await embeddingTokens(t);
    await call(t, SEARCH, { i: { query: 'solar panel installation' } });
    const plain = (await embeddingTokens(t)) - before;
    const r = await call(t, SEARCH, { i: { query: 'solar panel installation', rerank: true } });
    expect(r.errors).toBeUndefined();
    expect(names(r)).toEqual(['marked', 'best']);
    expect(r.data.search.hits.map((h: { score: number }) => h.score)).toEqual([1, 0.1]);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.authorization).toBe('Bearer rk-test');
    expect(calls[0]!.body).toMatchObject({ model: 'fake-cross-encoder', query: 'solar panel installation', top_n: 2 });
    expect(calls[0]!.body.documents).toHaveLength(2);
    // The query embedding costs the same both times; the rerank call adds its reported 123 tokens.
    expect((await embeddingTokens(t)) - before - 2 * plain).toBe(123);
  });

  it('follows the tenant setting, per tenant', async () => {
    const [t, other] = await twoTenants();
    await corpus(t);
    await corpus(other);
    const set = await call(t, 'mutation { updateTenantSettings(input: { rerank: true }) { settings { rerank } } }', {});
    expect(set.data.updateTenantSettings.settings.rerank).toBe(true);
    expect(names(await call(t, SEARCH, { i: { query: 'solar panel installation' } }))).toEqual(['marked', 'best']);
    expect(names(await call(other, SEARCH, { i: { query: 'solar panel installation' } }))).toEqual(['best', 'marked']);
    // A request may still turn it off; only the tenant's own chunks were ever sent.
    expect(names(await call(t, SEARCH, { i: { query: 'solar panel installation', rerank: false } }))).toEqual(['best', 'marked']);
    expect(calls).toHaveLength(1);
  });

  it('keeps the fused order when the reranker fails, and is ignored when none is configured', async () => {
    const [t] = await twoTenants();
    await corpus(t);
    reply = () => new Response('overloaded', { status: 503 });
    const r = await call(t, SEARCH, { i: { query: 'solar panel installation', rerank: true } });
    expect(r.errors).toBeUndefined();
    expect(names(r)).toEqual(['best', 'marked']);
    reply = preferMarked;
    const none = await call(t, SEARCH, { i: { query: 'solar panel installation', rerank: true } }, {});
    expect(names(none)).toEqual(['best', 'marked']);
    expect(calls).toHaveLength(1);
  });
});

describe('the /rerank response shape', () => {
  it('reads Cohere/Jina/vLLM results in any order; a left-out document ranks last', async () => {
    const { parseScores } = await import('../../src/ai/rerank');
    expect(parseScores({ results: [{ index: 2, relevance_score: 0.9 }, { index: 0, relevance_score: 0.1 }] }, 3)).toEqual([0.1, Number.NEGATIVE_INFINITY, 0.9]);
    expect(parseScores({ results: [{ index: 0, score: 0.5 }] }, 1)).toEqual([0.5]);
  });

  it.each([{}, { results: [{ index: 5, relevance_score: 1 }] }, { results: [{ index: 0 }] }, { results: [{ index: 0, relevance_score: 'high' }] }])('refuses %j', async (body) => {
    const { parseScores, RerankError } = await import('../../src/ai/rerank');
    expect(() => parseScores(body, 2)).toThrow(RerankError);
  });
});
