/**
 * Admission, the named step before Yoga (DESIGN §1 steps 1-4, §5 "the hot path"):
 * `admit(request)` → `{ principal, tenant, limits, guard, admission, headers }`, or a
 * `Refusal` that carries its own error and headers.
 *
 * A warm request costs one Durable Object call and no D1 query: the credential is checked
 * in the isolate (JWT signature; API key secret against the immutable hash in the
 * directory), host and credential are mapped to the tenant id through the directory, and
 * the tenant's TenantGuard answers everything that can change (the tenant row, the key's
 * grant, the limits) together with the rate decision. With GUARD_ENABLED=false, the same
 * rules run here on a record read from D1 in one batch per request.
 */
import { identify, keyPrincipal, type Identity } from '../auth/authenticate';
import type { Directory } from '../auth/directory';
import type { Principal } from '../auth/principal';
import { loadAdmissionDirect, type KeyGrant } from '../db/admission-store';
import type { Database } from '../db/client';
import type { PlatformStore } from '../db/platform-store';
import { parseSettings } from '../db/repositories/tenant';
import type { TenantRow } from '../db/schema';
import type { Config, PlanLimits } from '../env';
import { AppError } from '../lib/errors';
import type { Logger } from '../lib/log';
import { judgeKey, judgeMember, judgeTenant, limitsOf } from '../objects/admission-rules';
import type { AdmitResult, GateCredential, GateDenial, GuardClient, UsageSnapshot } from '../objects/guard-types';
import { corsHeaders, isAllowedOrigin } from './cors';
import { tenantFromHost, type HostTenant } from './host';
import { operationWeight } from './operation-weight';
import { rateLimitHeaders } from './rate-limit-headers';

/** Tenantless platform admins are admitted through their own guard bucket. */
export const PLATFORM_GUARD = '__platform__';

export interface AdmissionDeps {
  config: Config;
  db: Database;
  platform: PlatformStore;
  directory: Directory;
  /** The guard of a tenant (or of PLATFORM_GUARD); null when GUARD_ENABLED=false. */
  guardFor: ((tenantId: string) => GuardClient) | null;
  /** Spends a pre-auth unit (src/http/preauth.ts) before a lookup the directory cannot answer. */
  beforeLookup: () => Promise<void>;
  log: Logger;
}

export interface Admitted {
  principal: Principal;
  /** The tenant the request acts in, as D1 holds it now; null only for a platform admin on the bare domain. */
  tenant: TenantRow | null;
  limits: PlanLimits | null;
  guard: GuardClient | null;
  admission: AdmitResult | null;
  /** The tenant's usage as the guard answered it with the admission (null without the guard). */
  usage: UsageSnapshot | null;
  /** CORS and RateLimit headers every response to this request carries. */
  headers: Record<string, string>;
}

/** A refused request: the client error and the headers its response carries (CORS, RateLimit, Retry-After). */
export class Refusal extends Error {
  constructor(
    readonly error: AppError,
    readonly headers: Record<string, string>,
    readonly admission: AdmitResult | null,
  ) {
    super(error.message, { cause: error });
    this.name = 'Refusal';
  }
}

/**
 * Runs admission for a size-capped request (`bytes`: its body, for the operation's weight).
 * Throws a Refusal for every client error.
 */
export async function admit(request: Request, bytes: Uint8Array, deps: AdmissionDeps): Promise<Admitted> {
  let headers: Record<string, string> = {};
  let admission: AdmitResult | null = null;
  try {
    const identity = await identify(request, deps);
    const host = tenantFromHost(request.headers.get('host') ?? new URL(request.url).host, deps.config.baseDomain);
    let { tenantId, domain } = await resolveTenantId(identity, host, deps);
    const weight = await operationWeight(request, bytes);

    let tenant: TenantRow;
    let key: KeyGrant | null;
    let limits: PlanLimits;
    let usage: UsageSnapshot | null = null;
    let guard: GuardClient | null;
    for (let attempt = 0; ; attempt++) {
      if (!tenantId) {
        // A platform admin on the bare domain (resolveTenantId allows nothing else here).
        const principal = (identity as Extract<Identity, { kind: 'jwt' }>).principal;
        guard = deps.guardFor?.(PLATFORM_GUARD) ?? null;
        headers = corsFor(request, deps.config, null);
        if (guard) {
          admission = await guard.admit({ limits: deps.config.plans.enterprise, userId: principal.userId, weight });
          headers = { ...headers, ...rateLimitHeaders(admission) };
          if (!admission.allowed) throw refusal(admission);
        }
        return { principal, tenant: null, limits: null, guard, admission, usage: null, headers };
      }
      const decided = await decide(identity, tenantId, domain, weight, deps);
      if (!decided.ok) {
        // The isolate mapped the host to a tenant that no longer has the domain (removed, or
        // moved to another tenant): forget the entry and resolve the host once more from D1,
        // so every isolate answers what a fresh one would. Nothing was counted by the refusal.
        if (decided.staleDomain && attempt === 0 && host.kind === 'domain') {
          deps.directory.forgetDomain(host.domain);
          ({ tenantId, domain } = await resolveTenantId(identity, host, deps));
          continue;
        }
        throw new AppError(decided.code, decided.message, decided.reason ? { reason: decided.reason } : {});
      }
      ({ tenant, key, limits, guard } = decided);
      if (decided.admission) {
        admission = decided.admission;
        usage = decided.usage;
        headers = { ...corsFor(request, deps.config, tenant), ...rateLimitHeaders(admission) };
        if (!admission.allowed) throw refusal(admission);
      } else {
        headers = corsFor(request, deps.config, tenant);
      }
      break;
    }
    const principal = identity.kind === 'apiKey' ? keyPrincipal(key!) : identity.principal;
    return { principal, tenant, limits, guard, admission, usage, headers };
  } catch (err) {
    if (err instanceof AppError) throw new Refusal(err, headers, admission);
    throw err;
  }
}

type Decision =
  | { ok: true; tenant: TenantRow; key: KeyGrant | null; limits: PlanLimits; guard: GuardClient | null; admission: AdmitResult | null; usage: UsageSnapshot | null }
  | ({ ok: false } & GateDenial);

/**
 * The tenant's decision on the credential: the TenantGuard's gate (one call, no D1 once warm),
 * or with the guard off the same rules on a record read from D1 in one batch.
 */
async function decide(identity: Identity, tenantId: string, domain: string | null, weight: number, deps: AdmissionDeps): Promise<Decision> {
  const credential: GateCredential =
    identity.kind === 'apiKey'
      ? { kind: 'apiKey', keyId: identity.keyId }
      : { kind: 'user', userId: identity.principal.userId!, role: identity.principal.role, track: !!identity.principal.tenantRef };
  const guard = deps.guardFor?.(tenantId) ?? null;
  if (guard) {
    const gate = await guard.gate({ credential, domain, weight });
    if (!gate.ok) return gate;
    return { ok: true, tenant: gate.tenant, key: gate.key, limits: gate.limits, guard, admission: gate.admission, usage: gate.usage };
  }
  const member = credential.kind === 'user' && credential.track ? credential.userId : null;
  const direct = await loadAdmissionDirect(deps.db, tenantId, identity.kind === 'apiKey' ? identity.keyId : null, member);
  const now = Date.now();
  const denied =
    (identity.kind === 'apiKey' ? judgeKey(direct.key, tenantId, now) : null) ??
    judgeTenant(direct.record, domain, now) ??
    (member && direct.record ? judgeMember(direct.record, member) : null);
  if (denied || !direct.record) return { ok: false, ...(denied ?? { code: 'UNAUTHENTICATED', message: 'The credential names no known tenant' }) };
  return { ok: true, tenant: direct.record.tenant, key: direct.key, limits: limitsOf(deps.config.plans, direct.record.tenant), guard: null, admission: null, usage: null };
}

/**
 * The tenant a request acts in. The host, when it names a tenant, must be the
 * credential's tenant (else FORBIDDEN — the same answer whether or not the host's
 * tenant exists, so hosts cannot be used to probe for tenants).
 */
async function resolveTenantId(
  identity: Identity, host: HostTenant, deps: AdmissionDeps,
): Promise<{ tenantId: string | null; domain: string | null }> {
  let tenantId = identity.tenantId;
  const platformAdmin = identity.kind === 'jwt' && identity.principal.platformAdmin;
  let domain: string | null = null;
  if (host.kind !== 'none') {
    const cached = host.kind === 'domain' && deps.directory.cachedDomain(host.domain);
    let hostTenantId = await hostTenant(host, deps);
    if (cached && hostTenantId && tenantId && hostTenantId !== tenantId) {
      // The isolate's tenant for a domain can be stale: the domain was removed and verified by
      // the credential's tenant since. One fresh lookup (paid for with pre-auth, like any miss)
      // decides; the guard then checks it again. Only a positive entry is looked up again: an
      // unknown host with a credential acts in the credential's tenant, and must stay free
      // (a domain verified elsewhere is unknown here for at most NEGATIVE_TTL_MS).
      deps.directory.forgetDomain(host.domain);
      hostTenantId = await hostTenant(host, deps);
    }
    if (host.kind === 'domain' && !hostTenantId && !tenantId) {
      // An unregistered custom host with a tenantless (platform) credential.
      return { tenantId: null, domain: null };
    }
    if (hostTenantId || host.kind === 'slug') {
      if (platformAdmin && !tenantId && hostTenantId) tenantId = hostTenantId;
      else if (!tenantId || !hostTenantId || hostTenantId !== tenantId) {
        throw new AppError('FORBIDDEN', 'This credential does not belong to this tenant host');
      }
      // The guard checks the tenant still owns the domain (the mapping above may be stale).
      if (host.kind === 'domain') domain = host.domain;
    }
  }
  if (!tenantId) {
    if (platformAdmin) return { tenantId: null, domain: null };
    throw new AppError('UNAUTHENTICATED', 'The credential names no tenant');
  }
  return { tenantId, domain };
}

/** The tenant id a host names (slug or custom domain), from the directory; spends pre-auth only on a miss. */
export async function hostTenant(host: HostTenant, deps: Pick<AdmissionDeps, 'directory' | 'platform' | 'beforeLookup'>): Promise<string | null> {
  if (host.kind === 'slug') {
    if (!deps.directory.cachedSlug(host.slug)) await deps.beforeLookup();
    return deps.directory.tenantIdOfSlug(deps.platform, host.slug);
  }
  if (host.kind === 'domain') {
    if (!deps.directory.cachedDomain(host.domain)) await deps.beforeLookup();
    return deps.directory.tenantIdOfDomain(deps.platform, host.domain);
  }
  return null;
}

function corsFor(request: Request, config: Config, tenant: TenantRow | null): Record<string, string> {
  const origin = request.headers.get('origin');
  if (!origin) return {};
  return corsHeaders(origin, isAllowedOrigin(origin, config.baseDomain, tenant ? parseSettings(tenant).allowedOrigins ?? [] : []));
}

function refusal(a: AdmitResult): AppError {
  const retryAfter = Math.max(1, Math.ceil(a.retryAfterSeconds));
  if (a.reason === 'quota') {
    return new AppError('QUOTA_EXCEEDED', `Monthly ${a.quota ?? 'request'} quota exhausted`, { quota: a.quota, retryAfter });
  }
  return new AppError('RATE_LIMITED', 'Too many requests', { retryAfter, policy: a.policy });
}
