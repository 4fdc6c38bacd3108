/**
 * VectorStore over Cloudflare Vectorize: one shared index, namespace = tenant id.
 * Writes are asynchronous in Vectorize (visible after seconds); nothing here promises
 * read-your-write, and retrieval re-checks every hit against D1 anyway.
 */
import { VECTOR_LIMITS, type Metadata, type VectorMatch, type VectorQuery, type VectorReader, type VectorRecord, type VectorStore } from './types';

/** The part of the Vectorize binding (V1 and V2 share it) that the store uses. */
export interface VectorizeBinding {
  query(vector: number[], options: Record<string, unknown>): Promise<{ matches: { id: string; score: number; metadata?: Record<string, unknown> }[] }>;
  upsert(vectors: { id: string; values: number[]; namespace?: string; metadata?: Record<string, unknown> }[]): Promise<unknown>;
  deleteByIds(ids: string[]): Promise<unknown>;
  getByIds(ids: string[]): Promise<{ id: string; values?: number[] | Float32Array | Float64Array; namespace?: string; metadata?: Record<string, unknown> }[]>;
}

export class VectorizeStore implements VectorStore, VectorReader {
  constructor(private readonly index: VectorizeBinding) {}

  async upsert(namespace: string, records: VectorRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += VECTOR_LIMITS.maxUpsertBatch) {
      await this.index.upsert(
        records.slice(i, i + VECTOR_LIMITS.maxUpsertBatch).map((r) => ({
          id: r.id,
          values: r.values,
          namespace,
          // Vectorize metadata has no null: leave absent properties out.
          metadata: Object.fromEntries(Object.entries(r.metadata).filter(([, v]) => v !== null)),
        })),
      );
    }
  }

  async query(namespace: string, vector: number[], q: VectorQuery): Promise<VectorMatch[]> {
    const res = await this.index.query(vector, {
      topK: q.topK,
      namespace,
      returnValues: false,
      returnMetadata: q.returnMetadata ?? 'none',
      ...(q.filter ? { filter: q.filter } : {}),
    });
    return res.matches.map((m) => ({ id: m.id, score: m.score, ...(m.metadata ? { metadata: m.metadata as Metadata } : {}) }));
  }

  async deleteByIds(_namespace: string, ids: string[]): Promise<void> {
    // Vectorize ids are index-wide; callers only pass ids they read from their own tenant's rows.
    for (let i = 0; i < ids.length; i += VECTOR_LIMITS.maxUpsertBatch) {
      await this.index.deleteByIds(ids.slice(i, i + VECTOR_LIMITS.maxUpsertBatch));
    }
  }

  async getByIds(namespace: string, ids: string[]): Promise<VectorRecord[]> {
    const out: VectorRecord[] = [];
    for (let i = 0; i < ids.length; i += VECTOR_LIMITS.maxGetBatch) {
      const got = await this.index.getByIds(ids.slice(i, i + VECTOR_LIMITS.maxGetBatch));
      for (const v of got) {
        // Ids are index-wide: keep only the namespace asked for.
        if ((v.namespace ?? '') !== namespace || !v.values) continue;
        out.push({ id: v.id, values: Array.from(v.values), metadata: (v.metadata ?? {}) as Metadata });
      }
    }
    return out;
  }
}
