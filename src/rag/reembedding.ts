/**
 * Switching a tenant's embedding model without downtime (DESIGN §14, docs/chat.md "Switch a
 * model and watch the progress", docs/retrieval.md "Embedding generations").
 *
 * A switch records a new `building` generation; a queue job (`tenant.reembed`) embeds every
 * chunk of the tenant with the new model into that generation's own namespace, page by page,
 * metered through the TenantGuard like ingestion. Meanwhile search and ask keep using the
 * active generation (old vectors, old model for the query) and ingestion writes both. When the
 * last page is done, one catalogue batch retires the old generation and activates the new one;
 * after a grace period (requests that read the old state finish) the job deletes the old
 * vectors. Every unit of work is idempotent and recorded (cursor = last chunk seq), so a crash
 * resumes where the job stood.
 *
 * A second switch while one runs supersedes it: the running generation is dropped (its vectors
 * cleaned up) and the new one starts from the first chunk; switching back to the active
 * embedding just cancels the job. A provider failure retries with backoff (the status shows
 * the error); a failure that will not heal (bad key, unknown model, wrong dimensions) ends the
 * job as FAILED. Either way the tenant stays on its active generation: never a half switch.
 */
import { embedAll, EmbeddingProviderError } from '../ai/embeddings';
import { estimateTokens } from '../ai/tokens';
import { switchWrite, type EmbedderSpec, type EmbedderStatement, type SwitchReason } from '../db/repositories/embedders';
import type { EmbedderRow } from '../db/schema';
import type { TenantScope } from '../db/tenant-scope';
import type { PlanLimits } from '../env';
import { AppError } from '../lib/errors';
import { errorDetail, type Logger } from '../lib/log';
import type { GuardClient } from '../objects/guard-types';
import { chunkMetadata, embeddingInput } from './chunk-vectors';
import type { Space, TenantEmbeddings } from './embedding-spaces';
import type { MetadataKeySpec } from './search-filters';

export interface ReembedMessage {
  type: 'tenant.reembed';
  tenantId: string;
}

export const isReembedMessage = (body: unknown): body is ReembedMessage =>
  !!body && typeof body === 'object' && (body as ReembedMessage).type === 'tenant.reembed' && typeof (body as ReembedMessage).tenantId === 'string';

/** Chunks per unit of work: one embeddings call at OpenAI's batch size of the provider. */
export const REEMBED_PAGE = 64;
/** Vector ids deleted per cleaning unit. */
const CLEAN_PAGE = 200;
/**
 * Seconds between the switch and the deletion of the old vectors: a request that read the
 * state just before the switch still queries the old namespace, and must find it whole.
 */
export const CLEANUP_GRACE_SECONDS = 30;

/** Two embedders make interchangeable vectors only with the same model and dimensions. */
export const sameEmbedding = (a: { model: string; dimensions: number }, b: { model: string; dimensions: number }) =>
  a.model === b.model && a.dimensions === b.dimensions;

export type ReembeddingStatus = 'RUNNING' | 'COMPLETED' | 'FAILED' | 'SUPERSEDED';

/** What reembedTenants did for one tenant. */
export type DeploymentOutcome = 'RECORDED' | 'CURRENT' | 'STARTED' | 'SWITCHED' | 'UPDATED' | 'CANCELLED' | 'OWN_PROVIDER' | 'MOVING' | 'NEEDS_INDEX';

/** `reembedding { status done total … }` (on Tenant and ModelProvider). */
export interface ReembeddingView {
  status: ReembeddingStatus;
  generation: number;
  model: string;
  dimensions: number;
  done: number;
  total: number;
  error: string | null;
  /** The previous generation's vectors are all deleted. */
  cleanedUp: boolean;
  startedAt: string;
  finishedAt: string | null;
}

/** The embedding that answers the tenant's queries now. */
export interface ActiveEmbeddingView {
  generation: number;
  model: string;
  dimensions: number;
}

export interface SwitchPlan {
  /** Catalogue statements to run in the same batch as the change that causes the switch. */
  statements: EmbedderStatement[];
  /** 'none' (same embedding), 'started', 'switched' (no chunks: at once), 'cancelled' (back to the active one). */
  outcome: 'none' | 'started' | 'switched' | 'cancelled' | 'updated';
  /** Runs after the batch: enqueues the job when there is work. */
  after(): Promise<void>;
}

export interface ReembeddingDeps {
  scope: TenantScope;
  embeddings: TenantEmbeddings;
  /** The embedder the configuration names now (what a tenant without a record uses). */
  current(): Promise<EmbedderSpec>;
  enqueue(message: ReembedMessage): Promise<unknown>;
}

const STATUS: Record<EmbedderRow['status'], ReembeddingStatus> = {
  building: 'RUNNING', active: 'COMPLETED', retired: 'COMPLETED', superseded: 'SUPERSEDED', failed: 'FAILED',
};

/** Starting switches (for setModelProvider, clearModelProvider, reembedTenants) and reading their progress. */
export class ReembeddingService {
  constructor(private readonly deps: ReembeddingDeps) {}

  /**
   * What it takes to move the tenant to `target`, as statements for the caller's batch. Reads
   * the generations fresh. The tenant's current embedder is recorded first (generation 0) if it
   * never was, so the vectors it made keep their model.
   */
  async plan(target: EmbedderSpec, reason: SwitchReason): Promise<SwitchPlan> {
    const { scope, embeddings } = this.deps;
    const s = await embeddings.state(true);
    const statements: EmbedderStatement[] = [];
    if (s.active.status === 'current') statements.push(scope.embedders.recordStatement(await this.deps.current()));
    const enqueue = () => this.deps.enqueue({ type: 'tenant.reembed', tenantId: scope.tenantId }).then(() => undefined);
    const nothing = async () => undefined;
    if (sameEmbedding(target, s.active)) {
      // Same vectors (the same model on another server or key): the active generation takes the new credentials.
      statements.push(scope.embedders.updateActiveStatement(target));
      if (!s.building) return { statements, outcome: 'none', after: nothing };
      statements.push(scope.embedders.supersedeStatement());
      return { statements, outcome: 'cancelled', after: enqueue };
    }
    if (s.building && sameEmbedding(target, s.building)) {
      statements.push(scope.embedders.updateBuildingStatement(target));
      return { statements, outcome: 'updated', after: enqueue };
    }
    const generation = Math.max(await scope.embedders.maxGeneration(), 0) + 1;
    const total = await scope.chunks.countAfter(0);
    if (total === 0 && !s.building) {
      // Nothing to re-embed: switch in this batch. An ingestion in flight re-reads the state
      // after writing its chunks and embeds them for the new generation too.
      statements.push(...scope.embedders.switchNowStatements(generation, s.active.generation, target, reason));
      return { statements, outcome: 'switched', after: enqueue };
    }
    if (s.building) statements.push(scope.embedders.supersedeStatement());
    statements.push(scope.embedders.startStatement(generation, s.active.generation, target, reason, total));
    return { statements, outcome: 'started', after: enqueue };
  }

  /**
   * A change of the deployment's EMBEDDING_MODEL / EMBEDDING_DIMENSIONS reaches a tenant on the
   * deployment's provider here (reembedTenants): its recorded generation is compared with
   * `target` (the configuration now), and a difference starts a switch. A tenant never recorded
   * gets its record (the configuration is all there is to know: run this once before changing
   * the configuration, docs/chat.md). A tenant with its own provider keeps its own embedding.
   */
  async toDeployment(target: EmbedderSpec, opts: { migrating: boolean; oneDimension: boolean }): Promise<DeploymentOutcome> {
    const { scope, embeddings } = this.deps;
    if (await scope.modelProvider.get()) return 'OWN_PROVIDER';
    if (opts.migrating) return 'MOVING';
    const s = await embeddings.state(true);
    if (s.active.status === 'current') {
      await scope.embedders.record(await this.deps.current());
      return 'RECORDED';
    }
    // A Vectorize index holds one dimension: another one needs an index of its own (docs/retrieval.md).
    if (opts.oneDimension && target.dimensions !== s.active.dimensions) return 'NEEDS_INDEX';
    const plan = await this.plan(target, 'deployment');
    if (plan.outcome === 'none') return 'CURRENT';
    await switchWrite(() => scope.writeAudited(plan.statements, {
      action: 'tenant.embedding.deployment_change', targetType: 'tenant', targetId: scope.tenantId,
      details: { model: target.model, dimensions: target.dimensions, outcome: plan.outcome },
    }, scope.catalogue));
    await plan.after();
    return plan.outcome === 'started' ? 'STARTED' : plan.outcome === 'switched' ? 'SWITCHED' : plan.outcome === 'cancelled' ? 'CANCELLED' : 'UPDATED';
  }

  /** The latest switch's progress; null when the tenant never switched. */
  status(): Promise<ReembeddingView | null> {
    return reembeddingStatusOf(this.deps.scope);
  }

  /** The generation answering queries. */
  async active(): Promise<ActiveEmbeddingView> {
    const { active } = await this.deps.embeddings.state();
    return { generation: active.generation, model: active.model, dimensions: active.dimensions };
  }
}

/** The latest switch's progress of the scope's tenant (catalogue rows only); null when it never switched. */
export async function reembeddingStatusOf(scope: TenantScope): Promise<ReembeddingView | null> {
  const row = await scope.embedders.latestSwitch();
  if (!row) return null;
  const prev = row.previousGeneration === null ? null : await scope.embedders.get(row.previousGeneration);
  return {
    status: STATUS[row.status], generation: row.generation, model: row.model, dimensions: row.dimensions,
    done: row.done, total: Math.max(row.total, row.done), error: row.error,
    // Until the switch the old vectors are in use; after it, they are gone once cleaned. A
    // superseded or failed generation reports its own vectors.
    cleanedUp: row.status === 'building' ? false : row.status === 'active' || row.status === 'retired' ? (prev?.cleaned ?? true) : row.cleaned,
    startedAt: row.createdAt, finishedAt: row.finishedAt,
  };
}

// ── The job ────────────────────────────────────────────────────────────────────────────────

/** What one run of the job works with: the tenant's session, opened as the system. */
export interface ReembedSession {
  scope: TenantScope;
  embeddings: TenantEmbeddings;
  guard: GuardClient | null;
  limits: PlanLimits;
  /** A move is running: the job waits. */
  migrating: boolean;
}

export interface ReembedJobDeps {
  /** The tenant's session; null when the tenant is gone. */
  open(tenantId: string): Promise<ReembedSession | null>;
  /** Enqueues the job's next run (a new message: waiting is not a failed attempt). */
  enqueue(message: ReembedMessage, delaySeconds?: number): Promise<unknown>;
  log: Logger;
  metadataKeys: readonly MetadataKeySpec[];
  /** Chunks per unit (default REEMBED_PAGE; tests use small pages to interleave with traffic). */
  pageSize?: number;
  /** Default CLEANUP_GRACE_SECONDS; tests use 0. */
  graceSeconds?: number;
  now?: () => number;
  /** Test hook: called after each recorded unit; throwing there is a crash right after it. */
  afterUnit?(unit: UnitOutcome): void | Promise<void>;
}

export type UnitOutcome =
  | { kind: 'embedded'; generation: number; chunks: number }
  | { kind: 'switched'; generation: number }
  | { kind: 'failed'; generation: number; error: string }
  | { kind: 'cleaned'; generation: number; vectors: number; finished: boolean };

/** How a run ended: the job is idle (nothing left), waiting (re-enqueued with a delay) or out of budget (re-enqueued). */
export type RunOutcome = 'idle' | 'waiting' | 'more';

/** Seconds before a retry after `attempts` failed ones: 10 s, 20 s, 40 s … capped at an hour. */
export const reembedRetrySeconds = (attempts: number) => Math.min(3600, 10 * 2 ** Math.max(0, Math.min(12, attempts - 1)));

/** Transient failure of a unit, after it was noted on the generation (the consumer retries with backoff). */
export class ReembedRetryError extends Error {
  constructor(message: string, readonly attempts: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReembedRetryError';
  }
}

/**
 * Runs the tenant's job for at most `maxUnits` units: build the building generation, switch,
 * then clean ended generations. Returns how the run ended; throws ReembedRetryError (or any
 * error) when a unit failed transiently — its place is kept, the consumer retries.
 */
export async function runReembed(deps: ReembedJobDeps, tenantId: string, opts: { maxUnits?: number } = {}): Promise<RunOutcome> {
  const session = await deps.open(tenantId);
  if (!session) return 'idle';
  const message: ReembedMessage = { type: 'tenant.reembed', tenantId };
  if (session.migrating) {
    await deps.enqueue(message, 30);
    return 'waiting';
  }
  let budget = opts.maxUnits ?? Number.POSITIVE_INFINITY;
  for (;;) {
    const s = await session.embeddings.state(true);
    const work = s.building ? 'build' : s.ended.length ? 'clean' : null;
    if (!work) return 'idle';
    if (budget-- <= 0) {
      await deps.enqueue(message);
      return 'more';
    }
    if (work === 'build') {
      const outcome = await buildUnit(deps, session, s.building!, s.rows.find((r) => r.generation === s.building!.generation)!);
      await deps.afterUnit?.(outcome);
      if (outcome.kind === 'switched') {
        // Old vectors stay for the grace period: the next run (delayed) deletes them.
        const grace = deps.graceSeconds ?? CLEANUP_GRACE_SECONDS;
        if (grace > 0) {
          await deps.enqueue(message, grace);
          return 'waiting';
        }
      }
      continue;
    }
    const ended = s.ended[0]!;
    const row = s.rows.find((r) => r.generation === ended.generation)!;
    const wait = graceLeft(deps, row);
    if (wait > 0) {
      await deps.enqueue(message, wait);
      return 'waiting';
    }
    const outcome = await cleanUnit(session, ended, row);
    await deps.afterUnit?.(outcome);
  }
}

function graceLeft(deps: ReembedJobDeps, row: EmbedderRow): number {
  const grace = deps.graceSeconds ?? CLEANUP_GRACE_SECONDS;
  // Only a retired generation ever answered queries; a superseded or failed one never did.
  if (grace <= 0 || row.status !== 'retired' || !row.finishedAt) return 0;
  const since = ((deps.now?.() ?? Date.now()) - Date.parse(row.finishedAt)) / 1000;
  return since >= grace ? 0 : Math.ceil(grace - since);
}

/** One page of chunks embedded into the building generation, or the switch when none is left. */
async function buildUnit(deps: ReembedJobDeps, session: ReembedSession, target: Space, row: EmbedderRow): Promise<UnitOutcome> {
  const { scope, guard, limits } = session;
  const page = await scope.chunks.embeddingPage(row.cursor ?? 0, deps.pageSize ?? REEMBED_PAGE);
  if (page.length === 0) {
    await scope.embedders.complete(row.generation, row.done);
    return { kind: 'switched', generation: row.generation };
  }
  try {
    const docs = new Map((await scope.documents.getMany([...new Set(page.map((c) => c.documentId))])).map((d) => [d.id, d]));
    // A chunk whose document is gone is left out (its delete removes its vectors anyway).
    const live = page.filter((c) => docs.has(c.documentId));
    if (live.length) {
      const inputs = live.map(embeddingInput);
      // Metered like ingestion: reserved before the call (QUOTA_EXCEEDED when it does not fit), settled to the provider's count.
      const reservation = await guard?.reserve(limits, { embeddingTokens: inputs.reduce((n, t) => n + estimateTokens(t), 0) });
      let embedded: Awaited<ReturnType<typeof embedAll>>;
      try {
        embedded = await embedAll(target.embedder, inputs);
      } catch (err) {
        await reservation?.release();
        throw err;
      }
      await reservation?.settle({ embeddingTokens: embedded.tokens });
      await target.vectors.upsert(live.map((c, i) => ({
        id: c.id, values: embedded.vectors[i]!, metadata: chunkMetadata(scope.tenantId, docs.get(c.documentId)!, c.version, deps.metadataKeys),
      })));
    }
    const last = page.at(-1)!.seq;
    const done = row.done + page.length;
    // A false here means a second switch superseded this one meanwhile: its vectors are cleaned with it.
    await scope.embedders.progress(row.generation, last, done, done + (await scope.chunks.countAfter(last)));
    return { kind: 'embedded', generation: row.generation, chunks: page.length };
  } catch (err) {
    if (err instanceof EmbeddingProviderError && !err.retryable) {
      const error = `The embedding provider refused the job: ${err.message}. The tenant stays on its current embedding; fix the provider and set it again.`;
      await scope.embedders.fail(row.generation, error);
      deps.log.warn('reembed: failed for good', { tenantId: scope.tenantId, generation: row.generation, ...errorDetail(err) });
      return { kind: 'failed', generation: row.generation, error };
    }
    const error = describe(err);
    const attempts = await scope.embedders.noteError(row.generation, error).catch(() => row.attempts + 1);
    throw new ReembedRetryError(error, attempts, { cause: err });
  }
}

/** Client-safe words for a transient failure (never a provider's or driver's message). */
function describe(err: unknown): string {
  if (err instanceof EmbeddingProviderError) return `The ${err.message.replace(/^embedding provider /, 'embedding provider ')}; retrying with backoff.`;
  if (err instanceof AppError && err.code === 'QUOTA_EXCEEDED') return 'The monthly embedding token quota is exhausted; the job resumes when there is room.';
  if (err instanceof AppError && err.code === 'UPSTREAM_UNAVAILABLE') return 'The usage guard was unavailable; retrying with backoff.';
  return 'The job was interrupted; retrying with backoff.';
}

/** One page of an ended generation's vectors deleted, or the generation marked clean. */
async function cleanUnit(session: ReembedSession, ended: Space, row: EmbedderRow): Promise<UnitOutcome> {
  const { scope } = session;
  const ids = await scope.chunks.idPage(row.cursor ?? 0, CLEAN_PAGE);
  if (ids.length === 0) {
    await scope.embedders.cleaned(row.generation);
    return { kind: 'cleaned', generation: row.generation, vectors: 0, finished: true };
  }
  await ended.vectors.deleteChunks(ids.map((c) => c.id));
  await scope.embedders.cleaningAt(row.generation, ids.at(-1)!.seq);
  return { kind: 'cleaned', generation: row.generation, vectors: ids.length, finished: false };
}
