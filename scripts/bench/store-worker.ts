/**
 * Bench-only Worker (run by scripts/bench-search.mjs in workerd through Miniflare):
 * the local vector store's search core against the floor — a plain Float32Array
 * dot-product loop with a top-10 pass over the same vectors — in the same runtime.
 * Workers freeze timers during computation, so the caller times requests from outside.
 */
import { OfflineEmbeddings } from '../../src/ai/offline-embeddings';
import { VectorMatrix } from '../../src/vector/matrix';
import { corpusText, queryText } from './corpus';

interface State {
  n: number;
  dims: number;
  matrix: VectorMatrix;
  flat: Float32Array;
  queries: Float32Array[];
}
let state: State | null = null;

function load(n: number, dims: number): State {
  const emb = new OfflineEmbeddings(dims);
  const matrix = new VectorMatrix(dims, n);
  const flat = new Float32Array(n * dims);
  for (let i = 0; i < n; i++) {
    const v = emb.vector(corpusText(i));
    flat.set(v, i * dims);
    matrix.set(`doc:1:${i}`, v, { tenant_id: 'bench-tenant', document_id: `doc-${Math.floor(i / 500)}`, type: 'text/markdown' });
  }
  const queries = Array.from({ length: 64 }, (_, i) => emb.vector(queryText(i * 7919 % n)));
  return { n, dims, matrix, flat, queries };
}

/** The floor: every dot product into a Float32Array, then one pass keeping the 10 best. */
function floorTop10(flat: Float32Array, n: number, dims: number, q: Float32Array): number {
  const scores = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    let s = 0;
    const base = r * dims;
    for (let j = 0; j < dims; j++) s += flat[base + j]! * q[j]!;
    scores[r] = s;
  }
  const best = new Float64Array(10).fill(-Infinity);
  const idx = new Int32Array(10).fill(-1);
  for (let r = 0; r < n; r++) {
    const s = scores[r]!;
    if (s <= best[9]!) continue;
    let p = 9;
    while (p > 0 && best[p - 1]! < s) {
      best[p] = best[p - 1]!;
      idx[p] = idx[p - 1]!;
      p--;
    }
    best[p] = s;
    idx[p] = r;
  }
  return idx[0]!;
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const iters = Number(url.searchParams.get('iters') ?? 1);
    if (url.pathname === '/load') {
      state = load(Number(url.searchParams.get('n')), Number(url.searchParams.get('dims') ?? 384));
      return Response.json({ n: state.n });
    }
    if (!state) return new Response('load first', { status: 400 });
    const s = state;
    let check = 0;
    if (url.pathname === '/store') {
      // Exactly what retrieval asks of the local store: tenant filter, topK, indexed metadata.
      for (let i = 0; i < iters; i++) {
        check += s.matrix.query(s.queries[i % s.queries.length]!, { topK: 10, filter: { tenant_id: 'bench-tenant' }, returnMetadata: 'indexed' }).length;
      }
    } else if (url.pathname === '/store-nofilter') {
      for (let i = 0; i < iters; i++) check += s.matrix.query(s.queries[i % s.queries.length]!, { topK: 10 }).length;
    } else if (url.pathname === '/floor') {
      for (let i = 0; i < iters; i++) check += floorTop10(s.flat, s.n, s.dims, s.queries[i % s.queries.length]!);
    } else if (url.pathname === '/agree') {
      // Same winner from both: the comparison is apples to apples.
      let same = 0;
      for (const q of s.queries) if (s.matrix.query(q, { topK: 1 })[0]!.id === `doc:1:${floorTop10(s.flat, s.n, s.dims, q)}`) same++;
      return Response.json({ same, of: s.queries.length });
    }
    return Response.json({ check });
  },
};
