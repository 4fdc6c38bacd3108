/**
 * Optional cross-encoder reranking (docs/retrieval.md "Reranking") through the `/rerank`
 * request shape that Cohere, Jina, vLLM, LiteLLM and Infinity share:
 *
 *   POST <RERANK_URL>  { model, query, documents: string[], top_n, return_documents: false }
 *   → { results: [{ index, relevance_score }], usage?: { total_tokens } }
 *
 * Cohere reports `meta.billed_units.search_units` instead of tokens, others nothing: then
 * the tokens are estimated (query once per document plus the documents, which is what a
 * cross-encoder reads). Off unless RERANK_URL is configured and the tenant or the request
 * asks for it.
 */
import { estimateTokens } from './tokens';

export interface RerankResult {
  /** Relevance per input document, index-aligned with the input (higher is better). */
  scores: number[];
  /** Tokens the provider reported, or the estimate. */
  tokens: number;
}

export interface Reranker {
  readonly model: string;
  rerank(query: string, documents: string[]): Promise<RerankResult>;
}

/** The rerank provider failed or answered something that is not the rerank shape. */
export class RerankError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RerankError';
  }
}

const TIMEOUT_MS = 10_000;

/** A Reranker over HTTP. `fetcher` is resolved per call so tests can stub the global. */
export class HttpReranker implements Reranker {
  constructor(
    private readonly opts: { url: string; model: string; apiKey: string | null; fetcher?: typeof fetch },
  ) {}

  get model(): string {
    return this.opts.model;
  }

  async rerank(query: string, documents: string[]): Promise<RerankResult> {
    if (documents.length === 0) return { scores: [], tokens: 0 };
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
    const fetcher = this.opts.fetcher ?? ((i: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(i, init));
    let res: Response;
    try {
      res = await fetcher(this.opts.url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ model: this.opts.model, query, documents, top_n: documents.length, return_documents: false }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new RerankError('rerank request failed', { cause: err });
    }
    if (!res.ok) throw new RerankError(`rerank endpoint answered HTTP ${res.status}`);
    let body: unknown;
    try {
      body = await res.json();
    } catch (err) {
      throw new RerankError('rerank endpoint answered non-JSON', { cause: err });
    }
    return { scores: parseScores(body, documents.length), tokens: reportedTokens(body) ?? estimate(query, documents) };
  }
}

/** Scores index-aligned with the input; a document the endpoint left out scores -Infinity. */
export function parseScores(body: unknown, n: number): number[] {
  const results = (body as { results?: unknown })?.results;
  if (!Array.isArray(results)) throw new RerankError('rerank response has no results array');
  const scores = new Array<number>(n).fill(Number.NEGATIVE_INFINITY);
  for (const r of results as { index?: unknown; relevance_score?: unknown; score?: unknown }[]) {
    const score = typeof r?.relevance_score === 'number' ? r.relevance_score : r?.score;
    if (!Number.isInteger(r?.index) || (r.index as number) < 0 || (r.index as number) >= n || typeof score !== 'number' || !Number.isFinite(score)) {
      throw new RerankError('rerank response has a result without a valid index and relevance_score');
    }
    scores[r.index as number] = score;
  }
  return scores;
}

function reportedTokens(body: unknown): number | null {
  const usage = (body as { usage?: { total_tokens?: unknown; prompt_tokens?: unknown } })?.usage;
  const t = usage?.total_tokens ?? usage?.prompt_tokens;
  return typeof t === 'number' && Number.isFinite(t) && t >= 0 ? Math.round(t) : null;
}

/** What a cross-encoder reads: the query beside each document. */
export function estimate(query: string, documents: string[]): number {
  const q = estimateTokens(query);
  return documents.reduce((n, d) => n + q + estimateTokens(d), 0);
}
