/** Helpers for moveTenant tests: the job's deps, a populated tenant and a snapshot of everything it owns. */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { expect } from 'vitest';
import worker from '../../src/index';
import { databaseFor } from '../../src/db/client';
import { fingerprintTenantRows, TENANT_TABLES } from '../../src/db/tenant-copy';
import { createLogger } from '../../src/lib/log';
import type { MoveDeps, MoveMessage } from '../../src/placement/move';
import { createRoot } from '../../src/tenant-session';
import { ingestProcessed } from '../documents/doc-helpers';
import { gql, type GqlResult, type TestTenant } from '../helpers';
import { DATABASES } from './placement-helpers';

/** The move job's deps as the Worker builds them, with the job queue held (tests drive runMove). */
export function moveDepsForTest(extra: Partial<MoveDeps> = {}): MoveDeps & { enqueued: MoveMessage[] } {
  const enqueued: MoveMessage[] = [];
  const root = createRoot(env as never, { log: createLogger('move-test') });
  return { ...root, enqueue: async (m) => void enqueued.push(m), enqueued, ...extra };
}

export const BUCKETS: Record<string, R2Bucket> = { shared: env.DOCUMENTS, 'regional:eu': env.DOCUMENTS_EU!, 'dedicated:d1-1': env.DOCUMENTS };

/** The local vector object of a tenant in a placement's index (src/vector/local-store.ts). */
export async function vectorCountIn(placement: string, tenantId: string): Promise<number> {
  const name = placement === 'shared' ? tenantId : `${placement}/${tenantId}`;
  return (await env.LOCAL_VECTORS.get(env.LOCAL_VECTORS.idFromName(name)).describe()).vectorCount;
}

/** Everything the tenant owns in a placement: row fingerprints, vector count, originals with content. */
export async function snapshotIn(placement: string, tenantId: string) {
  const db = databaseFor(DATABASES[placement]!);
  const rows: Record<string, { count: number; hash: string }> = {};
  for (const t of TENANT_TABLES) rows[t.name] = await fingerprintTenantRows(db, t.name, tenantId);
  const listed = await BUCKETS[placement]!.list({ prefix: `${tenantId}/` });
  const originals: Record<string, string> = {};
  for (const o of listed.objects) originals[o.key] = await (await BUCKETS[placement]!.get(o.key))!.text();
  return { rows, vectors: await vectorCountIn(placement, tenantId), originals };
}

/** A tenant with documents (chunks, vectors, originals), a collection, a conversation and audit rows. */
export async function populate(t: TestTenant) {
  const c = await gql('mutation { createCollection(input: { name: "handbook" }) { id } }', {}, { token: t.token });
  const collectionId = c.body.data.createCollection.id;
  const d1 = await ingestProcessed(t, { name: 'vacation.md', text: '# Vacation\nEmployees get 30 vacation days per year.', collectionId });
  const d2 = await ingestProcessed(t, { name: 'expenses.md', text: '# Expenses\nUpload receipts within 14 days of the trip.', tags: ['finance'] });
  expect([d1.status, d2.status]).toEqual(['COMPLETED', 'COMPLETED']);
  const agent = await gql('mutation($k: [ID!]) { createAgent(input: { slug: "hr", name: "HR bot", knowledge: $k }) { id } }', { k: [collectionId] }, { token: t.token });
  expect(agent.body.errors, JSON.stringify(agent.body.errors)).toBeUndefined();
  const asked = await gql('mutation { ask(input: { question: "How many vacation days?", agentSlug: "hr" }) { conversation { id } } }', {}, { token: t.token });
  expect(asked.body.errors).toBeUndefined();
  return { collectionId, documents: [d1, d2], conversationId: asked.body.data.ask.conversation.id as string };
}

/**
 * What the API shows of the tenant: documents, collections, conversations, search hits, stored
 * usage (embedding tokens are left out: the search in this view spends some).
 */
export async function apiView(t: TestTenant) {
  // Two requests: the whole view is over the operation cost limit in one.
  const parts = [
    `{ documents(first: 10) { edges { node { id name status chunkCount contentHash tags collection { id } } } }
       collections(first: 10) { edges { node { id name } } }
       agents(first: 10) { edges { node { id slug knowledge { id } } } } }`,
    `{ conversations(first: 10) { edges { node { id title messages { role content } } } }
       search(input: { query: "vacation days", topK: 5 }) { hits { text document { id } } }
       usage { documents storedBytes asks } }`,
  ];
  const out: Record<string, unknown> = {};
  for (const query of parts) {
    const r = await gql(query, {}, { token: t.token });
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    Object.assign(out, r.body.data);
  }
  return out;
}

/** POSTs a GraphQL request to the Worker with env overrides (e.g. a held INGEST_QUEUE). */
export async function postWith(overrides: Record<string, unknown>, query: string, variables: Record<string, unknown>, token: string): Promise<GqlResult> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request('http://localhost/graphql', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) }) as never,
    { ...env, ...overrides } as never,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, body: JSON.parse(await res.text()) };
}

/** The month's usage counters (read without spending any). */
export async function usageOf(t: TestTenant) {
  const r = await gql('{ usage { documents storedBytes asks embeddingTokens completionTokens } }', {}, { token: t.token });
  expect(r.body.errors).toBeUndefined();
  return r.body.data.usage;
}
