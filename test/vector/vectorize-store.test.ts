/**
 * VectorizeStore against the Vectorize stand-in (test/vector/vectorize-stand-in.ts): the store
 * keeps Vectorize's index-wide ids inside the tenant's namespace, batches its calls within the
 * binding's limits and converts what comes back. The real service cannot be reached from here.
 */
import { describe, expect, it } from 'vitest';
import { VectorizeStore } from '../../src/vector/vectorize-store';
import { VectorizeStandIn } from './vectorize-stand-in';

const vec = (i: number) => [1, i / 100, 0.5, 0.25];

describe('VectorizeStore', () => {
  it('reads back only the namespace asked for, although getByIds is index-wide', async () => {
    const index = new VectorizeStandIn();
    const store = new VectorizeStore(index);
    await store.upsert('tenant-a', [{ id: 'a1', values: vec(1), metadata: { tenant_id: 'tenant-a', page: null } }]);
    await store.upsert('tenant-b', [{ id: 'b1', values: vec(2), metadata: { tenant_id: 'tenant-b' } }]);
    index.settle();
    expect(await store.getByIds('tenant-a', ['a1', 'b1'])).toEqual([{ id: 'a1', values: expect.any(Array), metadata: { tenant_id: 'tenant-a' } }]);
    expect(await store.getByIds('tenant-b', ['a1'])).toEqual([]);
    // Float32 values come back as plain numbers, equal to 6 decimals (what the move's fingerprint rounds to).
    const [a1] = await store.getByIds('tenant-a', ['a1']);
    expect(a1!.values.map((v) => Math.round(v * 1e6))).toEqual(vec(1).map((v) => Math.round(v * 1e6)));
  });

  it('asks for at most 20 ids per getByIds call and upserts at most 1,000 per call', async () => {
    const index = new VectorizeStandIn();
    const store = new VectorizeStore(index);
    const records = Array.from({ length: 1_050 }, (_, i) => ({ id: `v${i}`, values: vec(i % 100), metadata: { tenant_id: 't' } }));
    await store.upsert('t', records);
    index.settle();
    const got = await store.getByIds('t', records.slice(0, 45).map((r) => r.id));
    expect(got).toHaveLength(45);
    expect(index.getBatches).toEqual([20, 20, 5]);
  });

  it('does not promise read-your-write: an upsert is invisible until Vectorize applies it', async () => {
    const index = new VectorizeStandIn();
    const store = new VectorizeStore(index);
    await store.upsert('t', [{ id: 'x', values: vec(3), metadata: {} }]);
    expect(await store.getByIds('t', ['x'])).toEqual([]);
    index.settle();
    expect(await store.getByIds('t', ['x'])).toHaveLength(1);
    await store.deleteByIds('t', ['x']);
    expect(await store.getByIds('t', ['x'])).toHaveLength(1);
    index.settle();
    expect(await store.getByIds('t', ['x'])).toEqual([]);
  });
});
