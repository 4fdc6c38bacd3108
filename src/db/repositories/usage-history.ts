/**
 * Usage history for billing (issue 15): the monthly aggregates the TenantGuard's alarm
 * upserts into the `usage` table (absolute figures per tenant and month, src/objects/
 * tenant-guard.ts `flushOnce`).
 *
 * `usage` is a catalogue table (DESIGN §11: the global D1 keeps usage aggregates), not a
 * tenant-owned one, so this store is built on the catalogue database and not reached
 * through TenantScope: when tenant tables move to placement databases (issue 12) it stays
 * where the guard writes. A tenant reads only its own rows because the service passes the
 * verified scope's tenant id; only platform-admin code calls `report`.
 */
import { and, asc, eq, gt, gte, lte } from 'drizzle-orm';
import type { Database } from '../client';
import { tenants, usage, type TenantRow, type UsageRow } from '../schema';

export interface TenantUsageRow {
  usage: UsageRow;
  tenant: Pick<TenantRow, 'id' | 'slug' | 'name' | 'plan' | 'status'>;
}

export class UsageHistoryStore {
  constructor(private readonly db: Database) {}

  /** One tenant's flushed months in [from, to] (YYYY-MM, inclusive), oldest first. */
  async months(tenantId: string, from: string, to: string): Promise<UsageRow[]> {
    return this.db
      .select()
      .from(usage)
      .where(and(eq(usage.tenantId, tenantId), gte(usage.period, from), lte(usage.period, to)))
      .orderBy(asc(usage.period))
      .all();
  }

  /**
   * Every tenant's row for one month, in tenant-id order (keyset after `afterTenantId`).
   * A tenant with no row had no metered activity that month. Rows of tenants no longer in
   * the catalogue are left out (the inner join): nobody to bill.
   */
  async report(period: string, first: number, afterTenantId: string | null): Promise<{ items: TenantUsageRow[]; hasNextPage: boolean }> {
    const rows = await this.db
      .select({
        usage,
        tenant: { id: tenants.id, slug: tenants.slug, name: tenants.name, plan: tenants.plan, status: tenants.status },
      })
      .from(usage)
      .innerJoin(tenants, eq(tenants.id, usage.tenantId))
      .where(and(eq(usage.period, period), afterTenantId ? gt(usage.tenantId, afterTenantId) : undefined))
      .orderBy(asc(usage.tenantId))
      .limit(first + 1)
      .all();
    return { items: rows.slice(0, first), hasNextPage: rows.length > first };
  }
}
