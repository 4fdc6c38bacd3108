/**
 * Retrieval (DESIGN §6): VECTOR (vector store, namespace = tenant), KEYWORD (D1 FTS5 finds
 * the matches, BM25 over the tenant's own statistics ranks them: src/rag/bm25.ts) and
 * HYBRID (both, fused by reciprocal rank fusion). Vector matches with cosine similarity
 * <= 0 are not candidates (isRelevant). Every candidate, whatever its source, is
 * re-checked against D1 through the TenantScope before it is returned: same tenant,
 * current document version, and the caller's filter.
 */
import type { EmbeddingProvider } from '../ai/embeddings';
import type { ChunkFilter, VisibleChunk } from '../db/repositories/chunks';
import type { TenantScope } from '../db/tenant-scope';
import { AppError } from '../lib/errors';
import type { Logger } from '../lib/log';
import { estimateTokens } from '../ai/tokens';
import type { Reservation, UsageDelta } from '../objects/guard-types';
import { VECTOR_LIMITS, type VectorFilter, type VectorStore } from '../vector/types';
import { rankBm25 } from './bm25';
import { ftsTerms } from './fts-query';
import type { Hit, Retriever, SearchFilter, SearchMode, SearchRequest } from './types';

export const MAX_TOP_K = 50;
export const MAX_QUERY_CHARS = 2_000;
const MAX_FILTER_IDS = 50;
const MAX_FILTER_TAGS = 20;
/** RRF constant from Cormack, Clarke & Büttcher (SIGIR 2009). */
export const RRF_K = 60;
/** Vectorize's filter must stay under 2 KB; past this many ids the D1 re-check filters alone. */
const MAX_IDS_IN_VECTOR_FILTER = 40;

export interface RetrieverDeps {
  scope: TenantScope;
  vectors: VectorStore;
  embedder: EmbeddingProvider;
  /**
   * Reserves the query's estimated embedding tokens in the TenantGuard before the embedder
   * is called (QUOTA_EXCEEDED when they do not fit); absent = unmetered.
   */
  reserve?: (delta: UsageDelta) => Promise<Reservation>;
  /** Runs the settlement (provider's real count) off the response path: ctx.waitUntil. */
  defer?: (work: Promise<unknown>) => void;
  log?: Logger;
}

/** Validates and normalises a search request; BAD_USER_INPUT names the bad field. */
export function validateSearch(req: SearchRequest): SearchRequest & { filter: ChunkFilter | null } {
  const query = (req.query ?? '').trim();
  if (!query) throw new AppError('BAD_USER_INPUT', 'query must not be empty', { field: 'query' });
  if (query.length > MAX_QUERY_CHARS) throw new AppError('BAD_USER_INPUT', `query must be at most ${MAX_QUERY_CHARS} characters`, { field: 'query' });
  if (!Number.isInteger(req.topK) || req.topK < 1 || req.topK > MAX_TOP_K) {
    throw new AppError('BAD_USER_INPUT', `topK must be from 1 to ${MAX_TOP_K}`, { field: 'topK' });
  }
  if (!['VECTOR', 'KEYWORD', 'HYBRID'].includes(req.mode)) throw new AppError('BAD_USER_INPUT', 'unknown search mode', { field: 'mode' });
  return { query, topK: req.topK, mode: req.mode, filter: normaliseFilter(req.filter) };
}

function normaliseFilter(f: SearchFilter | null | undefined): ChunkFilter | null {
  if (!f) return null;
  const list = (v: string[] | null | undefined, field: string, max: number) => {
    if (v === null || v === undefined) return null;
    const out = [...new Set(v.map((x) => String(x).trim()).filter(Boolean))];
    if (out.length > max) throw new AppError('BAD_USER_INPUT', `filter.${field} takes at most ${max} values`, { field: `filter.${field}` });
    if (out.some((x) => x.length > 200)) throw new AppError('BAD_USER_INPUT', `filter.${field} values are at most 200 characters`, { field: `filter.${field}` });
    // An explicitly empty list selects nothing rather than everything.
    return out;
  };
  return {
    collectionIds: list(f.collectionIds, 'collectionIds', MAX_FILTER_IDS),
    documentIds: list(f.documentIds, 'documentIds', MAX_FILTER_IDS),
    tags: list(f.tags, 'tags', MAX_FILTER_TAGS),
  };
}

const selectsNothing = (f: ChunkFilter | null) =>
  !!f && [f.collectionIds, f.documentIds, f.tags].some((l) => Array.isArray(l) && l.length === 0);

/**
 * Reciprocal rank fusion: score(d) = Σ 1 / (k + rank_i(d)) over the ranked lists that
 * contain d (ranks from 1). Ties keep first-seen order.
 */
export function reciprocalRankFusion(lists: string[][], k = RRF_K): { id: string; score: number }[] {
  const scores = new Map<string, number>();
  for (const list of lists) {
    list.forEach((id, i) => scores.set(id, (scores.get(id) ?? 0) + 1 / (k + i + 1)));
  }
  return [...scores.entries()].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score);
}

export class RetrievalService implements Retriever {
  constructor(private readonly deps: RetrieverDeps) {}

  async search(input: SearchRequest): Promise<Hit[]> {
    const req = validateSearch(input);
    if (selectsNothing(req.filter)) return [];
    // Fetch more candidates than asked: the D1 re-check may drop stale or filtered ones.
    const depth = Math.min(100, Math.max(req.topK * 3, 20));
    const mode: SearchMode = req.mode;
    const [vec, kw] = await Promise.all([
      mode === 'KEYWORD' ? Promise.resolve(null) : this.vectorCandidates(req.query, depth, req.filter).catch((err: unknown) => this.vectorFailed(err, mode)),
      mode === 'VECTOR' ? Promise.resolve(null) : this.keywordCandidates(req.query, depth, req.filter),
    ]);
    const ids = [...new Set([...(vec?.map((v) => v.id) ?? []), ...(kw?.map((k) => k.id) ?? [])])];
    if (ids.length === 0) return [];
    const visible = new Map((await this.deps.scope.chunks.visible(ids, req.filter)).map((v) => [v.chunk.id, v]));

    let ranked: { id: string; score: number }[];
    if (mode === 'VECTOR') ranked = vec!.filter((v) => visible.has(v.id));
    else if (mode === 'KEYWORD') {
      // Rank-based scores keep the public contract (1/rank) and leave BM25's scale, which
      // shifts with the tenant's corpus, out of it; the order is the tenant-only BM25 order.
      ranked = kw!.filter((k) => visible.has(k.id)).map((k, i) => ({ id: k.id, score: 1 / (i + 1) }));
    } else {
      ranked = reciprocalRankFusion([vec!.filter((v) => visible.has(v.id)).map((v) => v.id), kw!.filter((k) => visible.has(k.id)).map((k) => k.id)]);
    }
    return ranked.slice(0, req.topK).map((r) => toHit(visible.get(r.id)!, r.score));
  }

  /**
   * The embedding provider or the vector index failed: HYBRID degrades to its keyword half
   * (logged); VECTOR has nothing else to offer and answers UPSTREAM_UNAVAILABLE.
   */
  private vectorFailed(err: unknown, mode: SearchMode): { id: string; score: number }[] {
    if (err instanceof AppError) throw err;
    this.deps.log?.warn('vector retrieval failed', { mode, error: String(err) });
    if (mode === 'HYBRID') return [];
    throw new AppError('UPSTREAM_UNAVAILABLE', 'Vector search is unavailable right now; try KEYWORD or HYBRID');
  }

  private async vectorCandidates(query: string, depth: number, filter: ChunkFilter | null): Promise<{ id: string; score: number }[]> {
    const { scope, vectors, embedder } = this.deps;
    // Reserved before the provider is called, so concurrent searches cannot all pass a
    // limit that only one of them fits under; the provider's own count settles it.
    const reservation = await this.deps.reserve?.({ embeddingTokens: estimateTokens(query) });
    let embedded: { vectors: number[][]; tokens: number };
    try {
      embedded = await embedder.embed([query]);
    } catch (err) {
      await reservation?.release();
      throw err;
    }
    const { vectors: [qv], tokens } = embedded;
    if (reservation) {
      const settled = reservation.settle({ embeddingTokens: tokens });
      if (this.deps.defer) this.deps.defer(settled);
      else await settled;
    }
    const vf: VectorFilter = { tenant_id: scope.tenantId };
    // Narrow in the index where Vectorize can (indexed string properties); tags are
    // multi-valued and are filtered by the D1 re-check only.
    // Each list alone fits Vectorize's filter size; together they may not (40 + 40 ids is
    // over 2 KB and would be refused), so a list is added only while the whole still fits.
    const fits = (f: VectorFilter) => new TextEncoder().encode(JSON.stringify(f)).byteLength < VECTOR_LIMITS.maxFilterBytes;
    if (filter?.documentIds?.length && filter.documentIds.length <= MAX_IDS_IN_VECTOR_FILTER) {
      const next: VectorFilter = { ...vf, document_id: { $in: filter.documentIds } };
      if (fits(next)) vf.document_id = next.document_id!;
    }
    // A credential restricted to collections queries only those (the D1 re-check enforces it
    // anyway; narrowing here keeps the candidate depth for the documents it may see).
    const allowed = scope.allowedCollections;
    const collectionIds = filter?.collectionIds?.length
      ? allowed ? filter.collectionIds.filter((id) => allowed.includes(id)) : filter.collectionIds
      : allowed;
    if (collectionIds?.length && collectionIds.length <= MAX_IDS_IN_VECTOR_FILTER) {
      const next: VectorFilter = { ...vf, collection_id: { $in: [...collectionIds] } };
      if (fits(next)) vf.collection_id = next.collection_id!;
    }
    const matches = await vectors.query(scope.vectorNamespace, qv!, { topK: depth, filter: vf, returnMetadata: 'indexed' });
    // First tenant check: the vector's own metadata (the D1 row is the second).
    // A vector index returns its topK nearest whatever their distance: a match with cosine
    // similarity <= 0 shares nothing with the query (with the offline embedder: no word in
    // common), so it is not a hit, and must not pad VECTOR results or HYBRID's fusion.
    return matches
      .filter((m) => m.metadata?.tenant_id === scope.tenantId && isRelevant(m.score))
      .map((m) => ({ id: m.id, score: m.score }));
  }

  /**
   * The tenant's keyword matches, best first by BM25 computed from the tenant's own chunks
   * only (never FTS5's bm25()). The lookup reads only this tenant's postings (tenant-
   * qualified terms, migration 0007), so its cost follows the tenant's own data.
   */
  private async keywordCandidates(query: string, depth: number, filter: ChunkFilter | null): Promise<{ id: string; score: number }[]> {
    const terms = ftsTerms(query);
    if (terms.length === 0) return [];
    const evidence = await this.deps.scope.chunks.keywordEvidence(terms, filter);
    if (evidence.truncatedTerms > 0) this.deps.log?.info('keyword search: candidate window reached', { terms: terms.length, truncated: evidence.truncatedTerms });
    return rankBm25(evidence.stats, evidence.docFreq, evidence.candidates).slice(0, depth);
  }
}

/**
 * Whether a vector match's cosine similarity counts as a hit: strictly positive (NaN, from
 * a degenerate vector, is not). Applies to every VectorStore, since it is checked here.
 */
export function isRelevant(score: number): boolean {
  return Number.isFinite(score) && score > 0;
}

function toHit(v: VisibleChunk, score: number): Hit {
  return {
    chunkId: v.chunk.id,
    documentId: v.document.id,
    chunkIndex: v.chunk.chunkIndex,
    text: v.chunk.text,
    score,
    page: v.chunk.page,
    heading: v.chunk.heading,
    document: v.document,
  };
}
