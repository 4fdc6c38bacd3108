/**
 * Composition of the documents-and-retrieval services for one tenant session (called by
 * src/tenant-session.ts, which hands over the placement's bindings). The services themselves
 * never see `env`.
 */
import type { EmbeddingProvider } from '../ai/embeddings';
import { OfflineEmbeddings } from '../ai/offline-embeddings';
import { HttpReranker } from '../ai/rerank';
import type { TenantScope } from '../db/tenant-scope';
import type { Config, PlanLimits } from '../env';
import type { Logger } from '../lib/log';
import type { GuardClient } from '../objects/guard-types';
import type { VectorStore } from '../vector/types';
import type { IngestQueue } from './ingest-types';
import { DEFAULT_WEIGHTS } from './fusion';
import { IngestionService } from './ingestion';
import { RetrievalService } from './retrieval';
import type { Retriever } from './types';

export interface DocumentServices {
  /** search (and chat's retrieval). */
  retriever: Retriever;
  /** ingestDocument / deleteDocument. */
  ingestion: IngestionService;
}

/** What the session resolved for the tenant: scope, limits, guard and its placement's bindings. */
export interface DocumentDeps {
  scope: TenantScope;
  limits: PlanLimits;
  guard: GuardClient | null;
  config: Config;
  log: Logger;
  waitUntil(promise: Promise<unknown>): void;
  vectors: VectorStore;
  /** The tenant's embedder (its own provider's or the deployment's: src/ai/model-providers.ts). */
  embedder: EmbeddingProvider;
  blobs: R2Bucket;
  queue: IngestQueue;
  fetcher: typeof fetch;
}

const OFFLINE_MODEL = new OfflineEmbeddings(8).model;

/**
 * Whether the embedder is (or resolved to) the offline hashing one. A tenant's deferred
 * provider names its model only after its first call; before that (the vector half failed or
 * was not asked for), the weights hardly matter and the offline ones are the cautious choice.
 */
function isOffline(embedder: EmbeddingProvider): boolean {
  if (embedder instanceof OfflineEmbeddings) return true;
  try {
    return embedder.model === OFFLINE_MODEL;
  } catch {
    return true;
  }
}

export function buildDocumentServices(deps: DocumentDeps): DocumentServices {
  const { guard, vectors, embedder } = deps;
  const rerank = deps.config.search.rerank;
  return {
    retriever: new RetrievalService({
      scope: deps.scope,
      vectors,
      embedder,
      log: deps.log,
      reserve: guard ? (delta) => guard.reserve(deps.limits, delta) : undefined,
      defer: (work) => deps.waitUntil(work),
      // The offline embedder hashes words (a lexical signal); a real model is a semantic one.
      // Asked per search: a tenant's own provider is only known once the query is embedded.
      defaultWeights: () => (isOffline(embedder) ? DEFAULT_WEIGHTS.offline : DEFAULT_WEIGHTS.semantic),
      metadataKeys: deps.config.search.metadataKeys,
      reranker: rerank ? new HttpReranker(rerank) : null,
    }),
    ingestion: new IngestionService({
      scope: deps.scope,
      blobs: deps.blobs,
      queue: deps.queue,
      vectors,
      guard,
      limits: deps.limits,
      fetcher: deps.fetcher,
      allowPrivateUrls: deps.config.environment !== 'production',
      urlFetch: deps.config.urlFetch,
      log: deps.log,
    }),
  };
}
