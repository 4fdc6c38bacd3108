/**
 * Where a tenant's TenantGuard lives (DESIGN §5, §11): one object per tenant, in the Durable
 * Object jurisdiction of the tenant's placement (PLACEMENTS `jurisdiction`), so a regional
 * tenant's counters, buckets and admission record sit in its region. Every guard call of a
 * tenant — admission, quotas, usage records, the admission-change brackets, the move — is
 * addressed here, so a tenant has one guard, never one per caller.
 *
 * The ordering problem: admission needs the guard before it knows the tenant row (the guard
 * holds the record that names the placement). The answer is an isolate cache tenant id →
 * jurisdiction, filled from the catalogue on a miss (one query per tenant per isolate, and
 * none at all while no placement has a jurisdiction: warm requests stay at 0 D1 queries).
 * The cache is a hint, not the truth: a move that changes the jurisdiction retires the old
 * object, which forwards every later call to the new one (src/objects/tenant-guard.ts
 * `retire`), and the gate's answer carries the tenant row, whose placement corrects the
 * cache for the next request. A stale entry costs one extra hop, never a second guard.
 *
 * Locally workerd does not implement `namespace.jurisdiction()` (it throws "Jurisdiction
 * restrictions are not implemented in workerd"). With EMULATE_JURISDICTIONS=true
 * (development and test only) a jurisdiction's objects are the objects named
 * `<jurisdiction>:<tenant id>` of the one local namespace: distinct objects, so the routing
 * and the hand-over on moves are tested; the placement of data in a region is Cloudflare's.
 */
import type { Database } from '../db/client';
import { PlatformStore } from '../db/platform-store';
import type { AppEnv, Config } from '../env';
import type { Logger } from '../lib/log';
import { guardClient } from './guard-client';
import { guardNamespace, type Jurisdiction } from './guard-namespace';
import type { GuardClient, GuardDirectory } from './guard-types';
import type { TenantGuard } from './tenant-guard';

type GuardNamespace = DurableObjectNamespace<TenantGuard>;

/** The jurisdiction a placement's Durable Objects live in (unknown placements: none). */
export function jurisdictionOfPlacement(config: Config, placement: string): Jurisdiction {
  return config.placements.get(placement)?.jurisdiction ?? null;
}

/** Isolate cache: tenant id → jurisdiction of its guard (a hint; see the file comment). */
const known = new Map<string, Jurisdiction>();
const MAX_KNOWN = 20_000;

function remember(tenantId: string, j: Jurisdiction): void {
  if (!known.has(tenantId) && known.size >= MAX_KNOWN) known.delete(known.keys().next().value as string);
  known.set(tenantId, j);
}

/** Test hook: a fresh isolate's cache. */
export function forgetGuardJurisdictions(): void {
  known.clear();
}

export interface GuardRouter extends GuardDirectory {
  /**
   * The tenant's guard. `placement`, when the caller holds a fresh tenant row, addresses it
   * directly; otherwise the isolate cache (or the catalogue on a miss) says where it is.
   */
  forTenant(tenantId: string, placement?: string): GuardClient;
}

/** The one way this Worker addresses TenantGuards. */
export function guardRouter(env: AppEnv, config: Config, catalogue: Database, log?: Logger): GuardRouter {
  const anyJurisdiction = config.placements.entries.some((e) => e.jurisdiction);
  const jurisdictionOf = async (tenantId: string): Promise<Jurisdiction> => {
    // No placement has a jurisdiction: every guard is in the default namespace, no lookup.
    if (!anyJurisdiction) return null;
    const hit = known.get(tenantId);
    if (hit !== undefined) return hit;
    const row = await new PlatformStore(catalogue).tenantById(tenantId);
    const j = row ? jurisdictionOfPlacement(config, row.placement) : null;
    if (row) remember(tenantId, j);
    return j;
  };
  return {
    forTenant: (tenantId, placement) => {
      // Tenantless buckets (PLATFORM_GUARD) have no placement.
      if (tenantId.startsWith('__')) return guardClient(env.TENANT_GUARD as GuardNamespace, tenantId, log);
      const given = placement !== undefined ? jurisdictionOfPlacement(config, placement) : undefined;
      if (given !== undefined && anyJurisdiction) remember(tenantId, given);
      return guardClient(async () => guardNamespace(env, given !== undefined ? given : await jurisdictionOf(tenantId)), tenantId, log, {
        // The gate's record names the tenant's placement now: the next request goes straight there.
        placementSeen: (p) => {
          if (anyJurisdiction) remember(tenantId, jurisdictionOfPlacement(config, p));
        },
      });
    },
  };
}
