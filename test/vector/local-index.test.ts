/** LocalVectorIndex: the Vectorize stand-in (namespaces, cosine, topK caps, upsert, delete, persistence). */
import { env, evictDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { LocalVectorStore } from '../../src/vector/local-store';
import type { VectorRecord } from '../../src/vector/types';

const store = () => new LocalVectorStore(env.LOCAL_VECTORS);
const ns = () => `test-${crypto.randomUUID()}`;
const rec = (id: string, values: number[], metadata: Record<string, string | number | boolean | null> = {}): VectorRecord => ({ id, values, metadata });

describe('LocalVectorIndex', () => {
  it('ranks by cosine similarity (scale-invariant), best first, with scores in [-1, 1]', async () => {
    const s = store();
    const n = ns();
    await s.upsert(n, [rec('x', [1, 0, 0]), rec('y', [1, 1, 0]), rec('z', [0, 0, 1]), rec('neg', [-1, 0, 0])]);
    const r = await s.query(n, [10, 0, 0], { topK: 4 });
    expect(r.map((m) => m.id)).toEqual(['x', 'y', 'z', 'neg']);
    expect(r[0]!.score).toBeCloseTo(1, 6);
    expect(r[1]!.score).toBeCloseTo(Math.SQRT1_2, 6);
    expect(r[2]!.score).toBeCloseTo(0, 6);
    expect(r[3]!.score).toBeCloseTo(-1, 6);
    expect(r[0]!.metadata).toBeUndefined();
  });

  it('keeps namespaces apart', async () => {
    const s = store();
    const [n1, n2] = [ns(), ns()];
    await s.upsert(n1, [rec('same-id', [1, 0], { tenant_id: 'one' })]);
    await s.upsert(n2, [rec('same-id', [0, 1], { tenant_id: 'two' })]);
    expect(await s.query(n1, [1, 0], { topK: 5, returnMetadata: 'all' })).toEqual([{ id: 'same-id', score: expect.closeTo(1, 6), metadata: { tenant_id: 'one' } }]);
    await s.deleteByIds(n1, ['same-id']);
    expect(await s.query(n1, [1, 0], { topK: 5 })).toEqual([]);
    expect(await s.query(n2, [1, 0], { topK: 5 })).toHaveLength(1);
  });

  it('upsert replaces values and metadata; delete removes', async () => {
    const s = store();
    const n = ns();
    await s.upsert(n, [rec('a', [1, 0], { v: 1 }), rec('b', [0, 1], { v: 1 })]);
    await s.upsert(n, [rec('a', [0, 1], { v: 2 })]);
    const r = await s.query(n, [0, 1], { topK: 10, returnMetadata: 'indexed' });
    expect(r.map((m) => [m.id, m.metadata?.v])).toEqual([['a', 2], ['b', 1]]);
    await s.deleteByIds(n, ['b', 'never-existed']);
    expect((await s.query(n, [0, 1], { topK: 10 })).map((m) => m.id)).toEqual(['a']);
  });

  it('applies the filter before topK (topK comes from the filtered set)', async () => {
    const s = store();
    const n = ns();
    const recs = Array.from({ length: 30 }, (_, i) => rec(`v${i}`, [1, i / 100], { group: i % 3 === 0 ? 'rare' : 'common', i }));
    await s.upsert(n, recs);
    const r = await s.query(n, [1, 0], { topK: 5, filter: { group: 'rare', i: { $gte: 9 } }, returnMetadata: 'indexed' });
    expect(r.map((m) => m.id)).toEqual(['v9', 'v12', 'v15', 'v18', 'v21']);
    expect(r.every((m) => m.metadata?.group === 'rare')).toBe(true);
  });

  it('enforces Vectorize’s topK caps and argument checks', async () => {
    const s = store();
    const n = ns();
    await s.upsert(n, [rec('a', [1, 0, 0])]);
    await expect(s.query(n, [1, 0, 0], { topK: 101 })).rejects.toThrow(/topK must be an integer from 1 to 100/);
    await expect(s.query(n, [1, 0, 0], { topK: 0 })).rejects.toThrow(/topK/);
    await expect(s.query(n, [1, 0, 0], { topK: 51, returnMetadata: 'all' })).rejects.toThrow(/1 to 50/);
    expect(await s.query(n, [1, 0, 0], { topK: 100, returnMetadata: 'indexed' })).toHaveLength(1);
    expect(await s.query(n, [1, 0, 0], { topK: 50, returnMetadata: 'all' })).toHaveLength(1);
    await expect(s.query(n, [1, 0], { topK: 1 })).rejects.toThrow(/dimensions/);
    await expect(s.upsert(n, [rec('b', [1, 0])])).rejects.toThrow(/dimensions/);
    await expect(s.upsert(n, [rec('z', [0, 0, 0])])).rejects.toThrow(/zero vector/);
    await expect(s.upsert(n, [rec('x'.repeat(65), [1, 0, 0])])).rejects.toThrow(/ids/);
    await expect(s.query(n, [1, 0, 0], { topK: 1, filter: { k: { $bogus: 1 } } as never })).rejects.toThrow(/invalid filter/);
    // An all-or-nothing upsert: the bad record kept the good one out.
    await expect(s.upsert(n, [rec('good', [0, 1, 0]), rec('bad', [1])])).rejects.toThrow();
    expect((await s.query(n, [0, 1, 0], { topK: 10 })).map((m) => m.id)).toEqual(['a']);
  });

  it('persists across restarts of the object', async () => {
    const s = store();
    const n = ns();
    await s.upsert(n, [rec('p', [0.2, 0.9], { tenant_id: 'keep' }), rec('q', [0.9, 0.2])]);
    const stub = env.LOCAL_VECTORS.get(env.LOCAL_VECTORS.idFromName(n));
    await evictDurableObject(stub);
    const r = await s.query(n, [0, 1], { topK: 2, returnMetadata: 'all' });
    expect(r.map((m) => m.id)).toEqual(['p', 'q']);
    expect(r[0]!.metadata).toEqual({ tenant_id: 'keep' });
    expect(await stub.describe()).toEqual({ dimensions: 2, vectorCount: 2 });
  });
});
