/** Helpers for tenant deletion and export tests: the jobs' deps, everything a tenant owns in every store. */
import { createExecutionContext, createMessageBatch, env, getQueueResult, runInDurableObject } from 'cloudflare:test';
import { expect } from 'vitest';
import worker from '../../src/index';
import type { DeletionDeps } from '../../src/lifecycle/tenant-deletion';
import { createLogger } from '../../src/lib/log';
import { createRoot, type JobMessage } from '../../src/tenant-session';
import { gql, type GqlResult } from '../helpers';
import { BUCKETS, postWith, vectorCountIn } from '../placement/move-helpers';
import { DATABASES, platformToken } from '../placement/placement-helpers';

export interface Enqueued {
  message: JobMessage;
  delaySeconds?: number;
}

/** The jobs' deps as the Worker builds them, with the queue held (tests drive the jobs). */
export function lifecycleDepsForTest(extra: Partial<DeletionDeps> = {}): DeletionDeps & { enqueued: Enqueued[] } {
  const enqueued: Enqueued[] = [];
  const root = createRoot(env as never, { log: createLogger('lifecycle-test') });
  return { ...root, enqueueJob: async (message, delaySeconds) => void enqueued.push({ message, delaySeconds }), enqueued, ...extra };
}

/** A Worker env whose queue records what is sent (delays included) instead of delivering it. */
export function heldEnv() {
  const sent: Enqueued[] = [];
  const held = { ...env, INGEST_QUEUE: { send: async (message: JobMessage, opts?: { delaySeconds?: number }) => void sent.push({ message, delaySeconds: opts?.delaySeconds }) } };
  return { held, sent };
}

/** A platform-admin GraphQL call through the Worker with a held queue. */
export async function asPlatform(held: Record<string, unknown>, query: string, variables: Record<string, unknown> = {}): Promise<GqlResult> {
  return postWith(held, query, variables, await platformToken());
}

/** Delivers job messages to the Worker's queue handler; returns the acks and retries. */
export async function deliverJobs(messages: Enqueued[], workerEnv: object = env, attempts = 1) {
  const batch = createMessageBatch('edgerag-ingest', messages.map((m, i) => ({ id: `m${i}`, timestamp: new Date(), attempts, body: m.message })));
  const ctx = createExecutionContext();
  await (worker as ExportedHandler<Env>).queue!(batch as never, workerEnv as never, ctx);
  return getQueueResult(batch, ctx);
}

const PLATFORM_ACTIONS = ['tenant.create', 'tenant.update', 'tenant.delete', 'tenant.restore', 'tenant.export'].map((a) => `'${a}'`).join(', ');
const TENANT_TABLES = ['collections', 'agents', 'documents', 'chunks', 'conversations', 'messages', 'audit_log'];

/** Rows of every table of the TenantGuard (or LocalVectorIndex) object's SQLite storage, its alarm and KV keys. */
export async function objectStorage(ns: DurableObjectNamespace, name: string) {
  return runInDurableObject(ns.get(ns.idFromName(name)) as never, async (_instance: unknown, state: DurableObjectState) => {
    const tables = state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'")
      .toArray()
      .map((r) => r.name);
    const rows: Record<string, number> = {};
    for (const t of tables) rows[t] = state.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM "${t}"`).one().n;
    return { rows, alarm: await state.storage.getAlarm(), keys: (await state.storage.list()).size };
  });
}

/**
 * Everything of the tenant in every store: its rows in every tenant table of its placement
 * database (and the keyword-index and residence rows), its R2 objects, its vectors, its
 * catalogue rows (keys, domains, members, provider, exports, non-platform audit rows) and the
 * rows its TenantGuard object holds.
 */
export async function footprint(tenantId: string, placement: string) {
  const db = DATABASES[placement]!;
  const one = async (sqlText: string, d: D1Database = db) => (await d.prepare(sqlText).bind(tenantId).first<{ n: number }>())!.n;
  const rows: Record<string, number> = {};
  for (const t of TENANT_TABLES) {
    // The tenant's platform audit trail (administration by platform admins: the receipt among it) stays in the catalogue.
    rows[t] = await one(`SELECT count(*) AS n FROM ${t} WHERE tenant_id = ?${t === 'audit_log' ? ` AND action NOT IN (${PLATFORM_ACTIONS}) AND action NOT LIKE 'tenant.move.%' AND action NOT LIKE 'tenant.delete.%' AND action NOT LIKE 'tenant.export.%'` : ''}`);
  }
  rows.keyword_tenants = await one('SELECT count(*) AS n FROM keyword_tenants WHERE tenant_id = ?');
  if (placement !== 'shared') rows.residence = await one('SELECT count(*) AS n FROM tenants WHERE id = ?');
  const catalogue: Record<string, number> = {};
  for (const t of ['api_keys', 'tenant_domains', 'memberships', 'member_removals', 'tenant_model_providers', 'tenant_embedders', 'tenant_exports', 'tenant_webhooks', 'webhook_deliveries']) {
    catalogue[t] = await one(`SELECT count(*) AS n FROM ${t} WHERE tenant_id = ?`, env.DB);
  }
  const objects = (await BUCKETS[placement]!.list({ prefix: `${tenantId}/` })).objects.length;
  const guard = await objectStorage(env.TENANT_GUARD as never, tenantId);
  const guardRows = Object.values(guard.rows).reduce((a, b) => a + b, 0) + guard.keys + (guard.alarm === null ? 0 : 1);
  return { rows, catalogue, objects, vectors: await vectorCountIn(placement, tenantId), guardRows };
}

/** A footprint with nothing in it. */
export function expectNothingLeft(f: Awaited<ReturnType<typeof footprint>>) {
  for (const [k, n] of Object.entries(f.rows)) expect(n, `${k} rows left`).toBe(0);
  for (const [k, n] of Object.entries(f.catalogue)) expect(n, `${k} rows left`).toBe(0);
  expect(f.objects, 'R2 objects left').toBe(0);
  expect(f.vectors, 'vectors left').toBe(0);
  expect(f.guardRows, 'guard storage left').toBe(0);
}

export const DELETE = 'mutation($id: ID!, $purge: Boolean) { deleteTenant(id: $id, purge: $purge) { id tenantId status step purgeAfter receipt error } }';
export const RESTORE = 'mutation($id: ID!) { restoreTenant(id: $id) { id status } }';
export const DELETION = 'query($id: ID!) { tenantDeletion(tenantId: $id) { id status step purgeAfter receipt finishedAt } }';

export { gql };
