/**
 * The per-request service graph (composition root for domain services). Each feature
 * adds its service here; services receive the TenantScope and typed clients, never `env`
 * or a raw database handle.
 */
import { ChatModelPolicy, createChatProvider } from './ai/chat';
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
  /** Chat models tenants may choose (CHAT_MODEL + CHAT_MODEL_ALLOWLIST). */
  chatModels: ChatModelPolicy;
  /** ask / askStream; null on a tenantless (platform) request. */
  answers: AnswerService | null;
  /** createAgent / updateAgent / deleteAgent and the agent an ask uses; null on a tenantless request. */
  agents: AgentService | null;
}

export function buildServices(deps: ServiceDeps): Services {
  const chatModels = new ChatModelPolicy(deps.config.openai.chatModel, deps.env.CHAT_MODEL_ALLOWLIST);
  const documentServices = buildDocumentServices(deps, {
    blobs: deps.env.DOCUMENTS,
    queue: deps.env.INGEST_QUEUE,
    fetcher: (input, init) => fetch(input, init),
  });
  const agents = deps.scope ? new AgentService({ scope: deps.scope, models: chatModels }) : null;
  return {
    ...documentServices,
    guards: guardDirectory(deps.env.TENANT_GUARD, deps.log),
    chatModels,
    agents,
    answers: deps.scope
      ? new AnswerService({
          scope: deps.scope,
          retriever: documentServices.retriever,
          provider: createChatProvider({ apiKey: deps.config.openai.apiKey, baseUrl: deps.config.openai.baseUrl }),
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
      return {
        scope: new TenantScope(db, tenant, principal, `queue:${tenantId}`),
        limits: effectiveLimits(config, tenant),
        guard: config.guardEnabled ? guardClient(env.TENANT_GUARD, tenant.id) : null,
      };
    },
    blobs: env.DOCUMENTS,
    ...retrievalClients({ config, env }),
    log,
  };
}
