/**
 * deleteTenant / restoreTenant (DESIGN §13, docs/lifecycle.md): a tenant is cancelled at once
 * (every credential refused from the next request) and purged — at once, or after the grace
 * period (TENANT_PURGE_GRACE_DAYS) during which restoreTenant gives it back. The purge is a
 * resumable job shaped like moveTenant (src/placement/move.ts): its step and progress live in
 * the catalogue (tenant_deletions), each unit of work is idempotent and recorded, and a queue
 * message drives it, so a crash or a failing store resumes from the last recorded unit.
 *
 *   scheduled  waiting for purge_after (the message re-enqueues itself with a delay); restorable
 *   fence      placement database: the tenant's write fence (a straggling writer is refused)
 *   inventory  counts of everything the tenant owns, per store (the receipt's figures)
 *   vectors    delete by the chunk ids of its rows (Vectorize has no namespace delete)
 *   originals  every R2 object under `<tenant>/` in its placement's bucket (exports included)
 *   rows       every tenant table, page by page behind the fence; keyword-index and residence rows
 *   catalogue  API keys, domains, memberships, model provider, exports, their audit rows
 *   objects    Durable Objects: the TenantGuard (its jurisdiction's namespace too) and the
 *              local vector index object, wiped with deleteAll
 *   verify     every store counted again: all zero → purged with the receipt in the platform
 *              audit log; anything left (a straggler) → inventory again, counts added
 *
 * Everything runs through the tenant session of the tenant's placement: nothing here picks a
 * database, bucket or index. What stays (the tombstone): the catalogue tenant row (status
 * cancelled, settings and overrides cleared), its platform audit trail (`tenant.*` actions,
 * the receipt among them), its usage aggregates (billing) and the deletion and move job rows;
 * in the placement database, the fence row that keeps refusing writes for the tenant id.
 */
import type { Principal } from '../auth/principal';
import { DeletionStore, type DeletionStep } from '../db/lifecycle-store';
import type { TenantDeletionRow, TenantRow } from '../db/schema';
import { chunkIdsPage, countTenantRows, deleteTenantRowsPage, setFence, TENANT_TABLES, type TenantTableName } from '../db/tenant-copy';
import { countCatalogueRows, countPlacementExtras, deleteCatalogueRows, deletePlacementExtras, embeddingGenerations, type CatalogueCounts } from '../db/tenant-purge';
import { AppError } from '../lib/errors';
import { changeAdmission } from '../objects/guard-client';
import { openTenantSession, tenantGuardObjects, type Root, type TenantSession } from '../tenant-session';
import { generationNamespace, generationVectorId } from '../vector/generations';

/** Rows per deleted page (one transaction each), vectors per deleteByIds call, objects per listed page. */
const ROW_PAGE = 500;
const VECTOR_PAGE = 100;
const OBJECT_PAGE = 500;
/** Queues' longest delivery delay (12 h): a longer grace period is waited out in hops. */
export const MAX_QUEUE_DELAY_SECONDS = 43_200;

export interface DeletionMessage {
  type: 'tenant.delete';
  deletionId: string;
}

export const isDeletionMessage = (body: unknown): body is DeletionMessage =>
  !!body && typeof body === 'object' && (body as DeletionMessage).type === 'tenant.delete' && typeof (body as DeletionMessage).deletionId === 'string';

/** Counts per store: what the purge found (and so removed). */
export interface PurgeCounts {
  rows: Partial<Record<TenantTableName | 'keyword_index' | 'residence', number>>;
  vectors: number;
  originals: number;
  exports: number;
  catalogue: Partial<CatalogueCounts>;
  durableObjects: number;
  guardRows: number;
}

/** Progress of the purge (tenant_deletions.state). */
export interface DeletionState {
  /** Passes of inventory → verify (more than one when verify found a straggler). */
  pass?: number;
  /** What earlier passes counted (the receipt is the sum). */
  removed?: PurgeCounts;
  /** This pass's inventory, while it is being taken. */
  counting?: Partial<PurgeCounts> & { originalsCursor?: string | null; originalsDone?: boolean; rowsDone?: boolean; catalogueDone?: boolean };
  cursor?: string | null;
  /**
   * The tenant's embedding generations, read before the catalogue step deletes their rows and
   * kept for later passes: each has its own vector namespace and ids.
   */
  generations?: number[];
  /** The generation whose vectors the vectors step is deleting (index into `generations`). */
  generationIndex?: number;
  cleaned?: TenantTableName[];
  objectsDone?: string[];
}

export interface DeletionDeps extends Root {
  /** Milliseconds since the epoch (tests move it past the grace period instead of sleeping). */
  now?(): number;
  /**
   * Test hook: called after each recorded unit of work; throwing there is a crash right after
   * that unit (the test then runs the job again and expects it to finish).
   */
  afterUnit?(step: DeletionStep, state: DeletionState): void | Promise<void>;
}

/** The principal the purge acts as inside the tenant: the lifecycle system, unrestricted. */
const LIFECYCLE_PRINCIPAL: Principal = {
  kind: 'user', tenantRef: null, userId: 'system:lifecycle', apiKeyId: null, role: 'owner',
  scopes: [], platformAdmin: false, rateLimitPerMinute: null, collectionIds: null, agentIds: null,
};

/** The tenant's session as the lifecycle jobs open it (the same placement resolution as a request). */
export function lifecycleSession(root: Root, tenant: TenantRow, jobId: string): Promise<TenantSession> {
  return openTenantSession({ ...root, bookmark: 'first-primary' }, tenant, { ...LIFECYCLE_PRINCIPAL, tenantRef: tenant.id }, `lifecycle:${jobId}`);
}

const emptyCounts = (): PurgeCounts => ({ rows: {}, vectors: 0, originals: 0, exports: 0, catalogue: {}, durableObjects: 0, guardRows: 0 });

function addCounts(a: PurgeCounts, b: Partial<PurgeCounts>): PurgeCounts {
  const rows = { ...a.rows };
  for (const [k, v] of Object.entries(b.rows ?? {})) rows[k as keyof PurgeCounts['rows']] = (rows[k as keyof PurgeCounts['rows']] ?? 0) + (v ?? 0);
  const catalogue = { ...a.catalogue };
  for (const [k, v] of Object.entries(b.catalogue ?? {})) catalogue[k as keyof CatalogueCounts] = (catalogue[k as keyof CatalogueCounts] ?? 0) + (v ?? 0);
  return {
    rows, catalogue,
    vectors: a.vectors + (b.vectors ?? 0),
    originals: a.originals + (b.originals ?? 0),
    exports: a.exports + (b.exports ?? 0),
    durableObjects: a.durableObjects + (b.durableObjects ?? 0),
    guardRows: a.guardRows + (b.guardRows ?? 0),
  };
}

/** Seconds until the purge may start, 0 when due. */
const secondsUntil = (d: TenantDeletionRow, now: number) => Math.max(0, Math.ceil((Date.parse(d.purgeAfter) - now) / 1000));

async function enqueue(deps: DeletionDeps, d: TenantDeletionRow, delaySeconds = 0): Promise<void> {
  await deps.enqueueJob({ type: 'tenant.delete', deletionId: d.id }, Math.min(MAX_QUEUE_DELAY_SECONDS, delaySeconds));
}

/**
 * deleteTenant (platform admins): cancels the tenant now — through the guard's admission
 * record, so every credential is refused from the next request — and schedules its purge
 * (now with `purge`, else after the grace period). Idempotent: a tenant already being deleted
 * answers its deletion (brought forward to now with `purge`), a purged one its receipt.
 */
export async function deleteTenant(deps: DeletionDeps, tenantId: string, purge: boolean, actor: string, requestId: string): Promise<TenantDeletionRow> {
  const tenant = await deps.platform.tenantById(tenantId);
  if (!tenant) throw new AppError('NOT_FOUND', 'Tenant not found');
  const store = new DeletionStore(deps.catalogue);
  const now = deps.now?.() ?? Date.now();
  const active = await store.activeFor(tenantId);
  if (active) {
    if (purge && active.step === 'scheduled' && secondsUntil(active, now) > 0 && (await store.purgeNow(active, actor, requestId))) await enqueue(deps, active);
    return (await store.get(active.id))!;
  }
  const latest = await store.latestFor(tenantId);
  if (latest?.step === 'purged') return latest;
  if (tenant.movingTo) {
    throw new AppError('BAD_USER_INPUT', `tenant is moving to ${tenant.movingTo}: delete it once the move is done (or failed)`, { field: 'id' });
  }
  const purgeAfter = new Date(purge ? now : now + deps.config.lifecycle.purgeGraceSeconds * 1000).toISOString();
  const guard = deps.guardFor(tenantId);
  const write = () => store.start({ tenant, purgeAfter, actor, requestId });
  const row = await (guard ? changeAdmission(guard, write, deps.log) : write());
  // A concurrent deleteTenant won the unique index: answer its deletion.
  if (!row) return (await store.activeFor(tenantId)) ?? (await store.latestFor(tenantId))!;
  await enqueue(deps, row, secondsUntil(row, now));
  return row;
}

/**
 * restoreTenant (platform admins): during the grace period, the tenant gets its previous
 * status back (through the admission record: its credentials work from the next request).
 * BAD_USER_INPUT once the purge has started or when the tenant is not being deleted.
 */
export async function restoreTenant(deps: DeletionDeps, tenantId: string, actor: string, requestId: string): Promise<TenantDeletionRow> {
  const tenant = await deps.platform.tenantById(tenantId);
  if (!tenant) throw new AppError('NOT_FOUND', 'Tenant not found');
  const store = new DeletionStore(deps.catalogue);
  const d = (await store.activeFor(tenantId)) ?? (await store.latestFor(tenantId));
  const refuse = (why: string) => new AppError('BAD_USER_INPUT', why, { field: 'id' });
  if (!d || d.step === 'restored') throw refuse('tenant is not being deleted: nothing to restore');
  if (d.step === 'purged') throw refuse('tenant was purged: its data is gone and it cannot be restored');
  if (d.step !== 'scheduled') throw refuse('the purge has started: the tenant cannot be restored any more');
  const guard = deps.guardFor(tenantId);
  const write = () => store.restore(d, actor, requestId);
  const restored = await (guard ? changeAdmission(guard, write, deps.log) : write());
  if (!restored) throw refuse('the purge has started: the tenant cannot be restored any more');
  return (await store.get(d.id))!;
}

/** Thrown when the job's row moved on under this run (another runner): this run stops. */
class Retry extends Error {}

/**
 * Runs the job from its recorded step until it is purged, is waiting for its grace period
 * (then it re-enqueues itself with the delay), or `maxUnits` units have run (then it
 * re-enqueues itself). Returns the job row as it ends this run.
 */
export async function runDeletion(deps: DeletionDeps, deletionId: string, opts: { maxUnits?: number } = {}): Promise<TenantDeletionRow | null> {
  const store = new DeletionStore(deps.catalogue);
  let budget = opts.maxUnits ?? Number.POSITIVE_INFINITY;
  for (;;) {
    const d = await store.get(deletionId);
    if (!d || d.finishedAt) return d;
    if (d.step === 'scheduled') {
      const wait = secondsUntil(d, deps.now?.() ?? Date.now());
      if (wait > 0) {
        await enqueue(deps, d, wait);
        return d;
      }
    }
    if (budget-- <= 0) {
      await enqueue(deps, d);
      return d;
    }
    const state = JSON.parse(d.state) as DeletionState;
    try {
      await runUnit(deps, store, d, state);
    } catch (err) {
      if (err instanceof Retry) return store.get(deletionId);
      // A store unreachable, a guard failing: keep the step, note the error, let the queue retry.
      await store.noteError(d.id, err instanceof Error ? err.message : String(err)).catch(() => undefined);
      throw err;
    }
  }
}

/** One unit of work of the current step, recorded before returning. */
async function runUnit(deps: DeletionDeps, store: DeletionStore, d: TenantDeletionRow, state: DeletionState): Promise<void> {
  const save = async (next: DeletionState) => {
    if (!(await store.saveState(d.id, d.step, next))) throw new Retry('the job moved on meanwhile');
    await deps.afterUnit?.(d.step, next);
  };
  const advance = async (to: DeletionStep, next: DeletionState, error: string | null = null) => {
    if (!(await store.advance(d, d.step, to, next, error))) throw new Retry('the job moved on meanwhile');
    await deps.afterUnit?.(d.step, next);
  };
  if (d.step === 'scheduled') return advance('fence', { pass: 1, removed: emptyCounts() });

  const tenant = await deps.platform.tenantById(d.tenantId);
  if (!tenant) throw new Error(`deletion ${d.id}: tenant ${d.tenantId} is gone from the catalogue`);
  const session = await lifecycleSession(deps, tenant, d.id);
  const { db, blobs, vectors } = session.store;
  const tenantId = d.tenantId;
  const placed = session.store.placement.kind !== 'shared';

  switch (d.step) {
    case 'fence': {
      // Behind the fence no write of a straggler (an ingest message of before the cancellation) lands.
      await setFence(db, tenantId, d.id, 'moved');
      return advance('inventory', { ...state, counting: {} });
    }
    case 'inventory': {
      const c = state.counting ?? {};
      if (!c.rowsDone) {
        const rows: PurgeCounts['rows'] = {};
        for (const t of TENANT_TABLES) rows[t.name] = await countTenantRows(db, t.name, tenantId);
        const extras = await countPlacementExtras(db, tenantId, placed);
        rows.keyword_index = extras.keywordIndex;
        rows.residence = extras.residence;
        // Kept across passes: the catalogue step of pass 1 deletes the rows that name them.
        const generations = [...new Set([...(state.generations ?? []), ...(await embeddingGenerations(deps.catalogue, tenantId))])].sort((a, b) => a - b);
        // Vectorize cannot count a namespace: the ids submitted are the chunk rows' ids (one per generation).
        let vectorCount = 0;
        for (const g of generations) vectorCount += vectors.countNamespace ? await vectors.countNamespace(generationNamespace(tenantId, g)) : g === 0 ? rows.chunks ?? 0 : 0;
        return save({ ...state, generations, counting: { ...c, rows, vectors: vectorCount, rowsDone: true } });
      }
      if (!c.originalsDone) {
        const page = await blobs.list({ prefix: `${tenantId}/`, limit: OBJECT_PAGE, ...(c.originalsCursor ? { cursor: c.originalsCursor } : {}) });
        const archives = page.objects.filter((o) => o.key.startsWith(`${tenantId}/exports/`)).length;
        return save({
          ...state,
          counting: {
            ...c, originals: (c.originals ?? 0) + page.objects.length - archives, exports: (c.exports ?? 0) + archives,
            originalsCursor: page.truncated ? page.cursor : null, originalsDone: !page.truncated,
          },
        });
      }
      if (!c.catalogueDone) return save({ ...state, counting: { ...c, catalogue: await countCatalogueRows(deps.catalogue, tenantId), catalogueDone: true } });
      const { originalsCursor: _c, originalsDone: _o, rowsDone: _r, catalogueDone: _k, ...counted } = c;
      return advance('vectors', { ...state, removed: addCounts(state.removed ?? emptyCounts(), counted), counting: undefined, cursor: null });
    }
    case 'vectors': {
      // Ids from the rows, before the rows go: the only way to reach a tenant's vectors in
      // Vectorize. Every generation in turn, each with its namespace and id suffix.
      const generations = state.generations ?? [0];
      const gi = state.generationIndex ?? 0;
      if (gi >= generations.length) return advance('originals', { ...state, cursor: null, generationIndex: undefined });
      const g = generations[gi]!;
      const ids = await chunkIdsPage(db, tenantId, state.cursor ?? null, VECTOR_PAGE);
      if (ids.length === 0) return save({ ...state, cursor: null, generationIndex: gi + 1 });
      await vectors.deleteByIds(generationNamespace(tenantId, g), ids.map((id) => generationVectorId(id, g)));
      return save({ ...state, cursor: ids.at(-1)! });
    }
    case 'originals': {
      const page = await blobs.list({ prefix: `${tenantId}/`, limit: OBJECT_PAGE });
      if (page.objects.length === 0) return advance('rows', { ...state, cleaned: [] });
      await blobs.delete(page.objects.map((o) => o.key));
      return save({ ...state });
    }
    case 'rows': {
      const cleaned = state.cleaned ?? [];
      // Children first (messages before conversations, chunks before documents), as a move's cleanup.
      const table = [...TENANT_TABLES].reverse().find((t) => !cleaned.includes(t.name));
      if (table) {
        const n = await deleteTenantRowsPage(db, table.name, tenantId, d.id, 'moved', ROW_PAGE);
        return save(n > 0 ? { ...state } : { ...state, cleaned: [...cleaned, table.name] });
      }
      await deletePlacementExtras(db, tenantId, placed);
      return advance('catalogue', { ...state, cleaned: undefined });
    }
    case 'catalogue': {
      await deleteCatalogueRows(deps.catalogue, tenantId);
      return advance('objects', { ...state, objectsDone: [] });
    }
    case 'objects': {
      const done = state.objectsDone ?? [];
      // Admission's guard and, in production regional placements, the session's in its jurisdiction.
      const targets: { name: string; wipe: () => Promise<number> }[] = [
        ...tenantGuardObjects(deps, tenant).map(({ name, guard }) => ({ name, wipe: async () => (await guard.purge()).rows })),
        // The local store's object of each generation's namespace (orphans included); its vectors were counted by the inventory.
        ...(vectors.purgeNamespace
          ? (state.generations ?? [0]).map((g) => ({
            name: g === 0 ? 'vectors' : `vectors:g${g}`,
            wipe: async () => (await vectors.purgeNamespace!(generationNamespace(tenantId, g)), 0),
          }))
          : []),
      ];
      const next = targets.find((t) => !done.includes(t.name));
      if (!next) return advance('verify', { ...state, objectsDone: undefined });
      const guardRows = await next.wipe();
      // Objects are counted once (a second pass wipes the same objects again).
      const removed = addCounts(state.removed ?? emptyCounts(), { durableObjects: (state.pass ?? 1) === 1 ? 1 : 0, guardRows });
      return save({ ...state, removed, objectsDone: [...done, next.name] });
    }
    case 'verify': {
      const left = await remaining(deps, session, tenantId, placed, state.generations ?? [0]);
      const pass = state.pass ?? 1;
      if (left.length) {
        return advance('fence', { ...state, pass: pass + 1, counting: undefined }, `pass ${pass} left ${left.join(', ')}: purging again`);
      }
      const removed = state.removed ?? emptyCounts();
      const receipt = { ...removed, passes: pass };
      if (!(await store.finish(d, state, receipt))) throw new Retry('the job moved on meanwhile');
      await deps.afterUnit?.('verify', state);
      return;
    }
    default:
      return;
  }
}

/** What is still there, named per store (empty when the tenant is gone from every store). */
async function remaining(deps: DeletionDeps, session: TenantSession, tenantId: string, placed: boolean, generations: readonly number[]): Promise<string[]> {
  const { db, blobs, vectors } = session.store;
  const left: string[] = [];
  for (const t of TENANT_TABLES) {
    const n = await countTenantRows(db, t.name, tenantId);
    if (n) left.push(`${n} ${t.name} rows`);
  }
  const extras = await countPlacementExtras(db, tenantId, placed);
  if (extras.keywordIndex) left.push('its keyword index row');
  if (extras.residence) left.push('its residence row');
  const objects = await blobs.list({ prefix: `${tenantId}/`, limit: 1 });
  if (objects.objects.length) left.push('R2 objects');
  if (vectors.countNamespace) {
    for (const g of generations) {
      const n = await vectors.countNamespace(generationNamespace(tenantId, g));
      if (n) left.push(`${n} vectors${g ? ` of embedding generation ${g}` : ''}`);
    }
  }
  for (const [k, n] of Object.entries(await countCatalogueRows(deps.catalogue, tenantId))) if (n) left.push(`${n} ${k}`);
  return left;
}

/**
 * For operations that would change a tenant being deleted (updateTenant, moveTenant): a
 * scheduled deletion must be undone with restoreTenant (so its status is not revived behind
 * the job's back), a running or finished purge leaves nothing to change.
 */
export async function refuseIfDeleted(catalogue: Root['catalogue'], tenantId: string, what: string): Promise<void> {
  const store = new DeletionStore(catalogue);
  const d = (await store.activeFor(tenantId)) ?? (await store.latestFor(tenantId));
  if (!d || d.step === 'restored') return;
  const why = d.step === 'scheduled' ? 'is deleted (grace period): restoreTenant first' : d.step === 'purged' ? 'was purged' : 'is being purged';
  throw new AppError('BAD_USER_INPUT', `cannot ${what}: the tenant ${why}`, { field: 'id' });
}
