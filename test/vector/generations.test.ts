/** Embedding generations in a vector store (src/vector/generations.ts): namespaces and ids per generation. */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { chunkIdOfVector, GenerationVectors, generationNamespace, generationVectorId } from '../../src/vector/generations';
import { LocalVectorStore } from '../../src/vector/local-store';

const unit = (dims: number, i: number) => Array.from({ length: dims }, (_, j) => (j === i ? 1 : 0));

describe('generation namespaces and ids', () => {
  it('generation 0 is the tenant namespace and the chunk id (nothing stored before generations moves)', () => {
    expect(generationNamespace('t1', 0)).toBe('t1');
    expect(generationVectorId('d:1:0', 0)).toBe('d:1:0');
  });

  it('generation n has its own namespace and suffixed ids (Vectorize ids are index-wide)', () => {
    expect(generationNamespace('t1', 3)).toBe('t1-g3');
    expect(generationVectorId('d:1:0', 3)).toBe('d:1:0:g3');
    expect(chunkIdOfVector('d:1:0:g3', 3)).toBe('d:1:0');
    expect(chunkIdOfVector('d:1:0:g2', 3)).toBeNull();
  });

  it('a uuid chunk id with a large version and generation stays within 64 bytes', () => {
    const id = generationVectorId(`${crypto.randomUUID()}:99999:19999`, 99999);
    expect(new TextEncoder().encode(id).byteLength).toBeLessThanOrEqual(64);
  });
});

describe('GenerationVectors over the local store', () => {
  it('two generations of one tenant hold different dimensions side by side; writes and deletes of one leave the other alone', async () => {
    const tenant = crypto.randomUUID();
    const store = new LocalVectorStore(env.LOCAL_VECTORS);
    const g0 = new GenerationVectors(store, tenant, 0);
    const g1 = new GenerationVectors(store, tenant, 1);
    await g0.upsert([{ id: 'c1', values: unit(4, 0), metadata: { tenant_id: tenant } }]);
    await g1.upsert([{ id: 'c1', values: unit(8, 1), metadata: { tenant_id: tenant } }]);
    expect(await g0.query(unit(4, 0), { topK: 5 })).toEqual([{ id: 'c1', score: 1 }]);
    expect(await g1.query(unit(8, 1), { topK: 5 })).toEqual([{ id: 'c1', score: 1 }]);
    await g1.deleteChunks(['c1']);
    expect(await g1.query(unit(8, 1), { topK: 5 })).toEqual([]);
    expect((await g0.getChunks(['c1'])).map((r) => r.id)).toEqual(['c1']);
  });
});
