/**
 * Usage for billing (issue 15): a tenant's monthly history and the platform's report over
 * all tenants for one month. Closed months come from the D1 aggregates the TenantGuard's
 * alarm writes (absolute figures, at most FLUSH_INTERVAL_MS behind the guard); the guard's
 * current month is read live from the guard, so it equals what the guard counted.
 *
 * Breakdowns: per agent for the live month (the guard keeps per-agent asks and tokens for
 * the current month only); per user and per API key for every month from the stored chat
 * messages (src/db/repositories/chat-usage.ts: what is still stored, so deleted or erased
 * conversations drop out of it). The guard keeps token buckets per key and user, not
 * monthly counts, so requests have no per-principal breakdown.
 */
import type { OwnerMonthUsage } from '../db/repositories/chat-usage';
import type { UsageHistoryStore, TenantUsageRow } from '../db/repositories/usage-history';
import type { UsageRow } from '../db/schema';
import type { TenantScope } from '../db/tenant-scope';
import { badInput } from '../lib/errors';
import { encodeCursor } from '../lib/pagination';
import type { AgentUsageSnapshot, GuardClient, UsageSnapshot } from '../objects/guard-types';

/** Most months one usageHistory call may span (ten years): bounds the reply. */
export const MAX_HISTORY_MONTHS = 120;
const PERIOD_RE = /^\d{4}-(0[1-9]|1[0-2])$/;

export interface AgentMonthUsage extends AgentUsageSnapshot {
  slug: string;
}

export interface UsageMonth {
  period: string;
  requests: number;
  asks: number;
  embeddingTokens: number;
  promptTokens: number;
  completionTokens: number;
  documents: number;
  storedBytes: number;
  rateLimited: number;
  /** True for the guard's current month (read live); false for a flushed D1 row. */
  live: boolean;
  /** When the figures were taken: the D1 row's flush time, or now for the live month. */
  asOf: string;
  /** Per-agent figures, live month only (null: not kept for closed months). */
  agents: AgentMonthUsage[] | null;
  /** Asks and tokens per user / API key, from stored messages. */
  byPrincipal: OwnerMonthUsage[];
}

export interface TenantUsageReportRow extends Omit<UsageMonth, 'live' | 'agents' | 'byPrincipal'> {
  tenantId: string;
  slug: string;
  name: string;
  plan: string;
  status: string;
}

/** Validates a YYYY-MM period; BAD_USER_INPUT naming `field` otherwise. */
export function checkedPeriod(value: string, field: string): string {
  if (!PERIOD_RE.test(value)) throw badInput(`${field} must be a month as YYYY-MM`, field);
  return value;
}

function monthsBetween(from: string, to: string): number {
  const [fy, fm] = from.split('-').map(Number) as [number, number];
  const [ty, tm] = to.split('-').map(Number) as [number, number];
  return (ty - fy) * 12 + (tm - fm) + 1;
}

function fromRow(r: UsageRow): Omit<UsageMonth, 'live' | 'agents' | 'byPrincipal'> {
  return {
    period: r.period, requests: r.requests, asks: r.asks, embeddingTokens: r.embeddingTokens,
    promptTokens: r.promptTokens, completionTokens: r.completionTokens, documents: r.documents,
    storedBytes: r.storedBytes, rateLimited: r.rateLimited, asOf: r.updatedAt,
  };
}

function fromSnapshot(s: UsageSnapshot): Omit<UsageMonth, 'live' | 'agents' | 'asOf' | 'byPrincipal'> {
  return {
    period: s.period, requests: s.requests, asks: s.asks, embeddingTokens: s.embeddingTokens,
    promptTokens: s.promptTokens, completionTokens: s.completionTokens, documents: s.documents,
    storedBytes: s.storedBytes, rateLimited: s.rateLimited,
  };
}

export class UsageHistoryService {
  constructor(private readonly store: UsageHistoryStore) {}

  /**
   * The scope's tenant's months in [from, to] that have figures, oldest first; the guard's
   * current month (when in range) live from the guard with its per-agent breakdown.
   * Months without a row had no metered activity and are left out.
   */
  async history(scope: TenantScope, guard: GuardClient, from: string, to: string): Promise<UsageMonth[]> {
    scope.requireUnrestricted('read the usage history');
    checkedPeriod(from, 'from');
    checkedPeriod(to, 'to');
    if (from > to) throw badInput('from must not be after to', 'from');
    if (monthsBetween(from, to) > MAX_HISTORY_MONTHS) throw badInput(`at most ${MAX_HISTORY_MONTHS} months per call`, 'to');

    const [rows, live, owners] = await Promise.all([
      this.store.months(scope.tenantId, from, to), guard.usage(), scope.chatUsage.byOwner(from, to),
    ]);
    const byPrincipal = (period: string) => owners.filter((o) => o.period === period);
    const months: UsageMonth[] = rows
      .filter((r) => r.period !== live.period)
      .map((r) => ({ ...fromRow(r), live: false, agents: null, byPrincipal: byPrincipal(r.period) }));
    if (live.period >= from && live.period <= to) {
      months.push({
        ...fromSnapshot(live), live: true, asOf: new Date().toISOString(),
        agents: await this.agentBreakdown(scope, guard), byPrincipal: byPrincipal(live.period),
      });
      months.sort((a, b) => (a.period < b.period ? -1 : 1));
    }
    return months;
  }

  /** Every tenant's flushed figures for one month (platform admins), keyset by tenant id. */
  async report(period: string, first: number, afterTenantId: string | null): Promise<{ items: TenantUsageReportRow[]; hasNextPage: boolean }> {
    checkedPeriod(period, 'period');
    const page = await this.store.report(period, first, afterTenantId);
    return { items: page.items.map(reportRow), hasNextPage: page.hasNextPage };
  }

  /** This month's asks and tokens per existing agent (a deleted agent's figures are not listed). */
  private async agentBreakdown(scope: TenantScope, guard: GuardClient): Promise<AgentMonthUsage[]> {
    const agents: { id: string; slug: string }[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await scope.agents.list(100, after);
      agents.push(...page.items.map((a) => ({ id: a.id, slug: a.slug })));
      if (!page.hasNextPage || page.items.length === 0) break;
      const last = page.items.at(-1)!;
      after = encodeCursor(last);
    }
    if (agents.length === 0) return [];
    const figures = await guard.agentUsage(agents.map((a) => a.id));
    return figures.map((f, i) => ({ ...f, slug: agents[i]!.slug }));
  }
}

function reportRow(r: TenantUsageRow): TenantUsageReportRow {
  return { ...fromRow(r.usage), tenantId: r.tenant.id, slug: r.tenant.slug, name: r.tenant.name, plan: r.tenant.plan, status: r.tenant.status };
}
