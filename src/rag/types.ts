/**
 * Shared retrieval contract: what search returns and what chat cites.
 * Implemented by src/rag/retrieval.ts; consumed by search and chat resolvers.
 */
import type { DocumentRow } from '../db/schema';

export type SearchMode = 'VECTOR' | 'KEYWORD' | 'HYBRID';

export interface SearchFilter {
  collectionIds?: string[] | null;
  documentIds?: string[] | null;
  tags?: string[] | null;
}

export interface SearchRequest {
  query: string;
  topK: number;
  mode: SearchMode;
  filter?: SearchFilter | null;
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
