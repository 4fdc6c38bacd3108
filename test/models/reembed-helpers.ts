/**
 * Helpers for embedding-switch tests: GraphQL requests whose job messages are held (the test
 * drives the job with runReembed, one unit at a time, so searches interleave with job steps
 * deterministically), the job's deps as the Worker builds them, and reads of the local vector
 * objects of a tenant's generations.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { expect } from 'vitest';
import worker from '../../src/index';
import { reembedDeps } from '../../src/rag/reembed-consumer';
import { runReembed, type ReembedJobDeps, type ReembedMessage, type UnitOutcome } from '../../src/rag/reembedding';
import { generationNamespace, generationVectorId } from '../../src/vector/generations';
import type { GqlResult } from '../helpers';

/** Job messages the Worker enqueued (held, never delivered by Miniflare). */
export const heldJobs: unknown[] = [];

/** POSTs through the Worker with a held INGEST_QUEUE and optional env overrides (a changed deployment configuration). */
export async function postHeld(query: string, variables: Record<string, unknown>, token: string, overrides: Record<string, unknown> = {}): Promise<GqlResult> {
  const queue = { send: async (body: unknown) => void heldJobs.push(structuredClone(body)), sendBatch: async () => undefined };
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request('http://localhost/graphql', {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }),
    }) as never,
    { ...env, INGEST_QUEUE: queue, ...overrides } as never,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, body: JSON.parse(await res.text()) };
}

export type TestJobDeps = ReembedJobDeps & { enqueued: { message: ReembedMessage; delaySeconds?: number }[]; units: UnitOutcome[] };

/** The job's deps as the Worker builds them, with its queue held, no grace period and one chunk per unit. */
export function jobDeps(over: Partial<ReembedJobDeps> = {}, workerEnv: Record<string, unknown> = {}): TestJobDeps {
  const enqueued: TestJobDeps['enqueued'] = [];
  const units: UnitOutcome[] = [];
  const base = reembedDeps({ ...env, ...workerEnv } as never);
  return {
    ...base,
    enqueue: async (message, delaySeconds) => void enqueued.push({ message, delaySeconds }),
    graceSeconds: 0,
    pageSize: 1,
    ...over,
    afterUnit: async (u) => {
      units.push(u);
      await over.afterUnit?.(u);
    },
    enqueued,
    units,
  };
}

/** One unit of the tenant's job; returns what it did (null: nothing left to do). */
export async function step(deps: TestJobDeps, tenantId: string): Promise<UnitOutcome | null> {
  const before = deps.units.length;
  await runReembed(deps, tenantId, { maxUnits: 1 });
  return deps.units.length > before ? deps.units.at(-1)! : null;
}

/** Runs the job until nothing is left (bounded). */
export async function runToIdle(deps: TestJobDeps, tenantId: string): Promise<void> {
  for (let i = 0; i < 500; i++) if ((await step(deps, tenantId)) === null) return;
  throw new Error('re-embedding did not finish in 500 units');
}

const stubOf = (tenantId: string, generation: number) => env.LOCAL_VECTORS.get(env.LOCAL_VECTORS.idFromName(generationNamespace(tenantId, generation)));

/** Vector count and dimension of a generation's local object. */
export async function spaceOf(tenantId: string, generation: number): Promise<{ dimensions: number | null; vectorCount: number }> {
  return stubOf(tenantId, generation).describe();
}

/** The chunk ids of the tenant, in seq order. */
export async function chunkIds(tenantId: string): Promise<string[]> {
  return (await env.DB.prepare('SELECT id FROM chunks WHERE tenant_id = ? ORDER BY seq').bind(tenantId).all<{ id: string }>()).results.map((r) => r.id);
}

/** The chunk ids among `ids` that have a vector in the generation. */
export async function withVectors(tenantId: string, generation: number, ids: string[]): Promise<string[]> {
  const got = (await stubOf(tenantId, generation).getByIds(ids.map((id) => generationVectorId(id, generation)))) as { id: string }[];
  return got.map((r) => r.id.replace(`:g${generation}`, '')).sort();
}

export const STATUS = `{ tenant { embedding { model dimensions generation }
  reembedding { status done total model dimensions generation error cleanedUp } } }`;

export async function statusOf(token: string, overrides: Record<string, unknown> = {}) {
  const r = await postHeld(STATUS, {}, token, overrides);
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data.tenant as {
    embedding: { model: string; dimensions: number; generation: number };
    reembedding: { status: string; done: number; total: number; model: string; dimensions: number; generation: number; error: string | null; cleanedUp: boolean } | null;
  };
}
