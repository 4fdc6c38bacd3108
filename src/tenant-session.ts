/**
 * The tenant session (CONVENTIONS "one non-null tenant session"; DESIGN §11): everything a
 * request — or a queue message — may do inside one tenant, resolved once from the verified
 * principal and the tenant's catalogue row. It picks the tenant's placement database, R2
 * bucket, vector index and Durable Object jurisdiction, builds the TenantScope over them,
 * computes the tenant's limits and builds the tenant's services. Nothing below it chooses a
 * database: services and repositories only see what the session hands them.
 */
import { embeddingProvider, type EmbeddingProvider } from './ai/embeddings';
import { deploymentEmbedding, recordedEmbedder, TenantModels } from './ai/model-providers';
import { openTenantKey, ProviderSettingsService, type ProviderRules } from './ai/provider-settings';
import type { Principal } from './auth/principal';
import { databaseFor, type Database } from './db/client';
import { PlatformStore } from './db/platform-store';
import type { TenantRow } from './db/schema';
import { TenantScope } from './db/tenant-scope';
import { loadConfig, type AppEnv, type Config, type PlanLimits } from './env';
import { AppError } from './lib/errors';
import { WebhookService } from './lifecycle/webhooks';
import type { Logger } from './lib/log';
import { limitsOf } from './objects/admission-rules';
import { guardClient } from './objects/guard-client';
import { guardNamespace } from './objects/guard-namespace';
import { guardRouter, type GuardRouter } from './objects/guard-router';
import type { GuardClient } from './objects/guard-types';
import type { DeletionMessage } from './lifecycle/tenant-deletion';
import type { ExportMessage } from './lifecycle/tenant-export';
import type { MoveMessage } from './placement/move';
import { openStore, type TenantStore } from './placement/store';
import { AgentService } from './rag/agents';
import { AnswerService } from './rag/answer';
import { buildDocumentServices, type DocumentServices } from './rag/document-services';
import { TenantEmbeddings } from './rag/embedding-spaces';
import { ReembeddingService, type ReembedMessage } from './rag/reembedding';
import type { EmbedderSpec } from './db/repositories/embedders';
import type { VectorReader, VectorStore } from './vector/types';

/**
 * What is built once per request (or queue batch) before any tenant is known: validated
 * configuration, the catalogue database, deployment-wide clients.
 */
export interface Root {
  env: AppEnv;
  config: Config;
  /** The global catalogue (DB): tenants, domains, API keys, memberships, usage, platform audit. */
  catalogue: Database;
  platform: PlatformStore;
  /** The deployment's embedder (a tenant with its own provider embeds with that one instead). */
  embedder: EmbeddingProvider;
  log: Logger;
  waitUntil(promise: Promise<unknown>): void;
  /** The D1 Sessions bookmark the client sent (BOOKMARK_HEADER), if any. */
  bookmark?: string | null;
  /** Enqueues a background job message (moves, re-embeddings, deletions, exports: on the ingest queue), optionally delayed. */
  enqueueJob(message: JobMessage, delaySeconds?: number): Promise<unknown>;
  /**
   * Every tenant's TenantGuard, in its placement's jurisdiction (src/objects/guard-router.ts):
   * the one way to address a guard, whoever calls (admission, session, jobs, resolvers).
   */
  guards: GuardRouter;
  /** A tenant's TenantGuard by id (null with the guard off): for jobs that change admission data. */
  guardFor(tenantId: string): GuardClient | null;
}

/** The tenant jobs carried by the shared queue (src/jobs/queue-router.ts). */
export type JobMessage = MoveMessage | ReembedMessage | DeletionMessage | ExportMessage;

/** Request and response header carrying a D1 Sessions bookmark (docs/placement.md). */
export const BOOKMARK_HEADER = 'x-edgerag-bookmark';

/** Bookmarks are opaque to clients; this only keeps junk away from the D1 API. */
const BOOKMARK_RE = /^[A-Za-z0-9._:-]{1,256}$/;

/** The client's bookmark, checked: BAD_USER_INPUT naming the header when it cannot be one. */
export function parseBookmark(value: string | null): string | null {
  if (value === null || value === '') return null;
  if (!BOOKMARK_RE.test(value)) throw new AppError('BAD_USER_INPUT', `${BOOKMARK_HEADER} is not a bookmark this service issued`, { field: BOOKMARK_HEADER });
  return value;
}

/** Builds the root. Throws ConfigError (naming the bad value) when the configuration is invalid. */
export function createRoot(env: AppEnv, opts: { log: Logger; waitUntil?(p: Promise<unknown>): void; bookmark?: string | null }): Root {
  const config = loadConfig(env);
  const catalogue = databaseFor(env.DB);
  const guards = guardRouter(env, config, catalogue, opts.log);
  return {
    env,
    config,
    catalogue,
    platform: new PlatformStore(catalogue),
    embedder: embeddingProvider(config),
    log: opts.log,
    waitUntil: opts.waitUntil ?? ((p) => void p.catch(() => undefined)),
    bookmark: parseBookmark(opts.bookmark ?? null),
    enqueueJob: (message, delaySeconds) => env.INGEST_QUEUE.send(message, delaySeconds ? { delaySeconds } : undefined),
    guards,
    guardFor: (tenantId) => (config.guardEnabled ? guards.forTenant(tenantId) : null),
  };
}

export interface TenantServices extends DocumentServices {
  answers: AnswerService;
  agents: AgentService;
  /** The tenant's chat and embedding providers (its own, or the deployment's). */
  models: TenantModels;
  providers: ProviderSettingsService;
  /** The tenant's webhook: registration, event announcements and the delivery job's step. */
  webhooks: WebhookService;
  /** The tenant's embedding generations for this request: query embedder, vectors, write targets. */
  embeddings: TenantEmbeddings;
  /** Embedding switches and their progress (`reembedding`). */
  reembedding: ReembeddingService;
}

/**
 * The tenant's provider settings, its per-request models and its embedding generations: the
 * one place where a tenant's own provider record meets the deployment's configuration (issue
 * 16). Lazy: a request that calls no model reads nothing.
 */
export function tenantModels(
  env: AppEnv,
  config: Config,
  scope: TenantScope | null,
  opts: { fetcher?: typeof fetch; vectors?: VectorStore & VectorReader } = {},
): { models: TenantModels; providers: ProviderSettingsService | null; embeddings: TenantEmbeddings | null; reembedding: ReembeddingService | null } {
  const deployment = { config, chatAllowlist: env.CHAT_MODEL_ALLOWLIST };
  if (!scope) return { models: new TenantModels(deployment, async () => null), providers: null, embeddings: null, reembedding: null };
  const deploymentSpec = (): EmbedderSpec => ({ ...deploymentEmbedding(config), baseUrl: null, apiKeySealed: null, keyId: null });
  // What the configuration names now: the tenant's provider record, else the deployment's.
  const current = async (): Promise<EmbedderSpec> => {
    const row = await scope.modelProvider.get();
    return row
      ? { model: row.embeddingModel, dimensions: row.embeddingDimensions, baseUrl: row.baseUrl, apiKeySealed: row.apiKeySealed, keyId: row.keyId }
      : deploymentSpec();
  };
  const embeddings = new TenantEmbeddings({
    tenantId: scope.tenantId,
    store: opts.vectors ?? missingVectors,
    rows: () => scope.embedders.live(),
    current,
    record: (spec) => scope.embedders.record(spec),
    embedderOf: (spec) => recordedEmbedder(config, spec, (sealed) => openTenantKey(env.ENCRYPTION_KEY, scope.tenantId, sealed)),
  });
  const reembedding = new ReembeddingService({
    scope, embeddings, current,
    enqueue: (message) => env.INGEST_QUEUE.send(message),
  });
  const providers = new ProviderSettingsService({
    scope,
    encryptionKey: env.ENCRYPTION_KEY,
    fetcher: opts.fetcher,
    reembedding,
    deploymentEmbedding: deploymentSpec,
    rules: async (): Promise<ProviderRules> => ({
      allowPrivateHosts: config.environment !== 'production',
      fixedDimensions: config.vectorBackend === 'vectorize' ? config.embeddingDimensions : null,
      urlFetch: config.urlFetch,
    }),
  });
  return { models: new TenantModels(deployment, () => providers.load()), providers, embeddings, reembedding };
}

/** Stands in where a caller built models without a vector store (nothing there reads vectors). */
const missingVectors: VectorStore & VectorReader = {
  upsert: () => Promise.reject(new Error('no vector store in this context')),
  query: () => Promise.reject(new Error('no vector store in this context')),
  deleteByIds: () => Promise.reject(new Error('no vector store in this context')),
  getByIds: () => Promise.reject(new Error('no vector store in this context')),
};

export interface TenantSession {
  readonly tenant: TenantRow;
  readonly principal: Principal;
  readonly requestId: string;
  /** The placement's handles: database, bucket, vector index, jurisdiction. */
  readonly store: TenantStore;
  readonly scope: TenantScope;
  readonly limits: PlanLimits;
  readonly guard: GuardClient | null;
  /** A move is running: reads continue, writes are refused with TENANT_MIGRATING. */
  readonly migrating: boolean;
  readonly services: TenantServices;
}

/** Plan limits merged with the tenant's own overrides: the same rule admission applies. */
export function effectiveLimits(config: Config, tenant: TenantRow): PlanLimits {
  return limitsOf(config.plans, tenant);
}

/**
 * The TenantGuard client of a tenant, in its placement's jurisdiction: the same object for
 * admission (the pipeline) and for the session's quota checks and usage records.
 */
export function tenantGuard(root: Root, tenant: TenantRow): GuardClient {
  return root.guards.forTenant(tenant.id, tenant.placement);
}

/**
 * Every TenantGuard object that may hold the tenant's state, for its purge
 * (src/lifecycle/tenant-deletion.ts): the tenant's guard (in its placement's jurisdiction) and,
 * when that is not the default namespace, the default one's object too (a predecessor retired
 * by a move into the jurisdiction keeps its hand-over snapshot).
 */
export function tenantGuardObjects(root: Root, tenant: TenantRow): { name: string; guard: GuardClient }[] {
  const jurisdiction = root.config.placements.get(tenant.placement)?.jurisdiction ?? null;
  return [
    { name: 'guard', guard: tenantGuard(root, tenant) },
    ...(jurisdiction ? [{ name: 'guard:default', guard: guardClient(guardNamespace(root.env, null), tenant.id, root.log) }] : []),
  ];
}

export interface SessionOptions {
  /** The guard the request was admitted by (the pipeline's), reused rather than rebuilt. */
  guard?: GuardClient | null;
  /** The bindings documents need besides the store (queue, fetch); defaults from env. */
  fetcher?: typeof fetch;
}

/**
 * Opens the tenant's session: resolves its placement once (UPSTREAM_UNAVAILABLE when its
 * database is behind the code's schema), then builds scope, limits, guard and services.
 */
export async function openTenantSession(
  root: Root,
  tenant: TenantRow,
  principal: Principal,
  requestId: string,
  opts: SessionOptions = {},
): Promise<TenantSession> {
  const { env, config, log } = root;
  const store = await openStore(root, tenant.placement, { bookmark: root.bookmark });
  // A shared tenant's data and catalogue rows are in one database: one handle for both keeps
  // the request's reads in one D1 session and lets the audit log see one database, not two.
  const catalogue = store.placement.kind === 'shared' ? store.db : root.catalogue;
  const scope = new TenantScope(store.db, tenant, principal, requestId, catalogue);
  const limits = effectiveLimits(config, tenant);
  const guard = opts.guard !== undefined ? opts.guard : config.guardEnabled ? tenantGuard(root, tenant) : null;
  const { models, providers, embeddings, reembedding } = tenantModels(env, config, scope, { fetcher: opts.fetcher, vectors: store.vectors });
  // Search and deletes go through the tenant's embedding generations: the active one's model
  // embeds the query and its namespace is searched; a delete reaches every generation.
  const documents = buildDocumentServices({
    scope, limits, guard, config, log, waitUntil: root.waitUntil,
    vectors: embeddings!.vectors, embedder: embeddings!.queryEmbedder, blobs: store.blobs, queue: env.INGEST_QUEUE,
    fetcher: opts.fetcher ?? ((input, init) => fetch(input, init)),
  });
  const agents = new AgentService({ scope, models });
  const answers = new AnswerService({
    scope,
    retriever: documents.retriever,
    provider: models.chat,
    models,
    agents,
    guard,
    limits,
    log,
  });
  const webhooks = new WebhookService({
    scope, encryptionKey: env.ENCRYPTION_KEY, log, fetcher: opts.fetcher, queue: env.INGEST_QUEUE,
    rules: { allowPrivateHosts: config.environment !== 'production', urlFetch: config.urlFetch },
  });
  return {
    tenant, principal, requestId, store, scope, limits, guard,
    migrating: tenant.movingTo !== null,
    services: { ...documents, answers, agents, models, providers: providers!, webhooks, embeddings: embeddings!, reembedding: reembedding! },
  };
}
