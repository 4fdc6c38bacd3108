/**
 * The per-request service graph (what resolvers call): the tenant session's services plus
 * the deployment-wide ones. Services receive the TenantScope and typed clients from the
 * session (src/tenant-session.ts), never `env` or a raw database handle.
 */
import type { ModelPolicySource } from './ai/chat';
import type { TenantModels } from './ai/model-providers';
import type { ProviderSettingsService } from './ai/provider-settings';
import type { ReembeddingService } from './rag/reembedding';
import type { Principal } from './auth/principal';
import type { AppEnv } from './env';
import { UsageHistoryStore } from './db/repositories/usage-history';
import { createLogger } from './lib/log';
import { UsageHistoryService } from './lifecycle/usage-history';
import type { WebhookService } from './lifecycle/webhooks';
import { directory } from './auth/directory';
import { DomainService } from './lifecycle/domains';
import { dohTxtResolver, localTxtResolver } from './lifecycle/domain-verification';
import type { GuardDirectory } from './objects/guard-types';
import type { AgentService } from './rag/agents';
import type { AnswerService } from './rag/answer';
import type { DocumentServices } from './rag/document-services';
import type { ConsumerDeps } from './rag/ingest-consumer';
import { createRoot, openTenantSession, tenantModels, type Root, type TenantSession } from './tenant-session';

export { tenantModels } from './tenant-session';

/** Documents and retrieval (retriever, ingestion): null on a tenantless (platform) request. */
export interface Services {
  retriever: DocumentServices['retriever'] | null;
  ingestion: DocumentServices['ingestion'] | null;
  /** Any tenant's TenantGuard, for usage reads (the request's own guard is the session's). */
  guards: GuardDirectory;
  /** Chat models this tenant may choose: its own provider's chatModels, else CHAT_MODEL + CHAT_MODEL_ALLOWLIST. */
  chatModels: ModelPolicySource;
  /** The chat and embedding providers of this request's tenant (src/ai/model-providers.ts). */
  models: TenantModels;
  /** setModelProvider / clearModelProvider / testModelProvider; null on a tenantless request. */
  providers: ProviderSettingsService | null;
  /** Embedding switches and their progress; null on a tenantless request. */
  reembedding: ReembeddingService | null;
  /** ask / askStream; null on a tenantless (platform) request. */
  answers: AnswerService | null;
  /** createAgent / updateAgent / deleteAgent and the agent an ask uses; null on a tenantless request. */
  agents: AgentService | null;
  /** The tenant's webhook (setWebhook, webhook); null on a tenantless request. */
  webhooks: WebhookService | null;
  /** Monthly usage history and the platform's usage report (the catalogue's usage aggregates). */
  usageHistory: UsageHistoryService;
  /** addDomain / verifyDomain / removeDomain / domains; null on a tenantless request. */
  domains: DomainService | null;
}

export function buildServices(root: Root, session: TenantSession | null): Services {
  const models = session?.services.models ?? tenantModels(root.env, root.config, null).models;
  // Every guard in its tenant's jurisdiction (src/objects/guard-router.ts), like the session's.
  const guards = root.guards;
  return {
    domains: session ? domainService(root, session, guards) : null,
    retriever: session?.services.retriever ?? null,
    ingestion: session?.services.ingestion ?? null,
    answers: session?.services.answers ?? null,
    agents: session?.services.agents ?? null,
    providers: session?.services.providers ?? null,
    webhooks: session?.services.webhooks ?? null,
    reembedding: session?.services.reembedding ?? null,
    models,
    chatModels: models,
    guards,
    // `usage` is a catalogue table (DESIGN §11): the global D1, whatever the tenant's placement.
    usageHistory: new UsageHistoryService(new UsageHistoryStore(root.catalogue)),
  };
}

/** Custom domains of the session's tenant, verified through DNS over HTTPS or the development stand-in (DOMAIN_VERIFIER). */
function domainService(root: Root, session: TenantSession, guards: GuardDirectory): DomainService {
  const { config } = root;
  return new DomainService({
    scope: session.scope,
    // The guard admission asks (also with GUARD_ENABLED=false: its record must not go stale).
    guard: session.guard ?? guards.forTenant(session.tenant.id),
    resolver: config.domains.verifier === 'local' ? localTxtResolver(root.platform) : dohTxtResolver((input, init) => fetch(input, init), config.domains.resolverUrl),
    baseDomain: config.baseDomain,
    routingChanged: (domain) => directory.forgetDomain(domain),
  });
}

/** The principal queue work acts as: the ingestion system, with a member's rights. */
export const INGEST_PRINCIPAL: Principal = {
  kind: 'user', tenantRef: null, userId: 'system:ingest', apiKeyId: null, role: 'member',
  scopes: [], platformAdmin: false, rateLimitPerMinute: null, collectionIds: null, agentIds: null,
};

/**
 * The ingest queue consumer's dependencies (src/index.ts `queue`): each message opens its
 * own tenant's session (so its placement's database, bucket and index, and its model
 * provider), as the ingestion system rather than a user.
 */
export function ingestConsumerDeps(env: AppEnv): ConsumerDeps {
  const log = createLogger(`queue:${crypto.randomUUID()}`);
  const root = createRoot(env, { log });
  return {
    tenant: async (tenantId) => {
      const tenant = await root.platform.tenantById(tenantId);
      if (!tenant) return null;
      const session = await openTenantSession(root, tenant, { ...INGEST_PRINCIPAL, tenantRef: tenant.id }, `queue:${tenantId}`);
      return {
        scope: session.scope, limits: session.limits, guard: session.guard, blobs: session.store.blobs,
        vectors: session.services.embeddings.vectors, embeddings: session.services.embeddings, migrating: session.migrating,
        webhooks: session.services.webhooks,
      };
    },
    requeue: (message, delaySeconds) => env.INGEST_QUEUE.send(message, { delaySeconds }),
    embedder: root.embedder,
    metadataKeys: root.config.search.metadataKeys,
    log,
  };
}
