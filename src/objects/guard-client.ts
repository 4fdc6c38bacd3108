/**
 * Client for the per-tenant TenantGuard Durable Object. Fails closed: if the object
 * cannot be reached or throws, the caller gets UPSTREAM_UNAVAILABLE, never an admit.
 */
import type { PlanLimits } from '../env';
import { AppError } from '../lib/errors';
import type { AdmitRequest, AdmitResult, GuardClient, QuotaName, UsageDelta, UsageSnapshot } from './guard-types';
import type { TenantGuard } from './tenant-guard';

const unavailable = () => new AppError('UPSTREAM_UNAVAILABLE', 'Rate limiter unavailable, try again');

export function guardClient(ns: DurableObjectNamespace<TenantGuard>, tenantId: string): GuardClient {
  // idFromName: the same tenant always reaches the same single-threaded object.
  const stub = ns.get(ns.idFromName(tenantId));
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw unavailable();
    }
  };
  return {
    admit: (req: AdmitRequest) => call(() => stub.admit(tenantId, req) as Promise<AdmitResult>),
    ensureQuota: async (limits: PlanLimits, quota: QuotaName, amount: number) => {
      const r = (await call(() => stub.checkQuota(tenantId, limits, quota, amount))) as { ok: boolean; limit: number | null; used: number };
      if (!r.ok) {
        throw new AppError('QUOTA_EXCEEDED', `Monthly ${quota} quota exhausted`, { quota, limit: r.limit, used: r.used, retryAfter: secondsToMonthEnd() });
      }
    },
    record: (delta: UsageDelta & { promptTokens?: number }) => call(() => stub.record(tenantId, delta) as Promise<void>),
    usage: () => call(() => stub.usage(tenantId) as Promise<UsageSnapshot>),
  };
}

export function secondsToMonthEnd(now = Date.now()): number {
  const d = new Date(now);
  const next = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return Math.max(1, Math.ceil((next - now) / 1000));
}
