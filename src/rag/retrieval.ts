/**
 * Retrieval (DESIGN §6): VECTOR (vector store, namespace = tenant), KEYWORD (D1 FTS5 finds
 * the matches, BM25 over the tenant's own statistics ranks them: src/rag/bm25.ts) and
 * HYBRID (both, fused by weighted reciprocal rank fusion: src/rag/fusion.ts). Vector
 * matches with cosine similarity <= 0 are not candidates (isRelevant). Every candidate,
 * whatever its source, is re-checked against D1 through the TenantScope before it is
 * returned: same tenant, current document version, and the caller's filter (including the
 * attribute filters of src/rag/search-filters.ts). Then, optionally, a reranker reorders
 * the best candidates, and the per-document cap of src/rag/diversity.ts picks the hits.
 */
import type { EmbeddingProvider } from '../ai/embeddings';
import { estimate as estimateRerank, type Reranker } from '../ai/rerank';
import type { ChunkFilter, VisibleChunk } from '../db/repositories/chunks';
import type { TenantScope } from '../db/tenant-scope';
import { AppError } from '../lib/errors';
import type { Logger } from '../lib/log';
import { estimateTokens } from '../ai/tokens';
import type { Reservation, UsageDelta } from '../objects/guard-types';
import { VECTOR_LIMITS, type VectorFilter, type VectorStore } from '../vector/types';
import { rankBm25 } from './bm25';
import { capPerDocument, DEFAULT_MAX_CHUNKS_PER_DOCUMENT, topDocuments, validateMaxPerDocument } from './diversity';
import { ftsTerms } from './fts-query';
import { convexCombination, DEFAULT_FUSION, DEFAULT_WEIGHTS, validateWeights, weightedRrf, type FusionMethod, type RetrievalWeights } from './fusion';
import { attributeSelectsNothing, needsDeeperVectorSearch, validateAttributeFilter, vectorFilterEntries, type MetadataKeySpec } from './search-filters';
import type { Hit, Retriever, SearchFilter, SearchMode, SearchRequest } from './types';

export { reciprocalRankFusion, RRF_K } from './fusion';

export const MAX_TOP_K = 50;
export const MAX_QUERY_CHARS = 2_000;
const MAX_FILTER_IDS = 50;
const MAX_FILTER_TAGS = 20;
/** Vectorize's filter must stay under 2 KB; past this many ids the D1 re-check filters alone. */
const MAX_IDS_IN_VECTOR_FILTER = 40;
/** How many fused candidates the reranker sees (one cross-encoder call). */
export const RERANK_CANDIDATES = 30;

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
  /** HYBRID weights when neither the request nor the tenant sets them (by embedding provider; read per search). */
  defaultWeights?: RetrievalWeights | (() => RetrievalWeights);
  /** The deployment's filterable metadata keys (SEARCH_METADATA_KEYS). */
  metadataKeys?: readonly MetadataKeySpec[];
  /** Present when RERANK_URL is configured. */
  reranker?: Reranker | null;
}

/** A search request after validation. */
export interface ValidSearch {
  query: string;
  topK: number;
  mode: SearchMode;
  filter: ChunkFilter | null;
  weights: RetrievalWeights | null;
  fusion: FusionMethod;
  maxChunksPerDocument: number | 'default' | null;
  groupByDocument: boolean;
  rerank: boolean | null;
}

/** Validates and normalises a search request; BAD_USER_INPUT names the bad field. */
export function validateSearch(req: SearchRequest, metadataKeys: readonly MetadataKeySpec[] = []): ValidSearch {
  const query = (req.query ?? '').trim();
  if (!query) throw new AppError('BAD_USER_INPUT', 'query must not be empty', { field: 'query' });
  if (query.length > MAX_QUERY_CHARS) throw new AppError('BAD_USER_INPUT', `query must be at most ${MAX_QUERY_CHARS} characters`, { field: 'query' });
  if (!Number.isInteger(req.topK) || req.topK < 1 || req.topK > MAX_TOP_K) {
    throw new AppError('BAD_USER_INPUT', `topK must be from 1 to ${MAX_TOP_K}`, { field: 'topK' });
  }
  if (!['VECTOR', 'KEYWORD', 'HYBRID'].includes(req.mode)) throw new AppError('BAD_USER_INPUT', 'unknown search mode', { field: 'mode' });
  const max = req.maxChunksPerDocument;
  return {
    query,
    topK: req.topK,
    mode: req.mode,
    filter: normaliseFilter(req.filter, metadataKeys),
    weights: req.weights ? validateWeights(req.weights, 'weights') : null,
    fusion: req.fusion ?? DEFAULT_FUSION,
    maxChunksPerDocument: max === 'default' || max === null || max === undefined ? (max ?? null) : validateMaxPerDocument(max, 'maxChunksPerDocument'),
    groupByDocument: req.groupByDocument === true,
    rerank: req.rerank ?? null,
  };
}

function normaliseFilter(f: SearchFilter | null | undefined, metadataKeys: readonly MetadataKeySpec[]): ChunkFilter | null {
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
    attributes: validateAttributeFilter(f, metadataKeys),
  };
}

const selectsNothing = (f: ChunkFilter | null) =>
  !!f && ([f.collectionIds, f.documentIds, f.tags].some((l) => Array.isArray(l) && l.length === 0) || attributeSelectsNothing(f.attributes));

export class RetrievalService implements Retriever {
  constructor(private readonly deps: RetrieverDeps) {}

  async search(input: SearchRequest): Promise<Hit[]> {
    const req = validateSearch(input, this.deps.metadataKeys ?? []);
    if (selectsNothing(req.filter)) return [];
    const settings = this.deps.scope.settings.get();
    const cap = req.maxChunksPerDocument === 'default' ? (settings.searchMaxChunksPerDocument ?? DEFAULT_MAX_CHUNKS_PER_DOCUMENT) : req.maxChunksPerDocument;
    const reranker = (req.rerank ?? settings.rerank ?? false) ? (this.deps.reranker ?? null) : null;
    // Fetch more candidates than asked: the D1 re-check may drop stale or filtered ones, and
    // the per-document cap, grouping, D1-only filters (dates) and reranking need a deeper pool.
    const deep = cap !== null || req.groupByDocument || reranker !== null || needsDeeperVectorSearch(req.filter?.attributes);
    const depth = Math.min(100, deep ? Math.max(req.topK * 6, 50) : Math.max(req.topK * 3, 20));
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
      const dflt = this.deps.defaultWeights;
      const weights = req.weights ?? settings.retrievalWeights ?? (typeof dflt === 'function' ? dflt() : dflt) ?? DEFAULT_WEIGHTS.offline;
      const kwOk = kw!.filter((k) => visible.has(k.id));
      const vecOk = vec!.filter((v) => visible.has(v.id));
      // Keyword first: on an exact tie its order wins (the stronger list offline).
      ranked = req.fusion === 'RRF'
        ? weightedRrf([{ ids: kwOk.map((k) => k.id), weight: weights.keyword }, { ids: vecOk.map((v) => v.id), weight: weights.vector }])
        : convexCombination([{ items: kwOk, weight: weights.keyword }, { items: vecOk, weight: weights.vector }]);
    }
    if (reranker) ranked = await this.reranked(reranker, req.query, ranked, visible);
    const hits = ranked.map((r) => toHit(visible.get(r.id)!, r.score));
    return req.groupByDocument ? topDocuments(hits, cap, req.topK) : capPerDocument(hits, cap, req.topK);
  }

  /**
   * The best RERANK_CANDIDATES in the reranker's order (its relevance score becomes the hit's
   * score), the rest after them in fused order. If the reranker fails, the fused order stands
   * (logged): reranking refines a result, it is never the reason a search fails.
   */
  private async reranked(reranker: Reranker, query: string, ranked: { id: string; score: number }[], visible: Map<string, VisibleChunk>) {
    const head = ranked.slice(0, RERANK_CANDIDATES);
    const texts = head.map((r) => visible.get(r.id)!.chunk.text);
    // Rerank tokens count as embedding tokens: both are the retrieval model's spend under one
    // monthly quota. Reserved like the query's embedding, settled to the provider's count.
    let reservation: Reservation | undefined;
    try {
      reservation = await this.deps.reserve?.({ embeddingTokens: estimateRerank(query, texts) });
    } catch (err) {
      // No room left for the reranker this month: the fused order is still a good answer.
      this.deps.log?.warn('rerank skipped: embedding token quota', { model: reranker.model, error: String(err) });
      return ranked;
    }
    try {
      const { scores, tokens } = await reranker.rerank(query, texts);
      if (reservation) {
        const settled = reservation.settle({ embeddingTokens: tokens });
        if (this.deps.defer) this.deps.defer(settled);
        else await settled;
      }
      const order = head.map((r, i) => ({ id: r.id, score: scores[i]!, i })).sort((a, b) => b.score - a.score || a.i - b.i);
      return [...order.map(({ id, score }) => ({ id, score })), ...ranked.slice(RERANK_CANDIDATES)];
    } catch (err) {
      await reservation?.release();
      this.deps.log?.warn('rerank failed; fused order kept', { model: reranker.model, error: String(err) });
      return ranked;
    }
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
    // Type and custom metadata narrow in the index too (each key has a metadata index in
    // production); a part that does not fit is left to the D1 re-check like the id lists.
    for (const [key, value] of Object.entries(vectorFilterEntries(filter?.attributes))) {
      const next: VectorFilter = { ...vf, [key]: value };
      if (fits(next)) vf[key] = value;
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
