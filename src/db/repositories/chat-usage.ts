/**
 * Asks and tokens per person and per API key, per month, derived from the stored chat
 * messages (issue 15, usage breakdown). The TenantGuard counts only tenant-wide and
 * per-agent figures, so this is the one place that knows who asked: each assistant message
 * is one ask, with the prompt and completion tokens the model reported, and its
 * conversation's owner (`user:<sub>` / `key:<id>`) is who asked.
 *
 * It covers what is still stored: deleted conversations and erased users (eraseUser) drop
 * out of it, while the guard's totals keep them. Tenant-scoped like every repository.
 */
import { and, eq, gte, lt, sql } from 'drizzle-orm';
import { conversations, messages } from '../schema';
import type { TenantScope } from '../tenant-scope';

export interface OwnerMonthUsage {
  period: string;
  /** `user:<sub>` or `key:<api key id>`. */
  owner: string;
  asks: number;
  promptTokens: number;
  completionTokens: number;
}

/** First instant of the month after `period` (YYYY-MM), as stored ISO text compares. */
function monthAfter(period: string): string {
  const [y, m] = period.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m, 1)).toISOString();
}

export class ChatUsageRepo {
  constructor(private readonly scope: TenantScope) {}

  /** Per owner and month in [from, to] (YYYY-MM), owners with at least one answer only. */
  async byOwner(from: string, to: string): Promise<OwnerMonthUsage[]> {
    const { db, tenantId } = this.scope;
    const period = sql<string>`substr(${messages.createdAt}, 1, 7)`;
    const rows = await db
      .select({
        period,
        owner: conversations.ownerId,
        asks: sql<number>`count(*)`,
        promptTokens: sql<number>`coalesce(sum(${messages.promptTokens}), 0)`,
        completionTokens: sql<number>`coalesce(sum(${messages.completionTokens}), 0)`,
      })
      .from(messages)
      .innerJoin(conversations, and(eq(conversations.tenantId, messages.tenantId), eq(conversations.id, messages.conversationId)))
      .where(and(
        eq(messages.tenantId, tenantId),
        eq(messages.role, 'assistant'),
        gte(messages.createdAt, `${from}-01T00:00:00.000Z`),
        lt(messages.createdAt, monthAfter(to)),
      ))
      .groupBy(period, conversations.ownerId)
      .orderBy(period, conversations.ownerId)
      .all();
    return rows.map((r) => ({ ...r, asks: Number(r.asks), promptTokens: Number(r.promptTokens), completionTokens: Number(r.completionTokens) }));
  }
}
