/**
 * A tenant's embedding generations (migration 0016): which model and provider made each of its
 * vector spaces, and the re-embedding job's progress. Catalogue rows beside the tenant's model
 * provider, reached through the TenantScope like every tenant row. The sealed key is copied
 * from tenant_model_providers as opaque text (same tenant, same associated data); opening it
 * is src/ai/provider-settings.ts's business.
 *
 * Every state change is conditional on the state it expects (a compare-and-set): the job, a
 * second switch and an ingestion may race, and the loser's write simply does not apply.
 */
import { and, desc, eq, inArray, isNotNull, or, sql, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { AppError } from '../../lib/errors';
import { nowIso } from '../../lib/ids';
import { tenantEmbedders, type EmbedderRow } from '../schema';
import type { TenantScope } from '../tenant-scope';

/** The embedding a generation is made with; `baseUrl` null = the deployment's provider. */
export interface EmbedderSpec {
  model: string;
  dimensions: number;
  baseUrl: string | null;
  apiKeySealed: string | null;
  keyId: string | null;
}

export type SwitchReason = 'provider' | 'deployment';

/** A catalogue statement for the batch of the change that causes a switch (services never import drizzle). */
export type EmbedderStatement = BatchItem<'sqlite'>;

const LIVE = or(inArray(tenantEmbedders.status, ['active', 'building']), eq(tenantEmbedders.cleaned, false));

/**
 * Runs a write that carries a switch's statements. A switch numbers its generation from what
 * it read (max + 1), so of two switches of one tenant planned at the same moment the second
 * batch breaks the generation's key and writes nothing: that is a CONFLICT to retry, not an
 * unexpected error.
 */
export async function switchWrite<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!isConstraintViolation(err)) throw err;
    const out = new AppError('CONFLICT', 'Another change of this tenant’s embedding model was saved at the same moment: read the model provider again and retry');
    out.cause = err;
    throw out;
  }
}

function isConstraintViolation(err: unknown): boolean {
  for (let cur: unknown = err, depth = 0; cur instanceof Error && depth < 5; cur = cur.cause, depth++) {
    if (/UNIQUE constraint failed|PRIMARY KEY constraint failed|SQLITE_CONSTRAINT/i.test(cur.message)) return true;
  }
  return false;
}

export class EmbeddersRepo {
  constructor(private readonly scope: TenantScope) {}

  private get db() {
    return this.scope.catalogue;
  }

  private own(...conds: (SQL | undefined)[]): SQL {
    return and(eq(tenantEmbedders.tenantId, this.scope.tenantId), ...conds)!;
  }

  /** Every generation that still has vectors: active, building, and ended ones not cleaned yet. */
  async live(): Promise<EmbedderRow[]> {
    return this.db.select().from(tenantEmbedders).where(this.own(LIVE)).orderBy(tenantEmbedders.generation).all();
  }

  async get(generation: number): Promise<EmbedderRow | null> {
    return (await this.db.select().from(tenantEmbedders).where(this.own(eq(tenantEmbedders.generation, generation))).get()) ?? null;
  }

  /** The newest generation a switch created (the one `reembedding` reports); null: never switched. */
  async latestSwitch(): Promise<EmbedderRow | null> {
    return (
      (await this.db.select().from(tenantEmbedders).where(this.own(isNotNull(tenantEmbedders.previousGeneration)))
        .orderBy(desc(tenantEmbedders.generation)).limit(1).get()) ?? null
    );
  }

  /** The highest generation number used (new ones count up from it; numbers are never reused). */
  async maxGeneration(): Promise<number> {
    const row = await this.db.select({ n: sql<number | null>`max(${tenantEmbedders.generation})` }).from(tenantEmbedders).where(this.own()).get();
    return row?.n ?? -1;
  }

  /**
   * Records the embedder in use as generation 0 when the tenant has no record yet (its vectors,
   * if any, are in the namespace = tenant id). A no-op otherwise.
   */
  recordStatement(spec: EmbedderSpec): BatchItem<'sqlite'> {
    return this.db.insert(tenantEmbedders).values({ tenantId: this.scope.tenantId, generation: 0, status: 'active', ...spec, reason: 'recorded' }).onConflictDoNothing();
  }

  async record(spec: EmbedderSpec): Promise<void> {
    await this.recordStatement(spec);
  }

  /** The active generation's provider changes (same model and dimensions on another server or key). */
  updateActiveStatement(spec: EmbedderSpec): BatchItem<'sqlite'> {
    return this.db.update(tenantEmbedders).set({ baseUrl: spec.baseUrl, apiKeySealed: spec.apiKeySealed, keyId: spec.keyId, updatedAt: nowIso() })
      .where(this.own(eq(tenantEmbedders.status, 'active')));
  }

  /** The running job keeps its target and takes the new credentials. */
  updateBuildingStatement(spec: EmbedderSpec): BatchItem<'sqlite'> {
    return this.db.update(tenantEmbedders).set({ baseUrl: spec.baseUrl, apiKeySealed: spec.apiKeySealed, keyId: spec.keyId, error: null, attempts: 0, updatedAt: nowIso() })
      .where(this.own(eq(tenantEmbedders.status, 'building')));
  }

  /** A running job is superseded (its vectors are cleaned up by the job). */
  supersedeStatement(): BatchItem<'sqlite'> {
    const at = nowIso();
    return this.db.update(tenantEmbedders).set({ status: 'superseded', finishedAt: at, updatedAt: at, cursor: null })
      .where(this.own(eq(tenantEmbedders.status, 'building')));
  }

  /** A new generation to build from `previous` (the active one). */
  startStatement(generation: number, previous: number, spec: EmbedderSpec, reason: SwitchReason, total: number): BatchItem<'sqlite'> {
    return this.db.insert(tenantEmbedders).values({
      tenantId: this.scope.tenantId, generation, status: 'building', ...spec, reason, previousGeneration: previous, total, done: 0, cursor: null,
    });
  }

  /**
   * A switch with nothing to re-embed (the tenant has no chunks): the new generation is active
   * at once and the previous one retired (with nothing to clean, bar what an ingestion in
   * flight may still write there: the job cleans it).
   */
  switchNowStatements(generation: number, previous: number, spec: EmbedderSpec, reason: SwitchReason): BatchItem<'sqlite'>[] {
    const at = nowIso();
    return [
      this.db.update(tenantEmbedders).set({ status: 'retired', finishedAt: at, updatedAt: at, cursor: null }).where(this.own(eq(tenantEmbedders.status, 'active'))),
      this.db.insert(tenantEmbedders).values({
        tenantId: this.scope.tenantId, generation, status: 'active', ...spec, reason, previousGeneration: previous, finishedAt: at,
      }),
    ];
  }

  /** Records a page of the job: cursor, done, and the remaining count. False: the job is no longer building. */
  async progress(generation: number, cursor: number, done: number, total: number): Promise<boolean> {
    const rows = await this.db.update(tenantEmbedders).set({ cursor, done, total, error: null, attempts: 0, updatedAt: nowIso() })
      .where(this.own(eq(tenantEmbedders.generation, generation), eq(tenantEmbedders.status, 'building'))).returning({ g: tenantEmbedders.generation });
    return rows.length > 0;
  }

  /** A transient failure: the job keeps its place and shows the error; returns the attempts so far. */
  async noteError(generation: number, error: string): Promise<number> {
    const rows = await this.db.update(tenantEmbedders).set({ error, attempts: sql`${tenantEmbedders.attempts} + 1`, updatedAt: nowIso() })
      .where(this.own(eq(tenantEmbedders.generation, generation), eq(tenantEmbedders.status, 'building'))).returning({ attempts: tenantEmbedders.attempts });
    return rows[0]?.attempts ?? 0;
  }

  /** A failure that will not heal (bad key, unknown model): the job stops; the tenant stays on its active generation. */
  async fail(generation: number, error: string): Promise<boolean> {
    const at = nowIso();
    const rows = await this.db.update(tenantEmbedders).set({ status: 'failed', error, cursor: null, finishedAt: at, updatedAt: at })
      .where(this.own(eq(tenantEmbedders.generation, generation), eq(tenantEmbedders.status, 'building'))).returning({ g: tenantEmbedders.generation });
    return rows.length > 0;
  }

  /**
   * The switch: one batch, the active generation retired and `generation` active, applied only
   * while `generation` is still the building one (a supersede that won the race leaves both as
   * they were). Audited in the same batch.
   */
  async complete(generation: number, done: number): Promise<boolean> {
    const at = nowIso();
    const stillBuilding = sql`EXISTS (SELECT 1 FROM tenant_embedders WHERE tenant_id = ${this.scope.tenantId} AND generation = ${generation} AND status = 'building')`;
    const [, flipped] = await this.db.batch([
      this.db.update(tenantEmbedders).set({ status: 'retired', finishedAt: at, updatedAt: at, cursor: null })
        .where(this.own(eq(tenantEmbedders.status, 'active'), stillBuilding)),
      this.db.update(tenantEmbedders).set({ status: 'active', done, total: done, error: null, cursor: null, finishedAt: at, updatedAt: at })
        .where(this.own(eq(tenantEmbedders.generation, generation), eq(tenantEmbedders.status, 'building')))
        .returning({ g: tenantEmbedders.generation }),
      // After the flip: true exactly when this batch made the generation active.
      this.scope.auditStatement(
        { action: 'tenant.embedding.switched', targetType: 'tenant', targetId: this.scope.tenantId, details: { generation, chunks: done } },
        sql`EXISTS (SELECT 1 FROM tenant_embedders WHERE tenant_id = ${this.scope.tenantId} AND generation = ${generation} AND status = 'active' AND finished_at = ${at})`,
        this.db,
      ),
    ]);
    return (flipped as unknown[]).length > 0;
  }

  /** Cleaning an ended generation: the last chunk seq whose vectors were deleted. */
  async cleaningAt(generation: number, cursor: number): Promise<void> {
    await this.db.update(tenantEmbedders).set({ cursor, updatedAt: nowIso() })
      .where(this.own(eq(tenantEmbedders.generation, generation), eq(tenantEmbedders.cleaned, false)));
  }

  async cleaned(generation: number): Promise<void> {
    await this.db.update(tenantEmbedders).set({ cleaned: true, cursor: null, updatedAt: nowIso() })
      .where(this.own(eq(tenantEmbedders.generation, generation), inArray(tenantEmbedders.status, ['retired', 'superseded', 'failed'])));
  }
}
