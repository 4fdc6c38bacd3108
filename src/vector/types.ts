/**
 * The VectorStore contract: the subset of Cloudflare Vectorize the app uses, with
 * Vectorize's semantics (DESIGN §10) — namespaces, cosine scores (higher is closer),
 * metadata filters with $eq $ne $in $nin $lt $lte $gt $gte and implicit AND, topK caps,
 * upsert replaces. Implemented by Vectorize (production) and the LocalVectorIndex
 * Durable Object (development, tests).
 */
export type MetadataValue = string | number | boolean;
export type Metadata = Record<string, MetadataValue | null>;

export type FilterScalar = string | number | boolean | null;
export interface FilterOps {
  $eq?: FilterScalar;
  $ne?: FilterScalar;
  $in?: FilterScalar[];
  $nin?: FilterScalar[];
  $lt?: string | number;
  $lte?: string | number;
  $gt?: string | number;
  $gte?: string | number;
}
/** `{ field: value }` is an implicit $eq; several keys are ANDed; dotted keys reach nested metadata. */
export type VectorFilter = Record<string, FilterScalar | FilterOps>;

export interface VectorRecord {
  id: string;
  values: number[];
  metadata: Metadata;
}

export type ReturnMetadata = 'none' | 'indexed' | 'all';

export interface VectorQuery {
  topK: number;
  filter?: VectorFilter | null;
  /** Vectorize caps topK at 50 when all metadata (or values) are returned, else 100. */
  returnMetadata?: ReturnMetadata;
}

export interface VectorMatch {
  id: string;
  /** Cosine similarity, -1..1, higher is closer. */
  score: number;
  metadata?: Metadata;
}

export interface VectorStore {
  /** Inserts or replaces vectors (by id) in the namespace. */
  upsert(namespace: string, records: VectorRecord[]): Promise<void>;
  query(namespace: string, vector: number[], q: VectorQuery): Promise<VectorMatch[]>;
  /**
   * Deletes by id. Vectorize's deleteByIds takes no namespace — ids are global to the
   * index, so callers pass ids they stored for their own tenant; the local store uses
   * the namespace to find its object.
   */
  deleteByIds(namespace: string, ids: string[]): Promise<void>;
  /**
   * How many vectors the namespace holds, where the store can tell (the local store; Vectorize
   * cannot count one namespace). A tenant's purge reports and verifies with it.
   */
  countNamespace?(namespace: string): Promise<number>;
  /** Drops the whole namespace where the store can (the local store); Vectorize deletes by id only. */
  purgeNamespace?(namespace: string): Promise<number>;
}

/**
 * Reading stored vectors back by id (Vectorize `getByIds`): what moveTenant needs to copy a
 * tenant's vectors into another index without re-embedding. Separate from VectorStore
 * because nothing on the request path reads vectors back.
 */
export interface VectorReader {
  /** The stored records for these ids in the namespace; unknown ids are absent. */
  getByIds(namespace: string, ids: string[]): Promise<VectorRecord[]>;
}

/** Vectorize's documented limits, enforced identically by the local store. */
export const VECTOR_LIMITS = {
  maxTopK: 100,
  maxTopKWithAllMetadata: 50,
  maxFilterBytes: 2048,
  maxDimensions: 1536,
  maxIdBytes: 64,
  maxNamespaceBytes: 64,
  /** Vectors per upsert call (Workers binding limit). */
  maxUpsertBatch: 1000,
  /** Ids per getByIds call (Vectorize returns at most 20 vectors with values). */
  maxGetBatch: 20,
} as const;

/** A request the store refuses as Vectorize would (bad topK, filter, dimensions). */
export class VectorQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VectorQueryError';
  }
}
