/**
 * VectorStore over LocalVectorIndex Durable Objects: one object per namespace (= tenant id).
 * `index` stands for a Vectorize index: each placement but `shared` has its own (objects
 * named `<index>/<namespace>`), so moving a tenant copies its vectors locally as it would
 * between production indexes.
 */
import type { LocalVectorIndex } from '../objects/local-vector-index';
import { VECTOR_LIMITS, type VectorMatch, type VectorQuery, type VectorReader, type VectorRecord, type VectorStore } from './types';

export class LocalVectorStore implements VectorStore, VectorReader {
  constructor(
    private readonly ns: DurableObjectNamespace<LocalVectorIndex>,
    private readonly index = '',
  ) {}

  private stub(namespace: string) {
    if (!namespace) throw new Error('vector namespace is required');
    return this.ns.get(this.ns.idFromName(this.index ? `${this.index}/${namespace}` : namespace));
  }

  async getByIds(namespace: string, ids: string[]): Promise<VectorRecord[]> {
    const stub = this.stub(namespace);
    const out: VectorRecord[] = [];
    for (let i = 0; i < ids.length; i += VECTOR_LIMITS.maxUpsertBatch) {
      out.push(...((await stub.getByIds(ids.slice(i, i + VECTOR_LIMITS.maxUpsertBatch))) as VectorRecord[]));
    }
    return out;
  }

  async upsert(namespace: string, records: VectorRecord[]): Promise<void> {
    const stub = this.stub(namespace);
    for (let i = 0; i < records.length; i += VECTOR_LIMITS.maxUpsertBatch) {
      await stub.upsert(records.slice(i, i + VECTOR_LIMITS.maxUpsertBatch));
    }
  }

  async query(namespace: string, vector: number[], q: VectorQuery): Promise<VectorMatch[]> {
    return (await this.stub(namespace).query(vector, q)) as VectorMatch[];
  }

  async deleteByIds(namespace: string, ids: string[]): Promise<void> {
    const stub = this.stub(namespace);
    for (let i = 0; i < ids.length; i += VECTOR_LIMITS.maxUpsertBatch) {
      await stub.deleteByIds(ids.slice(i, i + VECTOR_LIMITS.maxUpsertBatch));
    }
  }

  async countNamespace(namespace: string): Promise<number> {
    return (await this.stub(namespace).describe()).vectorCount;
  }

  async purgeNamespace(namespace: string): Promise<number> {
    return (await this.stub(namespace).purge()).count;
  }
}
