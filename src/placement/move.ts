/**
 * moveTenant (DESIGN §11, docs/placement.md): copies a tenant's rows, vectors and originals to
 * another placement, verifies them, switches the catalogue entry atomically and cleans up the
 * source. A resumable job: its step and progress live in the catalogue (tenant_moves), every
 * unit of work is idempotent, and a queue message drives it, so a crash anywhere resumes from
 * the last recorded unit when the message is redelivered.
 *
 *   start      catalogue: job row + tenants.moving_to (writes refused from here on: TENANT_MIGRATING)
 *   fence      source database: the tenant's write fence (triggers refuse any write that raced the start)
 *   copy       target: residence row, then every table page by page (INSERT … ON CONFLICT DO NOTHING)
 *   vectors    target index: getByIds from the source index, upsert (skipped when both share an index)
 *   originals  target bucket: every object under `<tenant>/` (skipped when both share a bucket)
 *   verify     counts and SHA-256 content hashes of rows, vectors and originals on both sides
 *   switch     catalogue, one batch: placement = target, moving_to = NULL (writes allowed again);
 *              when the jurisdiction changes, the target's TenantGuard is told first (expectAdoption)
 *   cleanup    guard hand-over (jurisdiction changed: the source guard retires and forwards, the
 *              target adopts its figures); then source vectors, originals and rows deleted behind
 *              the fence, which stays ('moved')
 *              so a writer still holding the old placement is refused instead of writing there
 *   done
 *
 * Reads keep working throughout: until the switch every session reads the source.
 */
import type { Database } from '../db/client';
import { MoveStore, type MoveStep } from '../db/move-store';
import { PlatformStore } from '../db/platform-store';
import type { TenantMoveRow, TenantRow } from '../db/schema';
import {
  chunkIdsPage,
  clearFence,
  deleteResidence,
  deleteTenantRowsPage,
  fingerprintTenantRows,
  insertTenantRows,
  readTenantRows,
  setFence,
  TENANT_TABLES,
  writeResidence,
  type TenantTableName,
} from '../db/tenant-copy';
import { AppError } from '../lib/errors';
import { refuseIfDeleted } from '../lifecycle/tenant-deletion';
import { errorDetail } from '../lib/log';
import { sha256Hex } from '../lib/ids';
import { changeAdmission } from '../objects/guard-client';
import { guardNamespace } from '../objects/guard-namespace';
import { jurisdictionOfPlacement } from '../objects/guard-router';
import type { GuardClient } from '../objects/guard-types';
import { choosePlacement, type PlacementRequest } from './choose';
import { GenerationVectors } from '../vector/generations';
import { openStore, type StoreRoot, type TenantStore } from './store';

/** Rows per copied page (one transaction each). */
const ROW_PAGE = 200;
/** Vectors per copied page. */
const VECTOR_PAGE = 100;
/** Objects per listed page. */
const OBJECT_PAGE = 100;
/**
 * How long verify waits for a Vectorize target to show the vectors copied into it: Vectorize
 * applies writes asynchronously (median under 30 s, DESIGN §10), so a first verify right after
 * the copy may see fewer. Past this, the shortfall is real and the move fails (source intact).
 */
export const VECTOR_VISIBILITY_MS = 5 * 60_000;

export interface MoveMessage {
  type: 'tenant.move';
  moveId: string;
}

export const isMoveMessage = (body: unknown): body is MoveMessage =>
  !!body && typeof body === 'object' && (body as MoveMessage).type === 'tenant.move' && typeof (body as MoveMessage).moveId === 'string';

/** Progress and figures of a move (tenant_moves.state). */
export interface MoveState {
  copyStarted?: boolean;
  /** Tables fully copied, and the keyset position inside the current one. */
  copied?: TenantTableName[];
  cursor?: string | null;
  vectorsCopied?: number;
  objectsCopied?: number;
  /** Verification figures, source side (target side must equal them). */
  rows?: Record<string, { count: number; hash: string }>;
  vectors?: { count: number; hash: string } | null;
  originals?: { count: number; hash: string } | null;
  /** When verify first found a Vectorize target short of vectors (waiting for them to apply). */
  vectorsPendingSince?: number;
  cleaned?: TenantTableName[];
  /** The TenantGuard's figures went to the target jurisdiction's guard (or no hand-over was needed). */
  guardHandedOver?: boolean;
  vectorsCleaned?: boolean;
  originalsCleaned?: boolean;
}

export interface MoveDeps extends StoreRoot {
  /** The tenant's guard (the root's), told around the tenant-row writes; absent with the guard off. */
  guardFor?(tenantId: string): GuardClient | null;
  /** The tenant's guard as a placement would address it (the target's, around the switch). */
  guards?: { forTenant(tenantId: string, placement?: string): GuardClient };
  /** Enqueues the job's next run (the ingest queue carries move messages too). */
  enqueue?(message: MoveMessage): Promise<unknown>;
  /**
   * Test hook: called after each recorded unit of work; throwing there is a crash right after
   * that unit (the test then runs the job again and expects it to finish).
   */
  afterUnit?(step: MoveStep, state: MoveState): void | Promise<void>;
}

/**
 * The tenant row's moving_to and placement are part of what admission reads from the
 * TenantGuard's record (DESIGN §5): both writes are bracketed like updateTenant's, so the
 * next request opens the new placement (or sees the fence), never the record's old one.
 */
function admissionChange<T>(deps: MoveDeps, tenantId: string, write: () => Promise<T>): Promise<T> {
  const guard = deps.guardFor?.(tenantId) ?? null;
  return guard ? changeAdmission(guard, write, deps.log) : write();
}

/** Thrown when the job's row moved on under this run (another runner): this run stops. */
class Retry extends Error {}

/**
 * Starts a move (platform admins): validates the target, records the job and enqueues it.
 * BAD_USER_INPUT for an unknown or equal target, a running move or an unknown tenant.
 */
export async function startMove(deps: MoveDeps, tenantId: string, req: PlacementRequest, actor: string, requestId: string): Promise<TenantMoveRow> {
  const platform = new PlatformStore(deps.catalogue);
  const tenant = await platform.tenantById(tenantId);
  if (!tenant) throw new AppError('NOT_FOUND', 'Tenant not found');
  if (tenant.movingTo) throw new AppError('BAD_USER_INPUT', `tenant is already moving to ${tenant.movingTo}`, { field: 'id' });
  // A move copies one embedding generation: a re-embedding (or its cleanup) finishes first.
  if ((await platform.embeddingGenerationOf(tenantId)).busy) {
    throw new AppError('BAD_USER_INPUT', "the tenant's embedding model is being switched; move it once reembedding is COMPLETED and cleaned up", { field: 'id' });
  }
  await refuseIfDeleted(deps.catalogue, tenantId, 'move it');
  const chosen = await choosePlacement({ env: deps.env, config: deps.config, platform }, req, tenant.slug, tenant.id);
  if (chosen.placement === tenant.placement) throw new AppError('BAD_USER_INPUT', `tenant is already in ${tenant.placement}`, { field: 'placement' });
  const move = await admissionChange(deps, tenantId, () => new MoveStore(deps.catalogue).start({
    tenantId, source: tenant.placement, target: chosen.placement, actor, requestId, database: chosen.database,
  }));
  if (!move) throw new AppError('BAD_USER_INPUT', 'another move of this tenant is running', { field: 'id' });
  await deps.enqueue?.({ type: 'tenant.move', moveId: move.id });
  return move;
}

/**
 * Runs the job from its recorded step until it is done, fails, or `maxUnits` units of work have
 * run (then it re-enqueues itself). Returns the job row as it ends this run.
 */
export async function runMove(deps: MoveDeps, moveId: string, opts: { maxUnits?: number } = {}): Promise<TenantMoveRow | null> {
  const moves = new MoveStore(deps.catalogue);
  let budget = opts.maxUnits ?? Number.POSITIVE_INFINITY;
  for (;;) {
    const move = await moves.get(moveId);
    if (!move || move.finishedAt) return move;
    if (budget-- <= 0) {
      await deps.enqueue?.({ type: 'tenant.move', moveId });
      return move;
    }
    const state = JSON.parse(move.state) as MoveState;
    try {
      await runUnit(deps, moves, move, state);
    } catch (err) {
      // Another run did this unit's bookkeeping first: it carries on, this one stops.
      if (err instanceof Retry) return moves.get(moveId);
      if (err instanceof VerifyError) {
        await moves.fail(move, err.message, state);
        await releaseAfterFailure(deps, move).catch((e: unknown) => deps.log.warn('move: releasing after a failed verify', errorDetail(e)));
        return moves.get(moveId);
      }
      // A transient failure (database, bucket or index unreachable; target not migrated yet):
      // keep the step, note the error, let the queue retry.
      await moves.noteError(move.id, err instanceof Error ? err.message : String(err)).catch(() => undefined);
      throw err;
    }
  }
}

class VerifyError extends Error {}

interface Sides {
  source: TenantStore;
  target: TenantStore;
  tenant: TenantRow;
  /** The tenant's vectors in each index: its active embedding generation (src/vector/generations.ts). */
  sourceVectors: GenerationVectors;
  targetVectors: GenerationVectors;
}

async function sidesOf(deps: MoveDeps, move: TenantMoveRow): Promise<Sides> {
  const tenant = await new PlatformStore(deps.catalogue).tenantById(move.tenantId);
  if (!tenant) throw new Error(`move ${move.id}: tenant ${move.tenantId} is gone`);
  // Writes go to the databases' primaries: the mover never reads a replica.
  const [source, target, generation] = await Promise.all([
    openStore(deps, move.source, { bookmark: 'first-primary' }),
    openStore(deps, move.target, { bookmark: 'first-primary' }),
    new PlatformStore(deps.catalogue).embeddingGenerationOf(move.tenantId),
  ]);
  return {
    source, target, tenant,
    sourceVectors: new GenerationVectors(source.vectors, move.tenantId, generation.active),
    targetVectors: new GenerationVectors(target.vectors, move.tenantId, generation.active),
  };
}

/** One unit of work of the current step, recorded before returning. */
async function runUnit(deps: MoveDeps, moves: MoveStore, move: TenantMoveRow, state: MoveState): Promise<void> {
  const save = async (next: MoveState) => {
    if (!(await moves.saveState(move.id, move.step, next))) throw new Retry('the job moved on meanwhile');
    await deps.afterUnit?.(move.step, next);
  };
  const advance = async (to: MoveStep, next: MoveState) => {
    if (!(await moves.advance(move, move.step, to, next))) throw new Retry('the job moved on meanwhile');
    await deps.afterUnit?.(move.step, next);
  };
  const sides = await sidesOf(deps, move);
  const { source, target, tenant } = sides;
  const tenantId = move.tenantId;

  switch (move.step) {
    case 'fence': {
      await setFence(source.db, tenantId, move.id, 'moving');
      return advance('copy', state);
    }
    case 'copy': {
      if (!state.copyStarted) {
        // A target may hold rows of an earlier, failed attempt: start from an empty target.
        await clearFence(target.db, tenantId);
        for (const t of [...TENANT_TABLES].reverse()) while ((await deleteTenantRowsPage(target.db, t.name, tenantId, move.id, 'moving')) > 0);
        await clearFence(target.db, tenantId);
        if (target.placement.kind !== 'shared') await writeResidence(target.db, tenant);
        return save({ ...state, copyStarted: true, copied: [], cursor: null });
      }
      const copied = state.copied ?? [];
      const table = TENANT_TABLES.find((t) => !copied.includes(t.name));
      if (!table) return advance('vectors', { ...state, cursor: null });
      const rows = await readTenantRows(source.db, table.name, tenantId, state.cursor ?? null, ROW_PAGE);
      await insertTenantRows(target.db, table.name, rows);
      if (rows.length < ROW_PAGE) return save({ ...state, copied: [...copied, table.name], cursor: null });
      return save({ ...state, cursor: String(rows.at(-1)!.id) });
    }
    case 'vectors': {
      if (source.vectorIndex === target.vectorIndex) return advance('originals', { ...state, cursor: null, vectorsCopied: 0 });
      const ids = await chunkIdsPage(source.db, tenantId, state.cursor ?? null, VECTOR_PAGE);
      if (ids.length === 0) return advance('originals', { ...state, cursor: null });
      const records = await sides.sourceVectors.getChunks(ids);
      if (records.length) await sides.targetVectors.upsert(records);
      return save({ ...state, cursor: ids.at(-1)!, vectorsCopied: (state.vectorsCopied ?? 0) + records.length });
    }
    case 'originals': {
      if (source.bucket === target.bucket) return advance('verify', { ...state, cursor: null, objectsCopied: 0 });
      const page = await source.blobs.list({ prefix: `${tenantId}/`, limit: OBJECT_PAGE, ...(state.cursor ? { startAfter: state.cursor } : {}) });
      for (const o of page.objects) {
        const obj = await source.blobs.get(o.key);
        if (!obj) continue; // deleted meanwhile (cannot happen behind the fence, but harmless)
        await target.blobs.put(o.key, await obj.arrayBuffer(), { httpMetadata: obj.httpMetadata, customMetadata: obj.customMetadata });
      }
      const last = page.objects.at(-1)?.key;
      if (!page.truncated || !last) return advance('verify', { ...state, cursor: null, objectsCopied: (state.objectsCopied ?? 0) + page.objects.length });
      return save({ ...state, cursor: last, objectsCopied: (state.objectsCopied ?? 0) + page.objects.length });
    }
    case 'verify': {
      const rows: Record<string, { count: number; hash: string }> = {};
      for (const t of TENANT_TABLES) {
        const [a, b] = await Promise.all([fingerprintTenantRows(source.db, t.name, tenantId), fingerprintTenantRows(target.db, t.name, tenantId)]);
        if (a.count !== b.count || a.hash !== b.hash) throw new VerifyError(`${t.name}: source has ${a.count} rows, target ${b.count}${a.count === b.count ? ' with different content' : ''}`);
        rows[t.name] = a;
      }
      let vectors: MoveState['vectors'] = null;
      if (source.vectorIndex !== target.vectorIndex) {
        const [a, b] = await Promise.all([vectorFingerprint(sides.sourceVectors, source.db, tenantId), vectorFingerprint(sides.targetVectors, source.db, tenantId)]);
        if (a.count !== b.count || a.hash !== b.hash) {
          const message = `vectors: source has ${a.count}, target ${b.count}${a.count === b.count ? ' with different values' : ''}`;
          // Fewer in a Vectorize target may be writes not applied yet: a transient error (the job
          // stays at verify, the queue retries) until VECTOR_VISIBILITY_MS has passed.
          const since = state.vectorsPendingSince ?? Date.now();
          if (b.count < a.count && target.vectorIndex.startsWith('vectorize:') && Date.now() - since < VECTOR_VISIBILITY_MS) {
            if (state.vectorsPendingSince === undefined) await save({ ...state, vectorsPendingSince: since });
            throw new Error(`${message}: waiting for Vectorize to apply the copied vectors`);
          }
          throw new VerifyError(message);
        }
        vectors = a;
      }
      let originals: MoveState['originals'] = null;
      if (source.bucket !== target.bucket) {
        const [a, b] = await Promise.all([objectFingerprint(source.blobs, tenantId), objectFingerprint(target.blobs, tenantId)]);
        if (a.count !== b.count || a.hash !== b.hash) throw new VerifyError(`originals: source has ${a.count}, target ${b.count}${a.count === b.count ? ' with different content' : ''}`);
        originals = a;
      }
      return advance('switch', { ...state, rows, vectors, originals, cursor: null });
    }
    case 'switch': {
      await guardHandover(deps, move, 'expect');
      // Both guards drop their records: the source's (it keeps serving until the hand-over) and
      // the target's (a caller may have reached it early), so neither admits on the old placement.
      const target = deps.guardFor && deps.guards ? deps.guards.forTenant(tenantId, move.target) : null;
      const switchIt = () => admissionChange(deps, tenantId, () => moves.switchPlacement(move, state));
      if (!(await (target ? changeAdmission(target, switchIt, deps.log) : switchIt()))) throw new Retry('the switch did not apply');
      await deps.afterUnit?.('switch', state);
      return;
    }
    case 'cleanup': {
      if (!state.guardHandedOver) {
        await guardHandover(deps, move, 'transfer');
        return save({ ...state, guardHandedOver: true });
      }
      // Vectors and originals first: their ids and keys come from the source rows.
      if (!state.vectorsCleaned) {
        if (source.vectorIndex !== target.vectorIndex) {
          const ids = await chunkIdsPage(source.db, tenantId, state.cursor ?? null, VECTOR_PAGE);
          if (ids.length) {
            await sides.sourceVectors.deleteChunks(ids);
            return save({ ...state, cursor: ids.at(-1)! });
          }
        }
        return save({ ...state, vectorsCleaned: true, cursor: null });
      }
      if (!state.originalsCleaned) {
        if (source.bucket !== target.bucket) {
          const page = await source.blobs.list({ prefix: `${tenantId}/`, limit: OBJECT_PAGE });
          if (page.objects.length) {
            await source.blobs.delete(page.objects.map((o) => o.key));
            return save({ ...state });
          }
        }
        return save({ ...state, originalsCleaned: true });
      }
      const cleaned = state.cleaned ?? [];
      const table = [...TENANT_TABLES].reverse().find((t) => !cleaned.includes(t.name));
      if (table) {
        const n = await deleteTenantRowsPage(source.db, table.name, tenantId, move.id, 'moved');
        return save(n > 0 ? { ...state } : { ...state, cleaned: [...cleaned, table.name] });
      }
      if (source.placement.kind !== 'shared') await deleteResidenceBehindFence(source.db, tenantId, move.id);
      await moves.finish(move, state);
      await deps.afterUnit?.('cleanup', state);
      return;
    }
    default:
      return;
  }
}

/**
 * A move that changes the Durable Object jurisdiction moves the tenant's TenantGuard too
 * (src/objects/guard-router.ts): before the switch the target guard drops anything stale and
 * holds back its D1 usage writes ('expect'); after it, the source guard freezes its figures and
 * forwards every later call, and the target adds them to its own ('transfer'). Every call is
 * idempotent per move, so a resumed move repeats them safely. Nothing to do with the guard off
 * or within one jurisdiction (the same object serves both placements).
 */
async function guardHandover(deps: MoveDeps, move: TenantMoveRow, phase: 'expect' | 'transfer'): Promise<void> {
  if (!deps.config.guardEnabled) return;
  const from = jurisdictionOfPlacement(deps.config, move.source);
  const to = jurisdictionOfPlacement(deps.config, move.target);
  if (from === to) return;
  const stub = (j: typeof from) => {
    const ns = guardNamespace(deps.env, j);
    return ns.get(ns.idFromName(move.tenantId));
  };
  if (phase === 'expect') return stub(to).expectAdoption(move.tenantId, move.id);
  const figures = await stub(from).retire(move.tenantId, move.id, to);
  await stub(to).adopt(move.tenantId, move.id, figures);
}

async function deleteResidenceBehindFence(db: Database, tenantId: string, moveId: string): Promise<void> {
  await deleteResidence(db, tenantId);
  await setFence(db, tenantId, moveId, 'moved');
}

/** After a failed verify: the source fence comes down (the tenant writes there again), the target is emptied. */
async function releaseAfterFailure(deps: MoveDeps, move: TenantMoveRow): Promise<void> {
  const { source, target } = await sidesOf(deps, move);
  await clearFence(source.db, move.tenantId);
  for (const t of [...TENANT_TABLES].reverse()) while ((await deleteTenantRowsPage(target.db, t.name, move.tenantId, move.id, 'moving')) > 0);
  await clearFence(target.db, move.tenantId);
}

/**
 * Count and hash of the tenant's vectors in a store, over the chunk ids of `rows` (the source
 * database: after the copy both sides hold the same chunk ids). Values are rounded to 6
 * decimals: stores keep float32 and may normalise again on upsert.
 */
async function vectorFingerprint(vectors: GenerationVectors, rows: Database, tenantId: string): Promise<{ count: number; hash: string }> {
  let after: string | null = null;
  let count = 0;
  let hash = '';
  for (;;) {
    const ids = await chunkIdsPage(rows, tenantId, after, VECTOR_PAGE);
    if (ids.length === 0) return { count, hash };
    const records = (await vectors.getChunks(ids)).sort((a, b) => (a.id < b.id ? -1 : 1));
    count += records.length;
    hash = await sha256Hex(hash + JSON.stringify(records.map((r) => [r.id, r.values.map((v) => Math.round(v * 1e6)), r.metadata])));
    after = ids.at(-1)!;
  }
}

/** Count and hash of the tenant's originals: key, size and SHA-256 of every object, in key order. */
async function objectFingerprint(bucket: R2Bucket, tenantId: string): Promise<{ count: number; hash: string }> {
  let cursor: string | undefined;
  let count = 0;
  let hash = '';
  do {
    const page = await bucket.list({ prefix: `${tenantId}/`, limit: OBJECT_PAGE, ...(cursor ? { cursor } : {}) });
    for (const o of page.objects) {
      const body = await bucket.get(o.key);
      const digest = body ? await sha256Hex(new Uint8Array(await body.arrayBuffer())) : 'missing';
      hash = await sha256Hex(`${hash}|${o.key}|${o.size}|${digest}`);
      count++;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return { count, hash };
}
