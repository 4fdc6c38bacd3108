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

export interface Retriever {
  search(req: SearchRequest): Promise<Hit[]>;
}
