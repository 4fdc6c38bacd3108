/**
 * moveTenant's job rows in the catalogue (tenant_moves, migration 0009) and the catalogue
 * side of a move: starting it (the tenant's moving_to, which refuses writes), advancing its
 * step with a compare-and-set (two runners never both do a step's bookkeeping), the atomic
 * switch of the tenant's placement, and its end. Every change is audited in the same batch.
 */
import { and, desc, eq, isNull } from 'drizzle-orm';
import { newId, nowIso } from '../lib/ids';
import type { Database } from './client';
import { auditLog, tenantDatabases, tenantMoves, tenants, type TenantDatabaseRow, type TenantMoveRow } from './schema';

export type MoveStep = TenantMoveRow['step'];

export interface NewMove {
  tenantId: string;
  source: string;
  target: string;
  actor: string;
  requestId: string;
  /** A libSQL target registered with the move. */
  database?: Omit<TenantDatabaseRow, 'createdAt'> | null;
}

const audit = (db: Database, m: { tenantId: string; actor: string; requestId: string | null }, action: string, moveId: string, details: Record<string, unknown>) =>
  db.insert(auditLog).values({
    id: newId(), tenantId: m.tenantId, actor: m.actor, action, targetType: 'tenant_move', targetId: moveId,
    details: JSON.stringify(details), requestId: m.requestId,
  });

export class MoveStore {
  constructor(private readonly db: Database) {}

  async get(id: string): Promise<TenantMoveRow | null> {
    return (await this.db.select().from(tenantMoves).where(eq(tenantMoves.id, id)).get()) ?? null;
  }

  async listForTenant(tenantId: string): Promise<TenantMoveRow[]> {
    return this.db.select().from(tenantMoves).where(eq(tenantMoves.tenantId, tenantId)).orderBy(desc(tenantMoves.createdAt)).limit(50).all();
  }

  /**
   * Starts a move: the job row, the tenant's moving_to (from now on writes are refused) and the
   * audit row in one batch, only if no move runs (the tenant's moving_to is NULL and the unique
   * index on unfinished moves holds). Returns null when another move runs.
   */
  async start(m: NewMove): Promise<TenantMoveRow | null> {
    const id = newId();
    const ts = nowIso();
    const row: TenantMoveRow = {
      id, tenantId: m.tenantId, source: m.source, target: m.target, step: 'fence', state: '{}', error: null,
      actor: m.actor, requestId: m.requestId, createdAt: ts, updatedAt: ts, finishedAt: null,
    };
    const [claimed] = await this.db.batch([
      this.db
        .update(tenants)
        .set({ movingTo: m.target, updatedAt: ts })
        .where(and(eq(tenants.id, m.tenantId), eq(tenants.placement, m.source), isNull(tenants.movingTo)))
        .returning({ id: tenants.id }),
    ]);
    if (claimed.length === 0) return null;
    try {
      await this.db.batch([
        this.db.insert(tenantMoves).values(row),
        ...(m.database ? [this.db.insert(tenantDatabases).values(m.database)] : []),
        audit(this.db, m, 'tenant.move.start', id, { source: m.source, target: m.target }),
      ]);
    } catch (err) {
      await this.db.update(tenants).set({ movingTo: null }).where(and(eq(tenants.id, m.tenantId), eq(tenants.movingTo, m.target))).run();
      throw err;
    }
    return row;
  }

  /** Records progress within a step (its state), only while the job is still at `step`. */
  async saveState(id: string, step: MoveStep, state: unknown): Promise<boolean> {
    const r = await this.db
      .update(tenantMoves)
      .set({ state: JSON.stringify(state), updatedAt: nowIso() })
      .where(and(eq(tenantMoves.id, id), eq(tenantMoves.step, step)))
      .returning({ id: tenantMoves.id });
    return r.length > 0;
  }

  /** Moves the job from `from` to `to` (compare-and-set), audited. False when it was not at `from`. */
  async advance(move: TenantMoveRow, from: MoveStep, to: MoveStep, state: unknown): Promise<boolean> {
    const [r] = await this.db.batch([
      this.db
        .update(tenantMoves)
        .set({ step: to, state: JSON.stringify(state), updatedAt: nowIso(), error: null })
        .where(and(eq(tenantMoves.id, move.id), eq(tenantMoves.step, from)))
        .returning({ id: tenantMoves.id }),
    ]);
    if (r.length === 0) return false;
    await this.db.batch([audit(this.db, move, `tenant.move.${from}`, move.id, { source: move.source, target: move.target, next: to })]);
    return true;
  }

  /**
   * The switch: the tenant's placement becomes the target and writes are allowed again, the job
   * goes on to cleanup, and the audit row — one catalogue transaction, so every later session
   * opens the target and none the source.
   */
  async switchPlacement(move: TenantMoveRow, state: unknown): Promise<boolean> {
    const ts = nowIso();
    const [switched] = await this.db.batch([
      this.db
        .update(tenantMoves)
        .set({ step: 'cleanup', state: JSON.stringify(state), updatedAt: ts })
        .where(and(eq(tenantMoves.id, move.id), eq(tenantMoves.step, 'switch')))
        .returning({ id: tenantMoves.id }),
      this.db
        .update(tenants)
        .set({ placement: move.target, movingTo: null, tier: move.target.startsWith('dedicated:') ? 'dedicated' : 'shared', updatedAt: ts })
        .where(and(eq(tenants.id, move.tenantId), eq(tenants.placement, move.source), eq(tenants.movingTo, move.target), sqlExistsMoveAt(this.db, move.id))),
      audit(this.db, move, 'tenant.move.switch', move.id, { source: move.source, target: move.target }),
    ]);
    return switched.length > 0;
  }

  async finish(move: TenantMoveRow, state: unknown): Promise<void> {
    const ts = nowIso();
    await this.db.batch([
      this.db.update(tenantMoves).set({ step: 'done', state: JSON.stringify(state), updatedAt: ts, finishedAt: ts }).where(and(eq(tenantMoves.id, move.id), eq(tenantMoves.step, 'cleanup'))),
      audit(this.db, move, 'tenant.move.done', move.id, { source: move.source, target: move.target, report: state }),
    ]);
  }

  /** Gives up before the switch: the tenant stays where it was and may write again. */
  async fail(move: TenantMoveRow, error: string, state: unknown): Promise<void> {
    const ts = nowIso();
    await this.db.batch([
      this.db.update(tenantMoves).set({ step: 'failed', error, state: JSON.stringify(state), updatedAt: ts, finishedAt: ts }).where(eq(tenantMoves.id, move.id)),
      this.db.update(tenants).set({ movingTo: null, updatedAt: ts }).where(and(eq(tenants.id, move.tenantId), eq(tenants.movingTo, move.target))),
      audit(this.db, move, 'tenant.move.fail', move.id, { source: move.source, target: move.target, error }),
    ]);
  }

  /** Notes a transient error on the job (it will be retried), without changing its step. */
  async noteError(id: string, error: string): Promise<void> {
    await this.db.update(tenantMoves).set({ error, updatedAt: nowIso() }).where(eq(tenantMoves.id, id)).run();
  }
}

/** The placement switch applies only while the job row says it is switching (moved on in the same batch). */
function sqlExistsMoveAt(db: Database, moveId: string) {
  // The job row was just set to cleanup by the first statement of the same batch.
  return eq(tenants.id, db.select({ t: tenantMoves.tenantId }).from(tenantMoves).where(and(eq(tenantMoves.id, moveId), eq(tenantMoves.step, 'cleanup'))));
}
