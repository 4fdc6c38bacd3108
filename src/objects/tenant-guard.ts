/**
 * TenantGuard: one Durable Object per tenant (DESIGN §5). PLACEHOLDER — a first,
 * tenant-bucket-only version; the full buckets/quotas/alarm flush replace it.
 */
import { DurableObject } from 'cloudflare:workers';
import type { PlanLimits } from '../env';
import type { AdmitRequest, AdmitResult, QuotaName, UsageDelta, UsageSnapshot } from './guard-types';

export class TenantGuard extends DurableObject<Env> {
  private tokens = -1;
  private last = 0;

  async admit(_tenantId: string, req: AdmitRequest): Promise<AdmitResult> {
    const cap = req.limits.requestsPerMinute;
    const now = Date.now();
    if (this.tokens < 0) this.tokens = cap;
    this.tokens = Math.min(cap, this.tokens + ((now - this.last) / 60_000) * cap);
    this.last = now;
    const allowed = this.tokens >= 1;
    if (allowed) this.tokens -= 1;
    return {
      allowed, reason: allowed ? null : 'rate', policy: 'tenant', limit: cap, remaining: Math.floor(this.tokens),
      resetSeconds: 60, retryAfterSeconds: allowed ? 0 : 60 / cap,
    };
  }

  async checkQuota(_t: string, _l: PlanLimits, _q: QuotaName, _a: number) {
    return { ok: true, limit: null as number | null, used: 0 };
  }

  async record(_t: string, _d: UsageDelta): Promise<void> {}

  async usage(_t: string): Promise<UsageSnapshot> {
    return { period: new Date().toISOString().slice(0, 7), requests: 0, asks: 0, embeddingTokens: 0, completionTokens: 0, promptTokens: 0, documents: 0, storedBytes: 0, rateLimited: 0 };
  }
}
