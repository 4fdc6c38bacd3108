/**
 * Per-request composition: everything a resolver may use is built here, once per
 * request, from the verified principal and its tenant. Resolvers never touch `env`.
 * The tenant part is the tenant session (src/tenant-session.ts): one per request.
 */
import type { Principal } from './auth/principal';
import type { PlatformStore } from './db/platform-store';
import type { TenantRow } from './db/schema';
import type { TenantScope } from './db/tenant-scope';
import type { Config, PlanLimits } from './env';
import { AppError } from './lib/errors';
import type { Logger } from './lib/log';
import type { AdmitResult, GuardClient, UsageSnapshot } from './objects/guard-types';
import { buildServices, type Services } from './services';
import { openTenantSession, type Root, type TenantSession } from './tenant-session';

export { effectiveLimits } from './tenant-session';

export interface RequestContext {
  requestId: string;
  config: Config;
  principal: Principal;
  /** The tenant the request acts in; null only for a platform admin on the bare domain. */
  tenant: TenantRow | null;
  /** The tenant session; null exactly when `tenant` is. */
  session: TenantSession | null;
  scope: TenantScope | null;
  limits: PlanLimits | null;
  guard: GuardClient | null;
  rateLimit: AdmitResult | null;
  /** The tenant's usage as the guard answered it at admission (null without the guard). */
  usageAtAdmission: UsageSnapshot | null;
  platform: PlatformStore;
  /** Per-request composition root (configuration, catalogue, deployment-wide clients). */
  root: Root;
  services: Services;
  log: Logger;
  waitUntil(promise: Promise<unknown>): void;
}

/** The Yoga context: Yoga adds `request`/`params`; ours sits under `app`. */
export interface GraphQLContext {
  app: RequestContext;
}

export interface ContextInput {
  root: Root;
  requestId: string;
  principal: Principal;
  tenant: TenantRow | null;
  /** The tenant's effective limits as admission computed them (null without a tenant). */
  limits: PlanLimits | null;
  guard: GuardClient | null;
  rateLimit: AdmitResult | null;
  usage?: UsageSnapshot | null;
}

/** Builds the request context; opens the tenant session when the request acts in a tenant. */
export async function createRequestContext(input: ContextInput): Promise<RequestContext> {
  const { root, tenant, principal, requestId } = input;
  const session = tenant ? await openTenantSession(root, tenant, principal, requestId, { guard: input.guard }) : null;
  return {
    requestId,
    config: root.config,
    principal,
    tenant,
    session,
    scope: session?.scope ?? null,
    limits: session?.limits ?? null,
    guard: session?.guard ?? input.guard,
    rateLimit: input.rateLimit,
    usageAtAdmission: input.usage ?? null,
    platform: root.platform,
    root,
    services: buildServices(root, session),
    log: root.log,
    waitUntil: root.waitUntil,
  };
}

/** The scope of a tenant-bound request; a tenantless platform admin must pick a tenant host. */
export function requireScope(ctx: RequestContext): TenantScope {
  if (!ctx.scope) throw new AppError('FORBIDDEN', 'This operation needs a tenant: call it on the tenant host');
  return ctx.scope;
}
