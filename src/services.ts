/**
 * The per-request service graph (composition root for domain services). Each feature
 * adds its service here; services receive the TenantScope and typed clients, never `env`
 * or a raw database handle.
 */
import { ChatModelPolicy, createChatProvider } from './ai/chat';
import type { TenantScope } from './db/tenant-scope';
import type { AppEnv, Config, PlanLimits } from './env';
import type { Logger } from './lib/log';
import { guardDirectory } from './objects/guard-client';
import type { GuardClient, GuardDirectory } from './objects/guard-types';
import { AnswerService } from './rag/answer';
import { buildDocumentServices, type DocumentServices } from './rag/document-services';

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
}

export function buildServices(deps: ServiceDeps): Services {
  const chatModels = new ChatModelPolicy(deps.config.openai.chatModel, deps.env.CHAT_MODEL_ALLOWLIST);
  const documentServices = buildDocumentServices(deps);
  return {
    ...documentServices,
    guards: guardDirectory(deps.env.TENANT_GUARD, deps.log),
    chatModels,
    answers: deps.scope
      ? new AnswerService({
          scope: deps.scope,
          retriever: documentServices.retriever,
          provider: createChatProvider({ apiKey: deps.config.openai.apiKey, baseUrl: deps.config.openai.baseUrl }),
          models: chatModels,
          guard: deps.guard,
          limits: deps.limits,
          log: deps.log,
        })
      : null,
  };
}
