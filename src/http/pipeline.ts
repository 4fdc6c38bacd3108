/**
 * The request pipeline for /graphql (DESIGN §1): body limit → host tenant → credential →
 * tenant checks → TenantGuard admission → Yoga with a per-request context. Everything
 * refused here answers with a GraphQL-shaped error and the right HTTP status.
 */
import { authenticate } from '../auth/authenticate';
import type { Principal } from '../auth/principal';
import { createRequestContext, effectiveLimits } from '../context';
import type { PlatformStore } from '../db/platform-store';
import { parseSettings } from '../db/repositories/tenant';
import type { TenantRow } from '../db/schema';
import type { TenantScope } from '../db/tenant-scope';
import { loadConfig, type AppEnv, type Config } from '../env';
import { AppError } from '../lib/errors';
import { createLogger, errorDetail, type Logger } from '../lib/log';
import { requestStore } from '../lib/request-store';
import { guardClient } from '../objects/guard-client';
import type { AdmitResult, GuardClient } from '../objects/guard-types';
import { BOOKMARK_HEADER, createRoot, tenantGuard } from '../tenant-session';
import { yogaFor } from '../yoga';
import { limitBody } from './body';
import { corsHeaders, isAllowedOrigin } from './cors';
import { tenantFromHost } from './host';
import { rateLimitHeaders, withRateLimitExtension } from './rate-limit-headers';
import { errorResponse } from './responses';

/** Tenantless platform admins are admitted through their own guard bucket. */
const PLATFORM_GUARD = '__platform__';

export async function handleGraphQL(request: Request, env: AppEnv, exec: ExecutionContext): Promise<Response> {
  const requestId = request.headers.get('cf-ray') ?? crypto.randomUUID();
  const log = createLogger(requestId);
  const origin = request.headers.get('origin');
  let cors: Record<string, string> = {};
  let rl: Record<string, string> = {};
  let admit: AdmitResult | null = null;
  try {
    const config = loadConfig(env);
    const root = createRoot(env, { log, waitUntil: (p) => exec.waitUntil(p), bookmark: request.headers.get(BOOKMARK_HEADER) });
    const { platform } = root;

    if (request.method === 'OPTIONS') {
      // Preflight carries no credential: allow only origins of the base domain or the host's tenant.
      const hostTenant = await tenantOfHost(request, config, platform);
      const allowed = !!origin && isAllowedOrigin(origin, config.baseDomain, hostTenant ? parseSettings(hostTenant).allowedOrigins ?? [] : []);
      return new Response(null, { status: allowed ? 204 : 403, headers: corsHeaders(origin, allowed) });
    }
    if (request.method !== 'GET' && request.method !== 'POST') {
      throw new AppError('BAD_USER_INPUT', 'Use GET (queries) or POST');
    }

    const body = await limitBody(request, config.maxBodyBytes);
    const principal = await authenticate(body, config, platform);
    const tenant = await resolveTenant(body, config, platform, principal);
    if (origin) {
      const allowed = isAllowedOrigin(origin, config.baseDomain, tenant ? parseSettings(tenant).allowedOrigins ?? [] : []);
      cors = corsHeaders(origin, allowed);
    }

    let guard: GuardClient | null = null;
    if (config.guardEnabled) {
      // Fails closed: an unreachable or failing guard throws UPSTREAM_UNAVAILABLE (503).
      guard = tenant ? tenantGuard(root, tenant) : guardClient(env.TENANT_GUARD, PLATFORM_GUARD, log);
      const limits = tenant ? effectiveLimits(config, tenant) : config.plans.enterprise;
      admit = await guard.admit({
        limits,
        apiKey: principal.apiKeyId && principal.rateLimitPerMinute ? { id: principal.apiKeyId, perMinute: principal.rateLimitPerMinute } : null,
        userId: principal.userId,
      });
      rl = rateLimitHeaders(admit);
      if (!admit.allowed) throw refusal(admit);
    }

    const ctx = await createRequestContext({ root, requestId, principal, tenant, guard, rateLimit: admit });
    if (ctx.session) exec.waitUntil(recordActivity(platform, ctx.session.scope, principal, log));
    const yoga = yogaFor({ introspection: config.introspection });
    const response = await requestStore.run({ requestId, log }, () => yoga.fetch(body, { app: ctx }));
    if (response.status === 415) {
      // Yoga answers an unsupported content type with an empty body: give it the error contract.
      const err = new AppError('BAD_USER_INPUT', 'Unsupported content type: send application/json, application/graphql or multipart/form-data');
      const plain = errorResponse(err, requestId, { ...cors, ...rl });
      const res = new Response(plain.body, { status: 415, headers: plain.headers });
      return admit ? withRateLimitExtension(res, admit) : res;
    }
    // The D1 Sessions bookmark after this request's tenant-data queries (docs/placement.md).
    const bookmark = ctx.session?.store.bookmark();
    return withHeaders(response, { ...cors, ...rl, 'x-request-id': requestId, ...(bookmark ? { [BOOKMARK_HEADER]: bookmark } : {}) });
  } catch (err) {
    if (err instanceof AppError) {
      const res = errorResponse(err, requestId, { ...cors, ...rl });
      // A refusal carries the guard's figures in the body too, like every admitted response.
      return admit ? withRateLimitExtension(res, admit) : res;
    }
    log.error('request failed', errorDetail(err));
    return errorResponse(new AppError('INTERNAL_SERVER_ERROR', 'Unexpected error.'), requestId, { ...cors, ...rl });
  }
}

function refusal(a: AdmitResult): AppError {
  const retryAfter = Math.max(1, Math.ceil(a.retryAfterSeconds));
  if (a.reason === 'quota') {
    return new AppError('QUOTA_EXCEEDED', `Monthly ${a.quota ?? 'request'} quota exhausted`, { quota: a.quota, retryAfter });
  }
  return new AppError('RATE_LIMITED', 'Too many requests', { retryAfter, policy: a.policy });
}

async function tenantOfHost(request: Request, config: Config, platform: PlatformStore): Promise<TenantRow | null> {
  const host = tenantFromHost(request.headers.get('host') ?? new URL(request.url).host, config.baseDomain);
  if (host.kind === 'slug') return platform.tenantBySlug(host.slug);
  if (host.kind === 'domain') return platform.tenantByDomain(host.domain);
  return null;
}

/**
 * The tenant a request acts in. The host, when it names a tenant, must be the
 * credential's tenant (else FORBIDDEN — the same answer whether or not the host's
 * tenant exists, so hosts cannot be used to probe for tenants).
 */
async function resolveTenant(request: Request, config: Config, platform: PlatformStore, p: Principal): Promise<TenantRow | null> {
  const hostRef = tenantFromHost(request.headers.get('host') ?? new URL(request.url).host, config.baseDomain);
  let tenant: TenantRow | null = null;
  if (p.tenantRef) {
    tenant = await platform.tenantByRef(p.tenantRef);
    if (!tenant) throw new AppError('UNAUTHENTICATED', 'The credential names no known tenant');
  }
  if (hostRef.kind !== 'none') {
    const hostTenant = hostRef.kind === 'slug' ? await platform.tenantBySlug(hostRef.slug) : await platform.tenantByDomain(hostRef.domain);
    if (hostRef.kind === 'domain' && !hostTenant && !tenant) {
      // An unregistered custom host with a tenantless (platform) credential.
      return null;
    }
    if (hostTenant || hostRef.kind === 'slug') {
      if (p.platformAdmin && !tenant && hostTenant) tenant = hostTenant;
      else if (!tenant || !hostTenant || hostTenant.id !== tenant.id) {
        throw new AppError('FORBIDDEN', 'This credential does not belong to this tenant host');
      }
    }
  }
  if (!tenant) {
    if (p.platformAdmin) return null;
    throw new AppError('UNAUTHENTICATED', 'The credential names no tenant');
  }
  if (tenant.status === 'suspended' || tenant.status === 'cancelled') {
    throw new AppError('TENANT_SUSPENDED', `Tenant is ${tenant.status}`);
  }
  if (tenant.status === 'trial' && tenant.trialEndsAt && Date.parse(tenant.trialEndsAt) < Date.now()) {
    throw new AppError('TENANT_SUSPENDED', 'Tenant trial has ended');
  }
  return tenant;
}

/** Bookkeeping off the hot path: API key last_used_at, JWT users into members. */
async function recordActivity(platform: PlatformStore, scope: TenantScope, p: Principal, log: Logger): Promise<void> {
  try {
    if (p.apiKeyId) await platform.touchApiKey(p.apiKeyId);
    else if (p.userId && p.tenantRef) {
      await scope.members.recordSeen(p.userId, p.role);
    }
  } catch (err) {
    log.warn('activity bookkeeping failed', errorDetail(err));
  }
}

function withHeaders(res: Response, headers: Record<string, string>): Response {
  const out = new Response(res.body, res);
  for (const [k, v] of Object.entries(headers)) out.headers.set(k, v);
  return out;
}
