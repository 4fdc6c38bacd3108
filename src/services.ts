/**
 * The per-request service graph (composition root for domain services). Each feature
 * adds its service here; services receive the TenantScope and typed clients, never `env`
 * or a raw database handle.
 */
import type { TenantScope } from './db/tenant-scope';
import type { AppEnv, Config, PlanLimits } from './env';
import type { Logger } from './lib/log';
import type { GuardClient } from './objects/guard-types';
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
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- other features add their members here
export interface Services extends DocumentServices {}

export function buildServices(deps: ServiceDeps): Services {
  const documentServices = buildDocumentServices(deps);
  return {
    ...documentServices,
  };
}
