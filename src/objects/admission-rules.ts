/**
 * The admission rules on a tenant's record (pure; the TenantGuard applies them to the record
 * it holds, the pipeline to one read from D1 when the guard is off). A denial names the code
 * and message the client gets; the order matters: the key first (401), then the tenant.
 */
import type { AdmissionRecord, KeyGrant } from '../db/admission-store';
import type { TenantRow } from '../db/schema';
import { parseSettings } from '../db/repositories/tenant';
import type { Plan, PlanLimits } from '../env';
import type { GateDenial } from './guard-types';

/** A key is good if it exists in this tenant, is not revoked and has not expired at `now`. */
export function judgeKey(grant: KeyGrant | null, tenantId: string, now: number): GateDenial | null {
  if (!grant || grant.tenantId !== tenantId) return { code: 'UNAUTHENTICATED', message: 'API key is invalid' };
  if (grant.revokedAt) return { code: 'UNAUTHENTICATED', message: 'API key has been revoked' };
  if (grant.expiresAt && Date.parse(grant.expiresAt) <= now) return { code: 'UNAUTHENTICATED', message: 'API key has expired' };
  return null;
}

/**
 * The tenant may act: it exists, still has the custom domain the request came on (if any)
 * verified, is neither suspended nor cancelled, and its trial (if any) has not ended.
 */
export function judgeTenant(record: AdmissionRecord | null, domain: string | null, now: number): GateDenial | null {
  if (!record) return { code: 'UNAUTHENTICATED', message: 'The credential names no known tenant' };
  if (domain && !record.domains.includes(domain)) {
    return { code: 'FORBIDDEN', message: 'This credential does not belong to this tenant host', staleDomain: true };
  }
  const t = record.tenant;
  if (t.status === 'suspended' || t.status === 'cancelled') return { code: 'TENANT_SUSPENDED', message: `Tenant is ${t.status}` };
  if (t.status === 'trial' && t.trialEndsAt && Date.parse(t.trialEndsAt) < now) {
    return { code: 'TENANT_SUSPENDED', message: 'Tenant trial has ended' };
  }
  return null;
}

/**
 * A member credential (a JWT whose token names this tenant) of a user an owner or admin
 * removed is refused with FORBIDDEN: the token is valid and the user is known (so not
 * UNAUTHENTICATED, which would send a client to fetch a new token that fails the same way),
 * they are just no longer admitted here. Platform operators visiting without a tenant claim
 * are not members and are not judged here.
 */
export function judgeMember(record: AdmissionRecord, userId: string): GateDenial | null {
  if (record.removedUsers.has(userId)) return { code: 'FORBIDDEN', message: 'This user has been removed from this tenant', reason: 'MEMBER_REMOVED' };
  return null;
}

/** The monthly token quotas a tenant may cap below its plan's (DESIGN §14 "spend caps"). */
export const SPEND_CAP_FIELDS = ['monthlyPromptTokens', 'monthlyCompletionTokens'] as const;
export type SpendCapField = (typeof SPEND_CAP_FIELDS)[number];
/** A tenant's own caps (tenant settings `spendCaps`); an absent field is uncapped (the plan's limit applies). */
export type SpendCaps = Partial<Record<SpendCapField, number>>;

/** The caps stored in a tenant's settings, ignoring anything that is not a whole number >= 0 (fail to the plan). */
export function spendCapsOf(tenant: TenantRow): SpendCaps {
  const caps = (parseSettings(tenant).spendCaps ?? {}) as Record<string, unknown>;
  const out: SpendCaps = {};
  for (const f of SPEND_CAP_FIELDS) {
    const v = caps[f];
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) out[f] = v;
  }
  return out;
}

/** Plan limits merged with the tenant's own overrides (set by platform admins), before the tenant's caps. */
export function planLimitsOf(plans: Record<Plan, PlanLimits>, tenant: TenantRow): PlanLimits {
  let overrides: Partial<PlanLimits> = {};
  try {
    overrides = JSON.parse(tenant.limits) as Partial<PlanLimits>;
  } catch {
    overrides = {};
  }
  return { ...plans[tenant.plan], ...overrides };
}

/**
 * The limits the guard enforces: plan and overrides, each capped quota lowered to the
 * tenant's cap. A cap above the plan (the plan changed after it was set) has no effect: the
 * lower of the two always wins, so a cap can only ever spend less.
 */
export function limitsOf(plans: Record<Plan, PlanLimits>, tenant: TenantRow): PlanLimits {
  const limits = planLimitsOf(plans, tenant);
  const caps = spendCapsOf(tenant);
  for (const f of SPEND_CAP_FIELDS) {
    const cap = caps[f];
    if (cap === undefined) continue;
    const plan = limits[f];
    limits[f] = plan === null || plan === undefined ? cap : Math.min(plan, cap);
  }
  return limits;
}
