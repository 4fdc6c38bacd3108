/**
 * Where an embedding generation's vectors live (docs/retrieval.md "Embedding generations").
 * Generation 0 is what every tenant had before re-embedding existed: namespace = tenant id,
 * vector id = chunk id, so nothing stored before migration 0016 moves. Generation n > 0 gets
 * its own namespace (the local store: its own object, so its own dimension) and its own
 * vector ids, because Vectorize ids are index-wide: an upsert of the same id in another
 * namespace would replace the old generation's vector while it still serves queries.
 */
import { VECTOR_LIMITS, type VectorMatch, type VectorQuery, type VectorReader, type VectorRecord, type VectorStore } from './types';

/** The vector namespace of a tenant's generation. */
export const generationNamespace = (tenantId: string, generation: number): string =>
  generation === 0 ? tenantId : `${tenantId}-g${generation}`;

/** The vector id of a chunk in a generation. */
export const generationVectorId = (chunkId: string, generation: number): string =>
  generation === 0 ? chunkId : `${chunkId}:g${generation}`;

/** The chunk id of a vector id of a generation; null when the id is not one of its ids. */
export function chunkIdOfVector(vectorId: string, generation: number): string | null {
  if (generation === 0) return vectorId;
  const suffix = `:g${generation}`;
  return vectorId.endsWith(suffix) ? vectorId.slice(0, -suffix.length) : null;
}

/** Chunk ids (`<uuid>:<version>:<index>`) stay well under Vectorize's 64-byte id with the suffix. */
export function checkVectorId(id: string): string {
  if (new TextEncoder().encode(id).byteLength > VECTOR_LIMITS.maxIdBytes) throw new Error(`vector id ${id} is longer than ${VECTOR_LIMITS.maxIdBytes} bytes`);
  return id;
}

/**
 * One generation's vectors in a store, addressed by chunk id: the namespace and the id
 * suffix are applied here, so callers never build either.
 */
export class GenerationVectors {
  readonly namespace: string;
  constructor(
    private readonly store: VectorStore & Partial<VectorReader>,
    readonly tenantId: string,
    readonly generation: number,
  ) {
    this.namespace = generationNamespace(tenantId, generation);
  }

  /** Upserts records whose `id` is a chunk id. */
  upsert(records: VectorRecord[]): Promise<void> {
    return this.store.upsert(this.namespace, records.map((r) => ({ ...r, id: checkVectorId(generationVectorId(r.id, this.generation)) })));
  }

  /** Matches with chunk ids (a foreign id shape is dropped, like a foreign tenant's). */
  async query(vector: number[], q: VectorQuery): Promise<VectorMatch[]> {
    const out: VectorMatch[] = [];
    for (const m of await this.store.query(this.namespace, vector, q)) {
      const id = chunkIdOfVector(m.id, this.generation);
      if (id !== null) out.push({ ...m, id });
    }
    return out;
  }

  deleteChunks(chunkIds: string[]): Promise<void> {
    if (chunkIds.length === 0) return Promise.resolve();
    return this.store.deleteByIds(this.namespace, chunkIds.map((id) => generationVectorId(id, this.generation)));
  }

  /** Stored records by chunk id (ids given back as chunk ids). */
  async getChunks(chunkIds: string[]): Promise<VectorRecord[]> {
    if (!this.store.getByIds) throw new Error('this vector store cannot read vectors back');
    const got = await this.store.getByIds(this.namespace, chunkIds.map((id) => generationVectorId(id, this.generation)));
    return got.map((r) => ({ ...r, id: chunkIdOfVector(r.id, this.generation) ?? r.id }));
  }
}
