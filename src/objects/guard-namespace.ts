/**
 * The TenantGuard namespace of a Durable Object jurisdiction (src/objects/guard-router.ts says
 * which jurisdiction a tenant's guard is in). Apart from the router so the guard object itself
 * can forward to its successor after a move (src/objects/tenant-guard.ts `retire`).
 */
import type { AppEnv } from '../env';
import type { TenantGuard } from './tenant-guard';

type GuardNamespace = DurableObjectNamespace<TenantGuard>;
/** A Durable Object jurisdiction, or null for the default (jurisdiction-free) namespace. */
export type Jurisdiction = DurableObjectJurisdiction | null;

/** The TenantGuard namespace of a jurisdiction (null: the default, jurisdiction-free one). */
export function guardNamespace(env: Pick<AppEnv, 'TENANT_GUARD' | 'EMULATE_JURISDICTIONS' | 'ENVIRONMENT'>, jurisdiction: Jurisdiction): GuardNamespace {
  const ns = env.TENANT_GUARD as GuardNamespace;
  if (!jurisdiction) return ns;
  // Never in production (loadConfig refuses the combination; this keeps it true for the object too).
  if (env.EMULATE_JURISDICTIONS === 'true' && (env.ENVIRONMENT === 'development' || env.ENVIRONMENT === 'test')) return emulated(ns, jurisdiction);
  return ns.jurisdiction(jurisdiction) as GuardNamespace;
}

/** A jurisdiction's objects as differently named objects of the local namespace (see above). */
function emulated(ns: GuardNamespace, jurisdiction: DurableObjectJurisdiction): GuardNamespace {
  return {
    idFromName: (name: string) => ns.idFromName(`${jurisdiction}:${name}`),
    get: (id: DurableObjectId) => ns.get(id),
  } as unknown as GuardNamespace;
}
