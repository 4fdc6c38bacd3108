/**
 * The in-memory search core of the local vector store: unit vectors in one contiguous
 * Float32Array (row per vector), so a query is a single cache-friendly pass of dot
 * products (= cosine similarity on unit vectors) with an inline top-K. Kept free of
 * runtime imports so the benchmark can time it against a plain dot-product loop.
 */
import { compileFilter } from './filter';
import { VECTOR_LIMITS, VectorQueryError, type Metadata, type VectorMatch, type VectorQuery } from './types';

/** Scales to unit length in place; a zero vector cannot be compared by cosine. */
export function normalise(values: ArrayLike<number>, dims: number): Float32Array {
  if (values.length !== dims) throw new VectorQueryError(`vector has ${values.length} dimensions, the index has ${dims}`);
  const out = new Float32Array(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    const x = Number(values[i]);
    if (!Number.isFinite(x)) throw new VectorQueryError('vector values must be finite numbers');
    out[i] = x;
    norm += x * x;
  }
  norm = Math.sqrt(norm);
  if (norm === 0) throw new VectorQueryError('cannot index or query a zero vector with the cosine metric');
  for (let i = 0; i < dims; i++) out[i]! /= norm;
  return out;
}

/** Vectorize's topK rule: 1..100, or 1..50 when all metadata is returned. */
export function checkTopK(q: VectorQuery): number {
  const cap = q.returnMetadata === 'all' ? VECTOR_LIMITS.maxTopKWithAllMetadata : VECTOR_LIMITS.maxTopK;
  if (!Number.isInteger(q.topK) || q.topK < 1 || q.topK > cap) {
    throw new VectorQueryError(`topK must be an integer from 1 to ${cap}${q.returnMetadata === 'all' ? " with returnMetadata 'all'" : ''}`);
  }
  return q.topK;
}

export class VectorMatrix {
  private data: Float32Array;
  private ids: string[] = [];
  private metas: Metadata[] = [];
  private slot = new Map<string, number>();
  /**
   * Filter results per row, by filter (like a metadata index): the app filters every
   * query on tenant_id, and evaluating it per row per query would cost as much as the
   * dot products. Any write invalidates them.
   */
  private masks = new Map<string, Uint8Array>();

  constructor(
    readonly dims: number,
    capacity = 1024,
  ) {
    this.data = new Float32Array(dims * Math.max(1, capacity));
  }

  get size(): number {
    return this.ids.length;
  }

  /** Inserts or replaces (upsert semantics) one unit vector. */
  set(id: string, unit: Float32Array, metadata: Metadata): void {
    this.masks.clear();
    let i = this.slot.get(id);
    if (i === undefined) {
      i = this.ids.length;
      if ((i + 1) * this.dims > this.data.length) {
        const grown = new Float32Array(Math.max(this.data.length * 2, (i + 1) * this.dims));
        grown.set(this.data);
        this.data = grown;
      }
      this.ids.push(id);
      this.metas.push(metadata);
      this.slot.set(id, i);
    } else {
      this.metas[i] = metadata;
    }
    this.data.set(unit, i * this.dims);
  }

  /** Removes by id (swap with the last row so rows stay contiguous). */
  delete(id: string): boolean {
    const i = this.slot.get(id);
    if (i === undefined) return false;
    this.masks.clear();
    const last = this.ids.length - 1;
    if (i !== last) {
      this.data.copyWithin(i * this.dims, last * this.dims, (last + 1) * this.dims);
      this.ids[i] = this.ids[last]!;
      this.metas[i] = this.metas[last]!;
      this.slot.set(this.ids[i]!, i);
    }
    this.ids.pop();
    this.metas.pop();
    this.slot.delete(id);
    return true;
  }

  private mask(filter: NonNullable<VectorQuery['filter']>): Uint8Array {
    const key = JSON.stringify(filter);
    let m = this.masks.get(key);
    if (!m) {
      const pred = compileFilter(filter);
      m = new Uint8Array(this.ids.length);
      for (let r = 0; r < m.length; r++) m[r] = pred(this.metas[r]) ? 1 : 0;
      if (this.masks.size >= 64) this.masks.delete(this.masks.keys().next().value!);
      this.masks.set(key, m);
    }
    return m;
  }

  /** Top-K by cosine, filter applied before ranking (as Vectorize: topK comes from the filtered set). */
  query(unitQuery: Float32Array, q: VectorQuery): VectorMatch[] {
    const k = checkTopK(q);
    const mask = q.filter ? this.mask(q.filter) : null;
    const dims = this.dims;
    const data = this.data;
    const n = this.ids.length;
    // Sorted (descending) top-K kept in two small parallel arrays.
    const topScore = new Float64Array(k).fill(-Infinity);
    const topIdx = new Int32Array(k).fill(-1);
    let worst = -Infinity;
    for (let r = 0; r < n; r++) {
      if (mask && mask[r] === 0) continue;
      let s = 0;
      const base = r * dims;
      for (let j = 0; j < dims; j++) s += data[base + j]! * unitQuery[j]!;
      if (s <= worst) continue;
      let p = k - 1;
      while (p > 0 && topScore[p - 1]! < s) {
        topScore[p] = topScore[p - 1]!;
        topIdx[p] = topIdx[p - 1]!;
        p--;
      }
      topScore[p] = s;
      topIdx[p] = r;
      worst = topScore[k - 1]!;
    }
    const out: VectorMatch[] = [];
    const withMeta = q.returnMetadata === 'indexed' || q.returnMetadata === 'all';
    for (let i = 0; i < k && topIdx[i]! >= 0; i++) {
      const r = topIdx[i]!;
      out.push(withMeta ? { id: this.ids[r]!, score: topScore[i]!, metadata: { ...this.metas[r]! } } : { id: this.ids[r]!, score: topScore[i]! });
    }
    return out;
  }
}
