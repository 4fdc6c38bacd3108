import { and, asc, eq } from 'drizzle-orm';
import type { Page } from '../../lib/pagination';
import { auditLog, type AuditRow } from '../schema';
import type { TenantScope } from '../tenant-scope';
import { afterCursor } from './keyset';

export class AuditRepo {
  constructor(private readonly scope: TenantScope) {}

  async list(first: number, after: string | null | undefined): Promise<Page<AuditRow>> {
    this.scope.requireUnrestricted('read the audit log');
    const { db, tenantId } = this.scope;
    const rows = await db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.tenantId, tenantId), afterCursor(auditLog.createdAt, auditLog.id, after)))
      .orderBy(asc(auditLog.createdAt), asc(auditLog.id))
      .limit(first + 1)
      .all();
    return { items: rows.slice(0, first), hasNextPage: rows.length > first };
  }
}
