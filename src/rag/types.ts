/**
 * Shared retrieval contract: what search returns and what chat cites.
 * Implemented by src/rag/retrieval.ts; consumed by search and chat resolvers.
 */
import type { DocumentRow } from '../db/schema';
import type { FusionMethod, RetrievalWeights } from './fusion';
import type { AttributeFilterInput } from './search-filters';

export type SearchMode = 'VECTOR' | 'KEYWORD' | 'HYBRID';

/** Collections, documents and tags, plus document type, dates and custom metadata (search-filters.ts). */
export interface SearchFilter extends AttributeFilterInput {
  collectionIds?: string[] | null;
  documentIds?: string[] | null;
  tags?: string[] | null;
}

export interface SearchRequest {
  query: string;
  topK: number;
  mode: SearchMode;
  filter?: SearchFilter | null;
  /**
   * HYBRID's fusion weights. Absent/null: the tenant's `retrievalWeights` setting, else the
   * embedding provider's default (src/rag/fusion.ts). This is the hook for agents: an
   * agent's own retrieval weights are passed here by the ask service.
   */
  weights?: RetrievalWeights | null;
  /** How HYBRID fuses the lists; absent/null: DEFAULT_FUSION (src/rag/fusion.ts). */
  fusion?: FusionMethod | null;
  /**
   * At most this many chunks per document. `'default'`: the tenant's
   * `searchMaxChunksPerDocument`, else DEFAULT_MAX_CHUNKS_PER_DOCUMENT (what `search` uses);
   * absent/null: no cap (what `ask` uses: several passages of one document are good context).
   */
  maxChunksPerDocument?: number | 'default' | null;
  /** topK counts documents (each with up to maxChunksPerDocument chunks) instead of chunks. */
  groupByDocument?: boolean | null;
  /** Rerank the fused candidates (needs RERANK_URL). Absent/null: the tenant's `rerank` setting, else off. */
  rerank?: boolean | null;
}

/** One retrieved chunk, already re-checked to belong to the scope's tenant. */
export interface Hit {
  chunkId: string;
  documentId: string;
  chunkIndex: number;
  text: string;
  score: number;
  page: number | null;
  heading: string | null;
  document: DocumentRow;
}

/**
 * A stored citation whose document has been deleted since the answer was given
 * (docs/chat.md "Sources of deleted documents"). It keeps its place, so `[n]` still points at
 * `sources[n-1]`, but carries nothing of the deleted document: no document, no text,
 * no heading.
 */
export interface DeletedSource {
  chunkId: string;
  chunkIndex: number;
  score: number;
  page: number | null;
  text: '';
  heading: null;
  document: null;
}

/** What a stored answer cites: the source as it was retrieved, or its placeholder. */
export type CitedSource = Hit | DeletedSource;

export interface Retriever {
  search(req: SearchRequest): Promise<Hit[]>;
}
