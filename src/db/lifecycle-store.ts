/**
 * The catalogue side of the tenant lifecycle jobs (migration 0013): deleteTenant's job rows
 * (tenant_deletions) with the tenant's cancellation and restoration, and tenant exports
 * (tenant_exports). Like MoveStore, a job's step only advances by compare-and-set, so two
 * runners never both do a step's bookkeeping, and every change is audited in the same batch.
 */
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import { newId, nowIso } from '../lib/ids';
import type { Database } from './client';
import { auditLog, tenantDeletions, tenantExports, tenants, type TenantDeletionRow, type TenantExportRow, type TenantRow } from './schema';

export type DeletionStep = TenantDeletionRow['step'];

const audit = (db: Database, d: { tenantId: string; actor: string; requestId: string | null }, action: string, targetType: string, targetId: string, details: Record<string, unknown>) =>
  db.insert(auditLog).values({
    id: newId(), tenantId: d.tenantId, actor: d.actor, action, targetType, targetId, details: JSON.stringify(details), requestId: d.requestId,
  });

export interface NewDeletion {
  tenant: TenantRow;
  purgeAfter: string;
  actor: string;
  requestId: string;
}

export class DeletionStore {
  constructor(private readonly db: Database) {}

  async get(id: string): Promise<TenantDeletionRow | null> {
    return (await this.db.select().from(tenantDeletions).where(eq(tenantDeletions.id, id)).get()) ?? null;
  }

  /** The tenant's newest deletion (running, scheduled, purged or restored), if any. */
  async latestFor(tenantId: string): Promise<TenantDeletionRow | null> {
    return (await this.db.select().from(tenantDeletions).where(eq(tenantDeletions.tenantId, tenantId)).orderBy(desc(tenantDeletions.createdAt)).limit(1).get()) ?? null;
  }

  /** The tenant's unfinished deletion (scheduled or purging), if any. */
  async activeFor(tenantId: string): Promise<TenantDeletionRow | null> {
    return (await this.db.select().from(tenantDeletions).where(and(eq(tenantDeletions.tenantId, tenantId), isNull(tenantDeletions.finishedAt))).get()) ?? null;
  }

  /**
   * Cancels the tenant and records its deletion, in one batch: the job row, tenants.status =
   * cancelled and the audit row. Null when another deletion of the tenant is unfinished (the
   * unique index on unfinished deletions), in which case nothing was written.
   */
  async start(d: NewDeletion): Promise<TenantDeletionRow | null> {
    const ts = nowIso();
    const row: TenantDeletionRow = {
      id: newId(), tenantId: d.tenant.id, step: 'scheduled', previousStatus: d.tenant.status, purgeAfter: d.purgeAfter, state: '{}', receipt: null,
      error: null, actor: d.actor, requestId: d.requestId, createdAt: ts, updatedAt: ts, finishedAt: null,
    };
    try {
      await this.db.batch([
        this.db.insert(tenantDeletions).values(row),
        this.db.update(tenants).set({ status: 'cancelled', updatedAt: ts }).where(eq(tenants.id, d.tenant.id)),
        audit(this.db, { tenantId: d.tenant.id, actor: d.actor, requestId: d.requestId }, 'tenant.delete', 'tenant_deletion', row.id, {
          previousStatus: d.tenant.status, purgeAfter: d.purgeAfter,
        }),
      ]);
    } catch (err) {
      if (await this.activeFor(d.tenant.id)) return null;
      throw err;
    }
    return row;
  }

  /** Brings a scheduled purge forward to now (deleteTenant with purge: true during the grace period). */
  async purgeNow(d: TenantDeletionRow, actor: string, requestId: string): Promise<boolean> {
    const ts = nowIso();
    const [r] = await this.db.batch([
      this.db.update(tenantDeletions).set({ purgeAfter: ts, updatedAt: ts })
        .where(and(eq(tenantDeletions.id, d.id), eq(tenantDeletions.step, 'scheduled'))).returning({ id: tenantDeletions.id }),
      audit(this.db, { tenantId: d.tenantId, actor, requestId }, 'tenant.delete.purge_now', 'tenant_deletion', d.id, { purgeAfter: ts }),
    ]);
    return r.length > 0;
  }

  /**
   * Restores a tenant during the grace period: the job ends as `restored` and the tenant gets
   * its previous status back, in one batch that applies only while the job is still scheduled
   * (the purge's start is a compare-and-set on the same row). False when the purge has started.
   */
  async restore(d: TenantDeletionRow, actor: string, requestId: string): Promise<boolean> {
    const ts = nowIso();
    // The statements after the first apply only if it restored this job (same transaction).
    const restoredNow = sql`EXISTS (SELECT 1 FROM ${tenantDeletions} WHERE ${tenantDeletions.id} = ${d.id} AND ${tenantDeletions.step} = 'restored' AND ${tenantDeletions.finishedAt} = ${ts})`;
    const details = JSON.stringify({ status: d.previousStatus });
    const [r] = await this.db.batch([
      this.db.update(tenantDeletions).set({ step: 'restored', updatedAt: ts, finishedAt: ts })
        .where(and(eq(tenantDeletions.id, d.id), eq(tenantDeletions.step, 'scheduled'))).returning({ id: tenantDeletions.id }),
      this.db.update(tenants).set({ status: d.previousStatus, updatedAt: ts }).where(and(eq(tenants.id, d.tenantId), restoredNow)),
      this.db.insert(auditLog).select(
        sql`SELECT ${newId()}, ${d.tenantId}, ${actor}, 'tenant.restore', 'tenant_deletion', ${d.id}, ${details}, ${requestId}, ${ts} WHERE ${restoredNow}`,
      ),
    ]);
    return r.length > 0;
  }

  /** Records progress within a step, only while the job is still at `step`. */
  async saveState(id: string, step: DeletionStep, state: unknown): Promise<boolean> {
    const r = await this.db.update(tenantDeletions).set({ state: JSON.stringify(state), updatedAt: nowIso() })
      .where(and(eq(tenantDeletions.id, id), eq(tenantDeletions.step, step))).returning({ id: tenantDeletions.id });
    return r.length > 0;
  }

  /** Moves the job from `from` to `to` (compare-and-set), audited. False when it was not at `from`. */
  async advance(d: TenantDeletionRow, from: DeletionStep, to: DeletionStep, state: unknown, error: string | null = null): Promise<boolean> {
    const [r] = await this.db.batch([
      this.db.update(tenantDeletions).set({ step: to, state: JSON.stringify(state), updatedAt: nowIso(), error })
        .where(and(eq(tenantDeletions.id, d.id), eq(tenantDeletions.step, from))).returning({ id: tenantDeletions.id }),
    ]);
    if (r.length === 0) return false;
    await this.db.batch([audit(this.db, d, `tenant.delete.${from}`, 'tenant_deletion', d.id, { next: to, ...(error ? { error } : {}) })]);
    return true;
  }

  /** The end: step purged, the receipt on the job row and in the platform audit log, one batch. */
  async finish(d: TenantDeletionRow, state: unknown, receipt: Record<string, unknown>): Promise<boolean> {
    const ts = nowIso();
    const [r] = await this.db.batch([
      this.db.update(tenantDeletions).set({ step: 'purged', state: JSON.stringify(state), receipt: JSON.stringify(receipt), updatedAt: ts, finishedAt: ts, error: null })
        .where(and(eq(tenantDeletions.id, d.id), eq(tenantDeletions.step, 'verify'))).returning({ id: tenantDeletions.id }),
      audit(this.db, d, 'tenant.delete.purged', 'tenant', d.tenantId, { deletionId: d.id, removed: receipt }),
    ]);
    return r.length > 0;
  }

  /** Notes a transient error on the job (it will be retried), without changing its step. */
  async noteError(id: string, error: string): Promise<void> {
    await this.db.update(tenantDeletions).set({ error, updatedAt: nowIso() }).where(eq(tenantDeletions.id, id)).run();
  }
}

export class ExportStore {
  constructor(private readonly db: Database) {}

  async get(id: string): Promise<TenantExportRow | null> {
    return (await this.db.select().from(tenantExports).where(eq(tenantExports.id, id)).get()) ?? null;
  }

  async listFor(tenantId: string): Promise<TenantExportRow[]> {
    return this.db.select().from(tenantExports).where(eq(tenantExports.tenantId, tenantId)).orderBy(desc(tenantExports.createdAt)).limit(50).all();
  }

  async create(tenantId: string, actor: string, requestId: string): Promise<TenantExportRow> {
    const id = newId();
    const ts = nowIso();
    const row: TenantExportRow = {
      id, tenantId, status: 'pending', objectKey: `${tenantId}/exports/${id}.zip`, progress: '{}', bytes: 0, error: null,
      actor, requestId, createdAt: ts, updatedAt: ts, finishedAt: null,
    };
    await this.db.batch([
      this.db.insert(tenantExports).values(row),
      audit(this.db, { tenantId, actor, requestId }, 'tenant.export', 'tenant_export', id, {}),
    ]);
    return row;
  }

  /** Progress of a running export (rows and files so far, bytes uploaded). */
  async progress(id: string, progress: unknown, bytes: number): Promise<void> {
    await this.db.update(tenantExports).set({ progress: JSON.stringify(progress), bytes, updatedAt: nowIso() })
      .where(and(eq(tenantExports.id, id), eq(tenantExports.status, 'running'))).run();
  }

  /** pending (or a running attempt that died) → running; false when the export already ended. */
  async begin(id: string): Promise<boolean> {
    const r = await this.db.update(tenantExports).set({ status: 'running', error: null, progress: '{}', bytes: 0, updatedAt: nowIso() })
      .where(and(eq(tenantExports.id, id), isNull(tenantExports.finishedAt))).returning({ id: tenantExports.id });
    return r.length > 0;
  }

  async complete(e: TenantExportRow, progress: unknown, bytes: number): Promise<void> {
    const ts = nowIso();
    await this.db.batch([
      this.db.update(tenantExports).set({ status: 'completed', progress: JSON.stringify(progress), bytes, updatedAt: ts, finishedAt: ts, error: null }).where(eq(tenantExports.id, e.id)),
      audit(this.db, e, 'tenant.export.completed', 'tenant_export', e.id, { bytes, ...(progress as Record<string, unknown>) }),
    ]);
  }

  async fail(e: TenantExportRow, error: string): Promise<void> {
    const ts = nowIso();
    await this.db.batch([
      this.db.update(tenantExports).set({ status: 'failed', error, updatedAt: ts, finishedAt: ts }).where(eq(tenantExports.id, e.id)),
      audit(this.db, e, 'tenant.export.failed', 'tenant_export', e.id, { error }),
    ]);
  }

  async noteError(id: string, error: string): Promise<void> {
    await this.db.update(tenantExports).set({ error, updatedAt: nowIso() }).where(eq(tenantExports.id, id)).run();
  }
}
