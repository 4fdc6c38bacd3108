/**
 * One TenantGuard per tenant, in its placement's Durable Object jurisdiction (DESIGN §5, §11;
 * src/objects/guard-router.ts): admission, the session's quotas and usage records, the ingest
 * consumer and the resolvers all reach the same object; a move that changes the jurisdiction
 * hands the guard's figures to the new object and the old one forwards; warm requests still
 * make no D1 query.
 *
 * workerd does not implement `namespace.jurisdiction()` ("Jurisdiction restrictions are not
 * implemented in workerd"), so these tests run with EMULATE_JURISDICTIONS=true (vitest.config.ts):
 * an `eu` guard is the object named `eu:<tenant id>`. What they show is the routing and the
 * hand-over; that Cloudflare keeps a jurisdiction's objects in the region cannot be tested here.
 */
import { createExecutionContext, env, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { resetIsolateDirectory } from '../../src/auth/directory';
import { databaseFor } from '../../src/db/client';
import { loadConfig, type AppEnv } from '../../src/env';
import worker from '../../src/index';
import { countingD1 } from '../../src/lib/d1-counter';
import { createLogger } from '../../src/lib/log';
import { guardClient } from '../../src/objects/guard-client';
import { guardNamespace } from '../../src/objects/guard-namespace';
import { forgetGuardJurisdictions, guardRouter } from '../../src/objects/guard-router';
import type { TenantGuard } from '../../src/objects/tenant-guard';
import { runMove, startMove } from '../../src/placement/move';
import { ingestConsumerDeps } from '../../src/services';
import { createRoot, tenantGuard } from '../../src/tenant-session';
import { deliver, heldQueue } from '../documents/doc-helpers';
import { createTenant, gql, type TestTenant } from '../helpers';
import { moveDepsForTest, populate, postWith } from './move-helpers';

/** The local placements, with the eu database's Durable Objects in the `eu` jurisdiction. */
const JURISDICTION_PLACEMENTS = JSON.stringify({
  'regional:eu': { database: 'DB_EU', bucket: 'DOCUMENTS_EU', jurisdiction: 'eu' },
  'dedicated:d1-1': { database: 'DB_DEDICATED_1' },
});
const euEnv = { ...env, PLACEMENTS: JURISDICTION_PLACEMENTS } as unknown as AppEnv;

const defaultGuard = (tenantId: string) => env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenantId));
const euGuard = (tenantId: string) => env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(`eu:${tenantId}`));

/** What an object holds, read from its storage without calling it (a call would bind it). */
async function held(stub: DurableObjectStub<TenantGuard>) {
  return runInDurableObject(stub, (_g: TenantGuard, state: DurableObjectState) => {
    const sql = state.storage.sql;
    const periods = [...sql.exec<{ requests: number; documents: number; embedding_tokens: number }>('SELECT requests, documents, embedding_tokens FROM periods')];
    const handover = [...sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'handover'")].map((r) => JSON.parse(r.v))[0] ?? {};
    return { requests: periods.reduce((n, p) => n + p.requests, 0), documents: periods.reduce((n, p) => n + p.documents, 0), handover };
  });
}

/** The tenant's usage as the API shows it, through the Worker with the eu jurisdiction configured. */
async function usageVia(t: TestTenant) {
  const r = await postWith({ PLACEMENTS: JURISDICTION_PLACEMENTS }, '{ usage { documents storedBytes asks embeddingTokens } }', {}, t.token);
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data.usage as Record<string, number>;
}

describe('the TenantGuard of a regional tenant', () => {
  it('is one object, in the jurisdiction, for admission, quotas, the ingest consumer and the resolvers', async () => {
    const t = await createTenant({ placement: 'regional:eu' });
    const ingested = await postWith(
      { PLACEMENTS: JURISDICTION_PLACEMENTS, INGEST_QUEUE: heldQueue },
      'mutation { ingestDocument(input: { name: "a.md", text: "# A\\nSomething the eu tenant owns." }) { id } }', {}, t.token,
    );
    expect(ingested.body.errors, JSON.stringify(ingested.body.errors)).toBeUndefined();
    // The consumer opens the tenant's session with the same configuration: its usage records go to the eu object.
    const delivered = await deliver(ingested.body.data.ingestDocument.id, { workerEnv: { ...env, PLACEMENTS: JURISDICTION_PLACEMENTS } });
    expect(delivered.explicitAcks).toHaveLength(1);

    const eu = await held(euGuard(t.id));
    expect(eu.requests).toBeGreaterThanOrEqual(1);
    expect(eu.documents).toBe(1);
    // Nothing reached an object of the tenant in the default namespace.
    expect((await held(defaultGuard(t.id))).requests).toBe(0);
    expect(await usageVia(t)).toMatchObject({ documents: 1 });

    // Every other way of addressing the tenant's guard reaches the same object.
    const root = createRoot(euEnv, { log: createLogger('jurisdiction-test') });
    const tenant = (await root.platform.tenantById(t.id))!;
    forgetGuardJurisdictions();
    for (const g of [tenantGuard(root, tenant), root.guards.forTenant(t.id), root.guardFor(t.id)!, (await ingestConsumerDeps(euEnv).tenant(t.id))!.guard!]) {
      expect((await g.usage()).documents).toBe(1);
    }
    expect((await held(defaultGuard(t.id))).requests).toBe(0);
  });

  it('costs one catalogue lookup per tenant and isolate, and warm requests stay at 0 D1 queries', async () => {
    const t = await createTenant({ placement: 'regional:eu' });
    const counted = { queries: 0 };
    const countedEnv = { ...euEnv, DB: countingD1(env.DB, counted) } as AppEnv;
    const viewer = async () => {
      const before = counted.queries;
      const ctx = createExecutionContext();
      const res = await worker.fetch(
        new Request('http://localhost/graphql', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.token}` }, body: '{"query":"{ viewer { role } }"}' }) as never,
        countedEnv as never, ctx,
      );
      await waitOnExecutionContext(ctx);
      expect(res.status).toBe(200);
      return counted.queries - before;
    };
    resetIsolateDirectory();
    forgetGuardJurisdictions();
    const cold = await viewer();
    expect(await viewer()).toBe(0);
    expect(await viewer()).toBe(0);
    // The same cold request without any jurisdiction configured: one lookup fewer (the tenant → jurisdiction one).
    resetIsolateDirectory();
    forgetGuardJurisdictions();
    const plainCounted = { queries: 0 };
    const ctx = createExecutionContext();
    await worker.fetch(
      new Request('http://localhost/graphql', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.token}` }, body: '{"query":"{ viewer { role } }"}' }) as never,
      { ...env, DB: countingD1(env.DB, plainCounted) } as never, ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(cold).toBe(plainCounted.queries + 1);
  });

  it('routes by the catalogue: the router looks a tenant up once, and not at all without jurisdictions', async () => {
    const t = await createTenant({ placement: 'regional:eu' });
    const counted = { queries: 0 };
    const catalogue = databaseFor(countingD1(env.DB, counted));
    forgetGuardJurisdictions();
    const router = guardRouter(euEnv, loadConfig(euEnv), catalogue);
    await router.forTenant(t.id).usage();
    await router.forTenant(t.id).usage();
    expect(counted.queries).toBe(1);
    expect((await held(euGuard(t.id))).handover).toEqual({});
    const plain = guardRouter(env as unknown as AppEnv, loadConfig(env as unknown as AppEnv), catalogue);
    counted.queries = 0;
    await plain.forTenant(t.id).usage();
    expect(counted.queries).toBe(0);
  });

  it('asks the platform for the jurisdiction namespace in production (no emulation)', () => {
    const asked: string[] = [];
    const ns = { jurisdiction: (j: string) => (asked.push(j), { jurisdictional: j }) } as unknown as DurableObjectNamespace<TenantGuard>;
    expect(guardNamespace({ TENANT_GUARD: ns as never, ENVIRONMENT: 'test' }, 'eu')).toEqual({ jurisdictional: 'eu' });
    expect(guardNamespace({ TENANT_GUARD: ns as never, ENVIRONMENT: 'test' }, null)).toBe(ns);
    expect(asked).toEqual(['eu']);
  });

  it('refuses EMULATE_JURISDICTIONS in production, naming the setting', () => {
    expect(() => loadConfig({ ...env, ENVIRONMENT: 'production', EMULATE_JURISDICTIONS: 'true', PLACEMENTS: JURISDICTION_PLACEMENTS } as unknown as AppEnv)).toThrow(/EMULATE_JURISDICTIONS=true is for development and test only/);
    const ns = { jurisdiction: (j: string) => ({ jurisdictional: j }) } as unknown as DurableObjectNamespace<TenantGuard>;
    expect(guardNamespace({ TENANT_GUARD: ns as never, EMULATE_JURISDICTIONS: 'true', ENVIRONMENT: 'production' }, 'eu')).toEqual({ jurisdictional: 'eu' });
  });
});

describe('a move that changes the jurisdiction', () => {
  it('hands the guard to the new jurisdiction and back: usage equal, the old object forwards', async () => {
    const t = await createTenant();
    await populate(t);
    const before = await usageVia(t);
    expect(before.documents).toBe(2);

    const deps = moveDepsForTest({ ...createRoot(euEnv, { log: createLogger('move-test') }) });
    const there = await startMove(deps, t.id, { placement: 'regional:eu' }, 'platform:test', 'req-test');
    expect(await runMove(deps, there.id)).toMatchObject({ step: 'done', error: null });

    expect(await usageVia(t)).toEqual(before);
    const eu = await held(euGuard(t.id));
    expect(eu.documents).toBe(2);
    expect(eu.handover).toEqual({ adopted: there.id });
    const old = await held(defaultGuard(t.id));
    expect(old.handover.retired).toMatchObject({ moveId: there.id, jurisdiction: 'eu' });
    expect(old.documents).toBe(0);
    // A caller that still addresses the old object (a stale isolate) reaches the eu one through it.
    const stale = guardClient(env.TENANT_GUARD, t.id);
    expect((await stale.usage()).documents).toBe(2);
    await stale.record({ asks: 1 });
    expect((await usageVia(t)).asks).toBe(before.asks! + 1);
    // The eu object writes the usage row (the retired one writes nothing any more).
    await guardClient(guardNamespace(euEnv, 'eu'), t.id).flushActivity();
    const row = await env.DB.prepare("SELECT documents, asks FROM usage WHERE tenant_id = ? ORDER BY period DESC LIMIT 1").bind(t.id).first<{ documents: number; asks: number }>();
    expect(row).toEqual({ documents: 2, asks: before.asks! + 1 });

    // Reads and writes keep working in the new placement, admitted by the eu guard.
    const wrote = await postWith({ PLACEMENTS: JURISDICTION_PLACEMENTS }, 'mutation { createCollection(input: { name: "in-eu" }) { id } }', {}, t.token);
    expect(wrote.body.errors, JSON.stringify(wrote.body.errors)).toBeUndefined();

    const back = await startMove(deps, t.id, { placement: 'shared' }, 'platform:test', 'req-test');
    expect(await runMove(deps, back.id)).toMatchObject({ step: 'done', error: null });
    expect(await usageVia(t)).toEqual({ ...before, asks: before.asks! + 1 });
    expect((await held(defaultGuard(t.id))).handover).toEqual({ adopted: back.id });
    expect((await held(euGuard(t.id))).handover.retired).toMatchObject({ moveId: back.id, jurisdiction: null });
    // The default-namespace test helper (gql, no jurisdictions) now reaches the live object directly.
    expect((await gql('{ usage { documents } }', {}, { token: t.token })).body.data.usage.documents).toBe(2);
  });

  it('resumes the hand-over after a crash at the switch or right after it, counting nothing twice', async () => {
    for (const crashAt of ['switch', 'cleanup'] as const) {
      const t = await createTenant();
      await populate(t);
      const before = await usageVia(t);
      let crashed = false;
      const deps = moveDepsForTest({
        ...createRoot(euEnv, { log: createLogger('move-test') }),
        afterUnit: (step, state) => {
          if (!crashed && step === crashAt && (crashAt === 'switch' || state.guardHandedOver)) {
            crashed = true;
            throw new Error(`crash after ${step}`);
          }
        },
      });
      const move = await startMove(deps, t.id, { placement: 'regional:eu' }, 'platform:test', 'req-test');
      await expect(runMove(deps, move.id)).rejects.toThrow(/crash after/);
      expect(await runMove(deps, move.id)).toMatchObject({ step: 'done' });
      expect(await usageVia(t), crashAt).toEqual(before);
    }
  });
});
