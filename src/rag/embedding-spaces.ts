/**
 * A tenant's embedding spaces for one request or job run (docs/retrieval.md "Embedding
 * generations"): which generation answers queries (the active one: its model embeds the query,
 * its namespace is searched), which ones ingestion writes (the active one and, while a
 * re-embedding runs, the building one), and which still hold vectors that a delete must reach
 * (those two plus ended generations not cleaned yet).
 *
 * The state is read once and kept (a request sees one consistent generation for both the query
 * embedding and the vector query); `state(true)` reads it again (ingestion does, after writing
 * its chunks, so a job that started meanwhile is never missed). A tenant with no recorded
 * generation uses what its configuration names now (its provider record's embedding, else the
 * deployment's), as generation 0: how every tenant worked before migration 0016.
 */
import { embedAll, type EmbeddingProvider, type EmbeddingResult } from '../ai/embeddings';
import type { EmbedderSpec } from '../db/repositories/embedders';
import type { EmbedderRow } from '../db/schema';
import { GenerationVectors } from '../vector/generations';
import type { VectorMatch, VectorQuery, VectorReader, VectorRecord, VectorStore } from '../vector/types';

export interface Space {
  generation: number;
  /** 'current' = no record yet: the configuration's embedder as generation 0. */
  status: EmbedderRow['status'] | 'current';
  model: string;
  dimensions: number;
  embedder: EmbeddingProvider;
  vectors: GenerationVectors;
}

export interface SpaceState {
  active: Space;
  building: Space | null;
  /** Ended generations whose vectors are not all deleted yet. */
  ended: Space[];
  /** The rows behind the spaces (empty: nothing recorded yet). */
  rows: EmbedderRow[];
}

export interface EmbeddingSpacesDeps {
  tenantId: string;
  store: VectorStore & VectorReader;
  /** The live generation rows (scope.embedders.live()). */
  rows(): Promise<EmbedderRow[]>;
  /** The embedder the configuration names now (no record yet). */
  current(): Promise<EmbedderSpec>;
  /** Records `spec` as generation 0 when nothing is recorded (scope.embedders.record). */
  record(spec: EmbedderSpec): Promise<void>;
  /** The embedder of a recorded (or current) spec. */
  embedderOf(spec: EmbedderSpec): EmbeddingProvider;
}

export class TenantEmbeddings {
  private loaded: Promise<SpaceState> | null = null;
  /** Vector access for retrieval and deletes: queries the active space, deletes in every live one. */
  readonly vectors: VectorStore & VectorReader;
  /** The query embedder: the active space's. */
  readonly queryEmbedder: EmbeddingProvider;

  constructor(private readonly deps: EmbeddingSpacesDeps) {
    this.vectors = new SpaceVectors(this);
    this.queryEmbedder = new ActiveEmbedder(this);
  }

  get tenantId(): string {
    return this.deps.tenantId;
  }

  /** The spaces (read once per instance; `fresh` reads them again). */
  state(fresh = false): Promise<SpaceState> {
    if (fresh || !this.loaded) {
      const p = this.load();
      // A failed read must not stick for the rest of a job run.
      p.catch(() => {
        if (this.loaded === p) this.loaded = null;
      });
      this.loaded = p;
    }
    return this.loaded;
  }

  /** The last state read, if any (for the embedder adapter's model name). */
  peek: SpaceState | null = null;

  private async load(): Promise<SpaceState> {
    const rows = await this.deps.rows();
    const space = (r: EmbedderRow | (EmbedderSpec & { generation: number; status: Space['status'] })): Space => ({
      generation: r.generation, status: r.status, model: r.model, dimensions: r.dimensions,
      embedder: this.deps.embedderOf(r), vectors: new GenerationVectors(this.deps.store, this.deps.tenantId, r.generation),
    });
    const activeRow = rows.find((r) => r.status === 'active');
    const active = activeRow ? space(activeRow) : space({ ...(await this.deps.current()), generation: 0, status: 'current' });
    const buildingRow = rows.find((r) => r.status === 'building');
    const state: SpaceState = {
      active,
      building: buildingRow ? space(buildingRow) : null,
      ended: rows.filter((r) => r.status !== 'active' && r.status !== 'building').map(space),
      rows,
    };
    this.peek = state;
    return state;
  }

  /** Where a new chunk's vectors go: the active space, and the building one while a job runs. */
  async writeTargets(fresh = false): Promise<Space[]> {
    const s = await this.state(fresh);
    return s.building ? [s.active, s.building] : [s.active];
  }

  /**
   * Records the configuration's embedder as generation 0 before the first vectors are written,
   * so a later change of the configuration is a switch, not a silent mix of models.
   */
  async ensureRecorded(): Promise<void> {
    const s = await this.state();
    if (s.active.status !== 'current') return;
    await this.deps.record(await this.deps.current());
    await this.state(true);
  }
}

/** VectorStore over the tenant's spaces: the namespace argument is the tenant's and is replaced by the space's. */
class SpaceVectors implements VectorStore, VectorReader {
  constructor(private readonly spaces: TenantEmbeddings) {}

  private check(namespace: string): void {
    if (namespace !== this.spaces.tenantId) throw new Error('tenant-bound vectors were given another namespace');
  }

  async upsert(namespace: string, records: VectorRecord[]): Promise<void> {
    this.check(namespace);
    await (await this.spaces.state()).active.vectors.upsert(records);
  }

  async query(namespace: string, vector: number[], q: VectorQuery): Promise<VectorMatch[]> {
    this.check(namespace);
    return (await this.spaces.state()).active.vectors.query(vector, q);
  }

  /** A chunk's vectors in every space that may hold one (read fresh: a job may have started since). */
  async deleteByIds(namespace: string, ids: string[]): Promise<void> {
    this.check(namespace);
    const s = await this.spaces.state(true);
    for (const sp of [s.active, ...(s.building ? [s.building] : []), ...s.ended]) await sp.vectors.deleteChunks(ids);
  }

  async getByIds(namespace: string, ids: string[]): Promise<VectorRecord[]> {
    this.check(namespace);
    return (await this.spaces.state()).active.vectors.getChunks(ids);
  }
}

/** The active space's embedder; model and dimensions are known once the state is read. */
class ActiveEmbedder implements EmbeddingProvider {
  readonly maxBatch = Number.MAX_SAFE_INTEGER;
  constructor(private readonly spaces: TenantEmbeddings) {}

  get model(): string {
    const s = this.spaces.peek;
    if (!s) throw new Error('embedding model read before the spaces were read');
    return s.active.model;
  }

  get dimensions(): number {
    const s = this.spaces.peek;
    if (!s) throw new Error('embedding dimensions read before the spaces were read');
    return s.active.dimensions;
  }

  async embed(texts: string[]): Promise<EmbeddingResult> {
    const { active } = await this.spaces.state();
    return embedAll(active.embedder, texts);
  }
}
