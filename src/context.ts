/**
 * Per-request composition: everything a resolver may use is built here, once per
 * request, from the verified principal and its tenant. Resolvers never touch `env`.
 */
import type { Principal } from './auth/principal';
import type { Database } from './db/client';
import { PlatformStore } from './db/platform-store';
import type { TenantRow } from './db/schema';
import { TenantScope } from './db/tenant-scope';
import type { AppEnv, Config, PlanLimits } from './env';
import { AppError } from './lib/errors';
import type { Logger } from './lib/log';
import type { AdmitResult, GuardClient, UsageSnapshot } from './objects/guard-types';
import { limitsOf } from './objects/admission-rules';
import { buildServices, type Services } from './services';

export interface RequestContext {
  requestId: string;
  config: Config;
  principal: Principal;
  /** The tenant the request acts in; null only for a platform admin on the bare domain. */
  tenant: TenantRow | null;
  scope: TenantScope | null;
  limits: PlanLimits | null;
  guard: GuardClient | null;
  rateLimit: AdmitResult | null;
  /** The tenant's usage as the guard answered it at admission (null without the guard). */
  usageAtAdmission: UsageSnapshot | null;
  platform: PlatformStore;
  services: Services;
  log: Logger;
  waitUntil(promise: Promise<unknown>): void;
}

/** The Yoga context: Yoga adds `request`/`params`; ours sits under `app`. */
export interface GraphQLContext {
  app: RequestContext;
}

/** Plan limits merged with the tenant's own overrides (set by platform admins). */
export function effectiveLimits(config: Config, tenant: TenantRow): PlanLimits {
  return limitsOf(config.plans, tenant);
}

export interface ContextInput {
  env: AppEnv;
  db: Database;
  config: Config;
  requestId: string;
  principal: Principal;
  tenant: TenantRow | null;
  /** The tenant's effective limits as admission computed them (null without a tenant). */
  limits: PlanLimits | null;
  guard: GuardClient | null;
  rateLimit: AdmitResult | null;
  usage?: UsageSnapshot | null;
  log: Logger;
  waitUntil(promise: Promise<unknown>): void;
}

export function createRequestContext(input: ContextInput): RequestContext {
  const { env, db, config, tenant, principal, requestId } = input;
  const scope = tenant ? new TenantScope(db, tenant, principal, requestId) : null;
  const limits = input.limits ?? (tenant ? effectiveLimits(config, tenant) : null);
  return {
    requestId,
    config,
    principal,
    tenant,
    scope,
    limits,
    guard: input.guard,
    rateLimit: input.rateLimit,
    usageAtAdmission: input.usage ?? null,
    platform: new PlatformStore(db),
    services: buildServices({ env, config, scope, guard: input.guard, limits, log: input.log, waitUntil: input.waitUntil }),
    log: input.log,
    waitUntil: input.waitUntil,
  };
}

/** The scope of a tenant-bound request; a tenantless platform admin must pick a tenant host. */
export function requireScope(ctx: RequestContext): TenantScope {
  if (!ctx.scope) throw new AppError('FORBIDDEN', 'This operation needs a tenant: call it on the tenant host');
  return ctx.scope;
}
