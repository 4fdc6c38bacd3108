/**
 * A stand-in for a Vectorize index binding (Vectorize has no local simulator), written to the
 * behaviour the docs state and the code relies on, so tests meet Vectorize's awkward parts
 * rather than an idealised store:
 * - ids are index-wide: `getByIds` and `deleteByIds` take no namespace, `getByIds` returns
 *   vectors of every namespace with their `namespace`, an upsert of a known id replaces it;
 * - writes are asynchronous: an upsert or delete becomes visible only when the test says time
 *   has passed (`settle()`), as Vectorize applies mutations seconds later;
 * - values come back as float32 (the precision Vectorize stores), metadata has no nulls (the
 *   binding rejects them);
 * - `upsert` takes at most 1,000 vectors per call (the Workers binding limit), and `getByIds`
 *   is called with at most VECTOR_LIMITS.maxGetBatch ids (the store's own cap, asserted here).
 * What it cannot show: Vectorize's real latency, ranking and limits nobody documented.
 */
import { VECTOR_LIMITS } from '../../src/vector/types';
import type { VectorizeBinding } from '../../src/vector/vectorize-store';

interface Stored {
  id: string;
  values: Float32Array;
  namespace: string;
  metadata: Record<string, unknown>;
}

export class VectorizeStandIn implements VectorizeBinding {
  private readonly visible = new Map<string, Stored>();
  private pending: (() => void)[] = [];
  /** Ids per getByIds call, as the store sent them. */
  readonly getBatches: number[] = [];

  async upsert(vectors: { id: string; values: number[]; namespace?: string; metadata?: Record<string, unknown> }[]): Promise<unknown> {
    if (vectors.length > 1000) throw new Error('VECTOR_UPSERT_ERROR: at most 1000 vectors per upsert from a Worker');
    for (const v of vectors) {
      if (Object.values(v.metadata ?? {}).some((x) => x === null)) throw new Error('VECTOR_UPSERT_ERROR: metadata values must not be null');
    }
    const copies = vectors.map((v) => ({ id: v.id, values: Float32Array.from(v.values), namespace: v.namespace ?? '', metadata: { ...(v.metadata ?? {}) } }));
    this.pending.push(() => {
      for (const c of copies) this.visible.set(c.id, c);
    });
    return { mutationId: crypto.randomUUID() };
  }

  async deleteByIds(ids: string[]): Promise<unknown> {
    const copy = [...ids];
    this.pending.push(() => {
      for (const id of copy) this.visible.delete(id);
    });
    return { mutationId: crypto.randomUUID() };
  }

  async getByIds(ids: string[]) {
    if (ids.length > VECTOR_LIMITS.maxGetBatch) throw new Error(`the store asked for ${ids.length} ids in one getByIds call`);
    this.getBatches.push(ids.length);
    return ids.flatMap((id) => {
      const v = this.visible.get(id);
      return v ? [{ id: v.id, values: v.values, namespace: v.namespace, metadata: { ...v.metadata } }] : [];
    });
  }

  async query(vector: number[], options: Record<string, unknown>) {
    const namespace = (options.namespace as string | undefined) ?? '';
    const cos = (a: Float32Array) => {
      let dot = 0, na = 0, nb = 0;
      for (let i = 0; i < a.length; i++) {
        dot += a[i]! * vector[i]!;
        na += a[i]! ** 2;
        nb += vector[i]! ** 2;
      }
      return dot / Math.sqrt(na * nb || 1);
    };
    const matches = [...this.visible.values()]
      .filter((v) => v.namespace === namespace)
      .map((v) => ({ id: v.id, score: cos(v.values) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, Number(options.topK ?? 5));
    return { matches };
  }

  /** Time passes: every mutation so far becomes visible, in order. */
  settle(): void {
    for (const apply of this.pending) apply();
    this.pending = [];
  }

  /** Vectors visible in a namespace (what a reader would see now). */
  countIn(namespace: string): number {
    return [...this.visible.values()].filter((v) => v.namespace === namespace).length;
  }
}
