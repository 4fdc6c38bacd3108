/**
 * The per-request service graph (composition root for domain services). Each feature
 * adds its service here; services receive the TenantScope and typed clients, never `env`
 * or a raw database handle.
 */
import type { ModelPolicySource } from './ai/chat';
import { embeddingProvider } from './ai/embeddings';
import { TenantModels } from './ai/model-providers';
import { ProviderSettingsService, type ProviderRules } from './ai/provider-settings';
import type { Principal } from './auth/principal';
import { effectiveLimits } from './context';
import { databaseFor } from './db/client';
import { PlatformStore } from './db/platform-store';
import { TenantScope } from './db/tenant-scope';
import { loadConfig, type AppEnv, type Config, type PlanLimits } from './env';
import { createLogger, type Logger } from './lib/log';
import { guardClient } from './objects/guard-client';
import { guardDirectory } from './objects/guard-client';
import type { GuardClient, GuardDirectory } from './objects/guard-types';
import { AgentService } from './rag/agents';
import { AnswerService } from './rag/answer';
import { buildDocumentServices, retrievalClients, type DocumentServices } from './rag/document-services';
import type { ConsumerDeps } from './rag/ingest-consumer';

export interface ServiceDeps {
  env: AppEnv;
  config: Config;
  scope: TenantScope | null;
  guard: GuardClient | null;
  limits: PlanLimits | null;
  log: Logger;
  waitUntil(promise: Promise<unknown>): void;
}

/** Documents and retrieval (retriever, ingestion): src/rag/document-services.ts. */
export interface Services extends DocumentServices {
  /** Any tenant's TenantGuard, for usage reads (the request's own guard is deps.guard). */
  guards: GuardDirectory;
  /** Chat models this tenant may choose: its own provider's chatModels, else CHAT_MODEL + CHAT_MODEL_ALLOWLIST. */
  chatModels: ModelPolicySource;
  /** The chat and embedding providers of this request's tenant (src/ai/model-providers.ts). */
  models: TenantModels;
  /** setModelProvider / clearModelProvider / testModelProvider; null on a tenantless request. */
  providers: ProviderSettingsService | null;
  /** ask / askStream; null on a tenantless (platform) request. */
  answers: AnswerService | null;
  /** createAgent / updateAgent / deleteAgent and the agent an ask uses; null on a tenantless request. */
  agents: AgentService | null;
}

/**
 * The tenant's provider settings and its per-request models: the one place where a
 * tenant's own provider record meets the deployment's configuration. Also used by the
 * ingestion consumer, so a queue message embeds with the same provider as a request.
 */
export function tenantModels(env: AppEnv, config: Config, scope: TenantScope | null): { models: TenantModels; providers: ProviderSettingsService | null } {
  const deployment = { config, chatAllowlist: env.CHAT_MODEL_ALLOWLIST };
  if (!scope) return { models: new TenantModels(deployment, async () => null), providers: null };
  const deploymentEmbedding = () => {
    const e = embeddingProvider(config);
    return { model: e.model, dimensions: e.dimensions };
  };
  const providers = new ProviderSettingsService({
    scope,
    encryptionKey: env.ENCRYPTION_KEY,
    rules: async (): Promise<ProviderRules> => {
      const row = await scope.modelProvider.get();
      return {
        allowPrivateHosts: config.environment !== 'production',
        currentEmbedding: row ? { model: row.embeddingModel, dimensions: row.embeddingDimensions } : deploymentEmbedding(),
        deploymentEmbedding: deploymentEmbedding(),
        fixedDimensions: config.vectorBackend === 'vectorize' ? config.embeddingDimensions : null,
      };
    },
  });
  return { models: new TenantModels(deployment, () => providers.load()), providers };
}

export function buildServices(deps: ServiceDeps): Services {
  const { models, providers } = tenantModels(deps.env, deps.config, deps.scope);
  const chatModels: ModelPolicySource = models;
  const documentServices = buildDocumentServices(deps, {
    blobs: deps.env.DOCUMENTS,
    queue: deps.env.INGEST_QUEUE,
    fetcher: (input, init) => fetch(input, init),
    embedder: models.embedder,
  });
  const agents = deps.scope ? new AgentService({ scope: deps.scope, models: chatModels }) : null;
  return {
    ...documentServices,
    guards: guardDirectory(deps.env.TENANT_GUARD, deps.log),
    chatModels,
    models,
    providers,
    agents,
    answers: deps.scope
      ? new AnswerService({
          scope: deps.scope,
          retriever: documentServices.retriever,
          provider: models.chat,
          models: chatModels,
          agents: agents!,
          guard: deps.guard,
          limits: deps.limits,
          log: deps.log,
        })
      : null,
  };
}

/**
 * The ingest queue consumer's dependencies (src/index.ts `queue`): each message acts in
 * its own tenant's TenantScope, as the ingestion system rather than a user.
 */
export function ingestConsumerDeps(env: AppEnv): ConsumerDeps {
  const config = loadConfig(env);
  const db = databaseFor(env.DB);
  const platform = new PlatformStore(db);
  const log = createLogger(`queue:${crypto.randomUUID()}`);
  return {
    tenant: async (tenantId) => {
      const tenant = await platform.tenantByRef(tenantId);
      if (!tenant || tenant.id !== tenantId) return null;
      const principal: Principal = {
        kind: 'user', tenantRef: tenant.id, userId: 'system:ingest', apiKeyId: null, role: 'member',
        scopes: [], platformAdmin: false, rateLimitPerMinute: null, collectionIds: null, agentIds: null,
      };
      const scope = new TenantScope(db, tenant, principal, `queue:${tenantId}`);
      return {
        scope,
        limits: effectiveLimits(config, tenant),
        guard: config.guardEnabled ? guardClient(env.TENANT_GUARD, tenant.id) : null,
        embedder: tenantModels(env, config, scope).models.embedder,
      };
    },
    blobs: env.DOCUMENTS,
    ...retrievalClients({ config, env }),
    log,
  };
}
