import { and, asc, eq } from 'drizzle-orm';
import type { Page } from '../../lib/pagination';
import type { Database } from '../client';
import { auditLog, type AuditRow } from '../schema';
import type { TenantScope } from '../tenant-scope';
import { afterCursor } from './keyset';

/**
 * Audit actions recorded in the catalogue (beside the catalogue rows they change): the tenant
 * row and settings, API keys, memberships, domains. Every other action is tenant data and
 * lives (and moves) with the tenant's placement. src/placement/move.ts copies by this rule.
 */
export const CATALOGUE_AUDIT_PREFIXES = ['tenant.', 'api_key.', 'member.', 'domain.'] as const;

export const isCatalogueAction = (action: string) => CATALOGUE_AUDIT_PREFIXES.some((p) => action.startsWith(p));

/** The tenant's audit log: one keyset page over both of its databases, merged by (created_at, id). */
export class AuditRepo {
  constructor(private readonly scope: TenantScope) {}

  async list(first: number, after: string | null | undefined): Promise<Page<AuditRow>> {
    this.scope.requireUnrestricted('read the audit log');
    const { db, catalogue } = this.scope;
    const sources = db === catalogue ? [db] : [db, catalogue];
    const pages = await Promise.all(sources.map((d) => this.page(d, first + 1, after)));
    const rows = pages
      .flat()
      .sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.createdAt < b.createdAt ? -1 : 1))
      .slice(0, first + 1);
    return { items: rows.slice(0, first), hasNextPage: rows.length > first };
  }

  private page(db: Database, limit: number, after: string | null | undefined): Promise<AuditRow[]> {
    return db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.tenantId, this.scope.tenantId), afterCursor(auditLog.createdAt, auditLog.id, after)))
      .orderBy(asc(auditLog.createdAt), asc(auditLog.id))
      .limit(limit)
      .all();
  }
}
