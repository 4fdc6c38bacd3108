/**
 * Composition of the documents-and-retrieval services for one request (wired into
 * src/services.ts, which hands over the bindings). The services themselves never see `env`.
 */
import { embeddingProvider, type EmbeddingProvider } from '../ai/embeddings';
import type { ServiceDeps } from '../services';
import { vectorStoreFor } from '../vector';
import type { VectorStore } from '../vector/types';
import type { IngestQueue } from './ingest-types';
import { IngestionService } from './ingestion';
import { RetrievalService } from './retrieval';
import type { Retriever } from './types';

export interface DocumentServices {
  /** search (and chat's retrieval); null on a tenantless (platform) request. */
  retriever: Retriever | null;
  /** ingestDocument / deleteDocument; null on a tenantless (platform) request. */
  ingestion: IngestionService | null;
}

/** The bindings documents need, read from `env` by the composition root. */
export interface DocumentBindings {
  blobs: R2Bucket;
  queue: IngestQueue;
  fetcher: typeof fetch;
  /** The tenant's embedder (its own provider's or the deployment's: src/ai/model-providers.ts). */
  embedder?: EmbeddingProvider;
}

/** Clients shared by the request path and the queue consumer. */
export function retrievalClients(deps: Pick<ServiceDeps, 'config' | 'env'>): { vectors: VectorStore; embedder: EmbeddingProvider } {
  return { vectors: vectorStoreFor(deps.config, deps.env), embedder: embeddingProvider(deps.config) };
}

export function buildDocumentServices(deps: ServiceDeps, bindings: DocumentBindings): DocumentServices {
  if (!deps.scope || !deps.limits) return { retriever: null, ingestion: null };
  const clients = retrievalClients(deps);
  const vectors = clients.vectors;
  const embedder = bindings.embedder ?? clients.embedder;
  const guard = deps.guard;
  const limits = deps.limits;
  return {
    retriever: new RetrievalService({
      scope: deps.scope,
      vectors,
      embedder,
      log: deps.log,
      reserve: guard ? (delta) => guard.reserve(limits, delta) : undefined,
      defer: (work) => deps.waitUntil(work),
    }),
    ingestion: new IngestionService({
      scope: deps.scope,
      blobs: bindings.blobs,
      queue: bindings.queue,
      vectors,
      guard,
      limits: deps.limits,
      fetcher: bindings.fetcher,
      allowPrivateUrls: deps.config.environment !== 'production',
      urlFetch: deps.config.urlFetch,
      log: deps.log,
    }),
  };
}
