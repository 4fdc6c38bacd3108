/**
 * moveTenant between two Vectorize indexes (VECTOR_BACKEND=vectorize, a placement with its own
 * `vectors` binding), against the Vectorize stand-in (test/vector/vectorize-stand-in.ts): ids are
 * index-wide, getByIds takes no namespace, and writes become visible only later. The copy is
 * read back by id; a verify that runs before Vectorize has applied the copy waits (the job stays
 * at verify and is retried) instead of failing the move, and fails it only once the shortfall
 * has lasted VECTOR_VISIBILITY_MS. The real service cannot be reached from these tests.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { AppEnv } from '../../src/env';
import { createLogger } from '../../src/lib/log';
import { runMove, startMove } from '../../src/placement/move';
import { createRoot } from '../../src/tenant-session';
import { createTenant, gql } from '../helpers';
import { VectorizeStandIn } from '../vector/vectorize-stand-in';
import { moveDepsForTest, populate } from './move-helpers';

async function vectorizeSetup() {
  const shared = new VectorizeStandIn();
  const eu = new VectorizeStandIn();
  const vzEnv = {
    ...env,
    VECTOR_BACKEND: 'vectorize',
    VECTORIZE: shared,
    VECTORIZE_EU: eu,
    PLACEMENTS: JSON.stringify({ 'regional:eu': { database: 'DB_EU', bucket: 'DOCUMENTS_EU', vectors: 'VECTORIZE_EU' }, 'dedicated:d1-1': { database: 'DB_DEDICATED_1' } }),
  } as unknown as AppEnv;
  // A populated tenant (rows through the Worker), whose vectors are put into the shared stand-in
  // index by chunk id as ingestion with VECTOR_BACKEND=vectorize would have, already applied.
  const t = await createTenant();
  await populate(t);
  const chunks = (await env.DB.prepare('SELECT id FROM chunks WHERE tenant_id = ? ORDER BY id').bind(t.id).all<{ id: string }>()).results.map((r) => r.id);
  expect(chunks.length).toBeGreaterThan(0);
  await shared.upsert(chunks.map((id, i) => ({ id, values: [1, i / 10, 0.5, 0.25], namespace: t.id, metadata: { tenant_id: t.id } })));
  shared.settle();
  const deps = moveDepsForTest({ ...createRoot(vzEnv, { log: createLogger('move-vectorize-test') }) });
  return { shared, eu, t, chunks, deps };
}

describe('moveTenant between Vectorize indexes', () => {
  it('waits at verify until Vectorize has applied the copied vectors, then finishes; reads continue meanwhile', async () => {
    const { shared, eu, t, chunks, deps } = await vectorizeSetup();
    const move = await startMove(deps, t.id, { placement: 'regional:eu' }, 'platform:test', 'req-test');
    await expect(runMove(deps, move.id)).rejects.toThrow(/vectors: source has \d+, target 0: waiting for Vectorize to apply/);
    const waiting = await env.DB.prepare('SELECT step, error FROM tenant_moves WHERE id = ?').bind(move.id).first<{ step: string; error: string }>();
    expect(waiting).toMatchObject({ step: 'verify', error: expect.stringContaining('waiting for Vectorize') });
    expect((await gql('{ documents(first: 5) { edges { node { id } } } }', {}, { token: t.token })).body.data.documents.edges).toHaveLength(2);

    eu.settle(); // Vectorize applied the copy
    expect(await runMove(deps, move.id)).toMatchObject({ step: 'done' });
    expect(eu.countIn(t.id)).toBe(chunks.length);
    // The source index's vectors are deleted by id (index-wide ids, no namespace), applied later.
    shared.settle();
    expect(shared.countIn(t.id)).toBe(0);
  });

  it('fails the move (source kept, writes allowed again) when the vectors never show up in the target', async () => {
    const { shared, t, chunks, deps } = await vectorizeSetup();
    const move = await startMove(deps, t.id, { placement: 'regional:eu' }, 'platform:test', 'req-test');
    await expect(runMove(deps, move.id)).rejects.toThrow(/waiting for Vectorize/);
    // As if VECTOR_VISIBILITY_MS had passed since the first shortfall.
    await env.DB.prepare("UPDATE tenant_moves SET state = json_set(state, '$.vectorsPendingSince', 0) WHERE id = ?").bind(move.id).run();
    expect(await runMove(deps, move.id)).toMatchObject({ step: 'failed', error: expect.stringMatching(/^vectors: source has \d+, target 0$/) });
    expect(await env.DB.prepare('SELECT placement, moving_to FROM tenants WHERE id = ?').bind(t.id).first()).toEqual({ placement: 'shared', moving_to: null });
    expect(shared.countIn(t.id)).toBe(chunks.length);
    expect((await gql('mutation { createCollection(input: { name: "after-failed-move" }) { id } }', {}, { token: t.token })).body.errors).toBeUndefined();
  });
});
