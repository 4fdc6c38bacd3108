/**
 * The per-request service graph (composition root for domain services). Each feature
 * adds its service here; services receive the TenantScope and typed clients, never `env`
 * or a raw database handle.
 */
import type { TenantScope } from './db/tenant-scope';
import type { AppEnv, Config, PlanLimits } from './env';
import type { Logger } from './lib/log';
import type { GuardClient } from './objects/guard-types';

export interface ServiceDeps {
  env: AppEnv;
  config: Config;
  scope: TenantScope | null;
  guard: GuardClient | null;
  limits: PlanLimits | null;
  log: Logger;
  waitUntil(promise: Promise<unknown>): void;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled in by feature modules
export interface Services {}

export function buildServices(_deps: ServiceDeps): Services {
  return {};
}
