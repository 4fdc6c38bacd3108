/**
 * Composition of the documents-and-retrieval services for one request (wired into
 * src/services.ts). Bindings become typed clients here; the services themselves never
 * see `env`.
 */
import { embeddingProvider, type EmbeddingProvider } from '../ai/embeddings';
import type { ServiceDeps } from '../services';
import { vectorStoreFor } from '../vector';
import type { VectorStore } from '../vector/types';
import { RetrievalService } from './retrieval';
import type { Retriever } from './types';

export interface DocumentServices {
  /** search (and chat's retrieval); null on a tenantless (platform) request. */
  retriever: Retriever | null;
}

/** Clients shared by the request path and the queue consumer. */
export function retrievalClients(deps: Pick<ServiceDeps, 'config' | 'env'>): { vectors: VectorStore; embedder: EmbeddingProvider } {
  return { vectors: vectorStoreFor(deps.config, deps.env), embedder: embeddingProvider(deps.config) };
}

export function buildDocumentServices(deps: ServiceDeps): DocumentServices {
  if (!deps.scope) return { retriever: null };
  const { vectors, embedder } = retrievalClients(deps);
  const guard = deps.guard;
  return {
    retriever: new RetrievalService({
      scope: deps.scope,
      vectors,
      embedder,
      log: deps.log,
      recordUsage: guard
        ? (delta) =>
            deps.waitUntil(
              guard.record(delta).catch((err: unknown) => deps.log.warn('usage record failed', { error: String(err) })),
            )
        : undefined,
    }),
  };
}
