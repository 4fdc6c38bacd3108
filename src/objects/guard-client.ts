/**
 * Client for the per-tenant TenantGuard Durable Object. Fails closed: if the object
 * cannot be reached or throws, the caller gets UPSTREAM_UNAVAILABLE, never an admit.
 */
import type { PlanLimits } from '../env';
import { AppError } from '../lib/errors';
import { createLogger, errorDetail, type Logger } from '../lib/log';
import { requestStore } from '../lib/request-store';
import {
  MONTHLY_QUOTAS,
  type AdmitRequest,
  type AdmitResult,
  type GuardClient,
  type GateRequest,
  type GateResult,
  type GuardDirectory,
  type AgentUsageSnapshot,
  type QuotaCheck,
  type QuotaName,
  type RecordOptions,
  type Reservation,
  type UsageDelta,
  type UsageSnapshot,
} from './guard-types';
import type { TenantGuard } from './tenant-guard';

const unavailable = () => new AppError('UPSTREAM_UNAVAILABLE', 'Rate limiter unavailable, try again');

type GuardNamespace = DurableObjectNamespace<TenantGuard>;

export interface GuardClientHooks {
  /** Called with the placement the gate's record names (src/objects/guard-router.ts keeps it). */
  placementSeen?(placement: string): void;
}

/**
 * The guard of one tenant. `log` receives the cause when the guard fails (the client
 * only ever sees UPSTREAM_UNAVAILABLE). `ns` is the namespace, or a function that finds it
 * (the tenant's jurisdiction, src/objects/guard-router.ts): resolved on the first call, so a
 * failure to find it fails closed like a broken object.
 */
export function guardClient(ns: GuardNamespace | (() => Promise<GuardNamespace>), tenantId: string, log?: Logger, hooks: GuardClientHooks = {}): GuardClient {
  const logger = () => log ?? requestStore.getStore()?.log ?? createLogger('unknown');
  const call = async <T>(op: string, fn: () => Promise<T>, idempotent: boolean): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        await ready();
        return await fn();
      } catch (err) {
        // Read-only calls may be retried once on a transient error; admit/record may
        // have taken effect before the error, so retrying them could count twice.
        if (idempotent && attempt === 0 && (err as { retryable?: boolean })?.retryable && !(err as { overloaded?: boolean })?.overloaded) continue;
        logger().warn('tenant guard failed', { op, tenantId, ...errorDetail(err) });
        throw unavailable();
      }
    }
  };
  // idFromName: the same tenant always reaches the same single-threaded object. The stub
  // is made lazily inside `call` (`ready`), so a broken binding, or a namespace that cannot be
  // found, fails closed like a broken object. Only the namespace is awaited, never the stub
  // (a Promise resolved with a stub would ask the stub for `then`).
  let stub: DurableObjectStub<TenantGuard> | null = null;
  const namespace = typeof ns === 'function' ? ns : null;
  const ready = async (): Promise<void> => {
    if (stub) return;
    const n = namespace ? await namespace() : (ns as GuardNamespace);
    stub ??= n.get(n.idFromName(tenantId));
  };
  const guard = () => stub!;

  const quotaError = (quota: QuotaName, r: QuotaCheck) =>
    new AppError('QUOTA_EXCEEDED', MONTHLY_QUOTAS.includes(quota) ? `Monthly ${quota} quota exhausted` : `The ${quota} limit is reached`, {
      quota,
      limit: r.limit,
      used: r.used,
      retryAfter: Math.max(1, Math.ceil(r.retryAfterSeconds)),
    });
  const checkArgs = (quota: QuotaName, amount: number) => {
    // A caller bug, not an outage: surface it as an unexpected (masked, logged) error.
    if (typeof amount !== 'number' || !Number.isFinite(amount)) throw new TypeError(`quota amount for ${quota} must be a finite number`);
  };

  return {
    admit: (req: AdmitRequest) => call('admit', () => guard().admit(tenantId, req) as Promise<AdmitResult>, false),
    ensureQuota: async (limits: PlanLimits, quota: QuotaName, amount: number) => {
      checkArgs(quota, amount);
      const r = (await call('checkQuota', () => guard().checkQuota(tenantId, limits, quota, amount), true)) as QuotaCheck;
      if (!r.ok) throw quotaError(quota, r);
    },
    consume: async (limits: PlanLimits, quota: QuotaName, amount: number) => {
      checkArgs(quota, amount);
      const r = (await call('consume', () => guard().consume(tenantId, limits, quota, amount), false)) as QuotaCheck;
      if (!r.ok) throw quotaError(quota, r);
    },
    reserve: async (limits: PlanLimits, delta: UsageDelta): Promise<Reservation> => {
      for (const [quota, amount] of Object.entries(delta)) {
        if (amount !== undefined && (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0)) {
          throw new TypeError(`reservation ${quota} must be a finite number >= 0`);
        }
      }
      const r = await call('reserve', () => guard().reserve(tenantId, limits, delta), false);
      if (!r.ok) throw quotaError(r.quota!, r);
      let open = true;
      const adjust = async (change: UsageDelta & { promptTokens?: number }, opts?: RecordOptions) => {
        if (!open) return;
        open = false;
        const nonZero = Object.fromEntries(Object.entries(change).filter(([, v]) => v));
        // The estimate was exact and no agent is to be counted: nothing to tell the guard.
        if (Object.keys(nonZero).length === 0 && !opts?.agentId) return;
        try {
          await call('record', () => (opts?.agentId ? guard().record(tenantId, nonZero, opts) : guard().record(tenantId, nonZero)) as Promise<void>, false);
        } catch {
          // `call` has logged the cause; the reservation stands (an over-count, never an under-count).
        }
      };
      return {
        settle: (actual, opts) => {
          const change: Record<string, number> = { ...(actual as Record<string, number>) };
          for (const [k, v] of Object.entries(delta)) change[k] = (change[k] ?? 0) - (v ?? 0);
          // The tenant's counters hold the reservation and take the difference; an agent's
          // counters never saw the reservation and take the real figures (one event).
          return adjust(change, opts?.agentId ? { agentId: opts.agentId, agentDelta: actual } : undefined);
        },
        release: () => adjust(Object.fromEntries(Object.entries(delta).map(([k, v]) => [k, -(v ?? 0)]))),
      };
    },
    record: async (delta: UsageDelta & { promptTokens?: number }, opts?: RecordOptions) => {
      for (const [k, v] of Object.entries(delta)) {
        if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) throw new TypeError(`usage delta ${k} must be a finite number`);
      }
      // Agent-less records keep the two-argument call (an object without agents answers them as before).
      await call('record', () => (opts?.agentId ? guard().record(tenantId, delta, opts) : guard().record(tenantId, delta)) as Promise<void>, false);
    },
    usage: () => call('usage', () => guard().usage(tenantId) as Promise<UsageSnapshot>, true),
    agentUsage: (agentIds: string[]) => call('agentUsage', () => guard().agentUsage(tenantId, agentIds) as Promise<AgentUsageSnapshot[]>, true),
    // Not retried: a gate may have consumed tokens before the error.
    gate: async (req: GateRequest) => {
      const r = await call('gate', () => guard().gate(tenantId, req) as Promise<GateResult>, false);
      if (r.ok) hooks.placementSeen?.(r.tenant.placement);
      return r;
    },
    // A retried begin leaves at most an extra pending token, which only makes admission read D1 until it expires.
    beginChange: () => call('beginChange', () => guard().beginChange(tenantId), true),
    commitChange: (token: string) => call('commitChange', () => guard().commitChange(tenantId, token), true),
    allowedOrigins: (domain?: string | null) => call('allowedOrigins', () => (domain ? guard().allowedOrigins(tenantId, domain) : guard().allowedOrigins(tenantId)), true),
    flushActivity: () => call('flushActivity', () => guard().flushActivity(tenantId), true),
    // Idempotent (a second purge finds nothing), so a transient error may be retried.
    purge: () => call('purge', () => guard().purge(tenantId), true),
  };
}

/**
 * Reaches any tenant's guard in one namespace (tests and benchmarks; the Worker addresses
 * guards through src/objects/guard-router.ts, which knows each tenant's jurisdiction).
 */
export function guardDirectory(ns: GuardNamespace, log?: Logger): GuardDirectory {
  return { forTenant: (tenantId) => guardClient(ns, tenantId, log) };
}

/**
 * Runs `write` (the D1 change of something admission reads: status, plan, limits, settings,
 * a key's revocation) bracketed by the tenant guard's beginChange / commitChange (DESIGN §5).
 * If the guard cannot be told first, nothing is written (UPSTREAM_UNAVAILABLE). A lost
 * commit leaves the guard reading D1 per request until the change expires: never stale.
 */
export async function changeAdmission<T>(guard: GuardClient, write: () => Promise<T>, log?: Logger): Promise<T> {
  const token = await guard.beginChange();
  try {
    return await write();
  } finally {
    await guard.commitChange(token).catch((err: unknown) => {
      (log ?? requestStore.getStore()?.log ?? createLogger('unknown')).warn('guard commitChange failed; the guard reads D1 until the change expires', errorDetail(err));
    });
  }
}

/** Seconds from `now` to the start of the next UTC calendar month (when monthly quotas reset). */
export function secondsToMonthEnd(now = Date.now()): number {
  const d = new Date(now);
  const next = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return Math.max(1, Math.ceil((next - now) / 1000));
}
