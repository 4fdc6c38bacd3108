/**
 * deleteTenant / restoreTenant (DESIGN §13, docs/lifecycle.md): cancellation refuses every
 * credential from the next request; the purge leaves nothing of the tenant in any store (rows
 * of every tenant table in its placement database, R2, vectors, Durable Objects, catalogue)
 * while the neighbour is untouched; it resumes after a crash at every step, is idempotent,
 * never reports done while something remains, and ends with a receipt in the platform audit
 * log; restoreTenant works during the grace period only.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { runDeletion, MAX_QUEUE_DELAY_SECONDS } from '../../src/lifecycle/tenant-deletion';
import { guardClient } from '../../src/objects/guard-client';
import type { DeletionStep } from '../../src/db/lifecycle-store';
import { ingestProcessed } from '../documents/doc-helpers';
import { codeOf, createApiKey, createTenant, gql, type GqlResult, type TestTenant } from '../helpers';
import { jobDeps, postHeld, runToIdle, spaceOf } from '../models/reembed-helpers';
import { apiView, BUCKETS, populate, postWith, snapshotIn } from '../placement/move-helpers';
import { DATABASES, platformToken } from '../placement/placement-helpers';
import {
  asPlatform, DELETE, DELETION, deliverJobs, expectNothingLeft, footprint, heldEnv, lifecycleDepsForTest, objectStorage, RESTORE,
} from './lifecycle-helpers';

/** A populated tenant with an API key (used once, so caches and the guard are warm), a domain and an export archive in R2. */
async function offboardable(placement: string) {
  const t = await createTenant({ placement });
  await populate(t);
  const key = await createApiKey(t, ['SEARCH']);
  expect((await gql('{ viewer { role } }', {}, { token: key.secret })).body.errors).toBeUndefined();
  await env.DB.prepare('INSERT INTO tenant_domains (domain, tenant_id) VALUES (?, ?)').bind(`${t.slug}.example.org`, t.id).run();
  await BUCKETS[placement]!.put(`${t.id}/exports/earlier.zip`, 'PK archive');
  // Tenant settings, a webhook and an outbox row: catalogue data of the tenant (with audit rows naming a prompt and a URL).
  const settings = await gql('mutation { updateTenantSettings(input: { systemPrompt: "Answer as ACME support." }) { settings { systemPrompt } } }', {}, { token: t.token });
  expect(settings.body.errors, JSON.stringify(settings.body.errors)).toBeUndefined();
  const hook = await gql('mutation { setWebhook(input: { url: "https://hooks.acme.example/edgerag" }) { webhook { id } } }', {}, { token: t.token });
  expect(hook.body.errors, JSON.stringify(hook.body.errors)).toBeUndefined();
  await env.DB.prepare("INSERT INTO webhook_deliveries (tenant_id, id, webhook_id, event, payload) VALUES (?, ?, ?, 'document.completed', '{}')")
    .bind(t.id, crypto.randomUUID(), hook.body.data.setWebhook.webhook.id).run();
  // Membership rows come from the guard's coalesced bookkeeping: written now, so the purge has some to remove.
  await guardClient(env.TENANT_GUARD, t.id).flushActivity();
  expect((await footprint(t.id, placement)).catalogue.memberships).toBeGreaterThan(0);
  return { t, key };
}

async function startDeletion(t: TestTenant, purge: boolean) {
  const { held, sent } = heldEnv();
  const r = await asPlatform(held, DELETE, { id: t.id, purge });
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return { deletion: r.body.data.deleteTenant, sent };
}

const chunkCount = async (placement: string, tenantId: string) =>
  (await DATABASES[placement]!.prepare('SELECT count(*) AS n FROM chunks WHERE tenant_id = ?').bind(tenantId).first<{ n: number }>())!.n;

const restoreAudits = async (tenantId: string) =>
  env.DB.prepare("SELECT count(*) AS n FROM audit_log WHERE tenant_id = ? AND action = 'tenant.restore'").bind(tenantId).first<number>('n');

describe('deleteTenant', () => {
  it.each(['shared', 'regional:eu', 'dedicated:d1-1'])('purges everything of a %s tenant from every store, leaves the neighbour untouched and writes a receipt', async (placement) => {
    const { t } = await offboardable(placement);
    const neighbour = await createTenant({ placement });
    await populate(neighbour);
    const before = await snapshotIn(placement, neighbour.id);
    const view = await apiView(neighbour);
    const chunks = await chunkCount(placement, t.id);
    expect(chunks).toBeGreaterThan(0);

    const { deletion, sent } = await startDeletion(t, true);
    expect(deletion).toMatchObject({ tenantId: t.id, status: 'SCHEDULED', step: 'scheduled' });
    expect(sent).toEqual([{ message: { type: 'tenant.delete', deletionId: deletion.id }, delaySeconds: undefined }]);
    const done = await runDeletion(lifecycleDepsForTest(), deletion.id);
    expect(done).toMatchObject({ step: 'purged', error: null });

    expectNothingLeft(await footprint(t.id, placement));
    expect(await snapshotIn(placement, neighbour.id)).toEqual(before);
    expect(await apiView(neighbour)).toEqual(view);

    const receipt = JSON.parse(done!.receipt!);
    expect(receipt).toMatchObject({
      rows: { collections: 1, agents: 1, documents: 2, chunks, conversations: 1, messages: 2, keyword_index: 1, residence: placement === 'shared' ? 0 : 1 },
      vectors: chunks, originals: 2, exports: 1,
      catalogue: { apiKeys: 1, domains: 1, exports: 0, webhooks: 1, webhookDeliveries: 1 },
      durableObjects: 2, passes: 1,
    });
    expect(receipt.rows.audit_log).toBeGreaterThan(0);
    expect(receipt.catalogue.memberships).toBeGreaterThanOrEqual(1);
    const audit = await env.DB.prepare("SELECT details FROM audit_log WHERE tenant_id = ? AND action = 'tenant.delete.purged'").bind(t.id).all<{ details: string }>();
    expect(audit.results.map((r) => JSON.parse(r.details))).toEqual([{ deletionId: deletion.id, removed: receipt }]);

    // The tombstone: the catalogue row stays, cancelled, settings cleared; Tenant.deletion says PURGED.
    const platform = await platformToken();
    let node: unknown;
    for (let after: string | null = null; !node; ) {
      const seen: GqlResult = await gql('query($after: String) { tenants(first: 100, after: $after) { edges { node { id status deletion { status receipt } } } pageInfo { hasNextPage endCursor } } }', { after }, { token: platform });
      node = seen.body.data.tenants.edges.map((e: { node: { id: string } }) => e.node).find((n: { id: string }) => n.id === t.id);
      if (!seen.body.data.tenants.pageInfo.hasNextPage) break;
      after = seen.body.data.tenants.pageInfo.endCursor;
    }
    expect(node).toMatchObject({ status: 'CANCELLED', deletion: { status: 'PURGED', receipt } });
    // The purged tenant's credentials stay refused.
    expect(codeOf(await gql('{ viewer { role } }', {}, { token: t.token }))).toBe('TENANT_SUSPENDED');
  });

  it('cancels at once: JWTs and API keys are refused from the next request (warm isolate and guard), the neighbour keeps working', async () => {
    const t = await createTenant();
    const neighbour = await createTenant();
    const key = await createApiKey(t, ['SEARCH']);
    const owner = await t.tokenFor('owner');
    for (const token of [t.token, owner, key.secret]) expect((await gql('{ viewer { role } }', {}, { token })).body.errors).toBeUndefined();

    await startDeletion(t, false);
    for (const token of [t.token, owner, key.secret]) {
      const r = await gql('{ viewer { role } }', {}, { token });
      expect(codeOf(r)).toBe('TENANT_SUSPENDED');
      expect(r.status).toBe(403);
    }
    expect((await gql('{ viewer { role } }', {}, { token: neighbour.token })).body.errors).toBeUndefined();
    // With the guard switched off, admission reads D1 per request: refused the same way.
    const direct = await postWith({ GUARD_ENABLED: 'false' }, '{ viewer { role } }', {}, key.secret);
    expect(codeOf(direct)).toBe('TENANT_SUSPENDED');
    expect((await postWith({ GUARD_ENABLED: 'false' }, '{ viewer { role } }', {}, neighbour.token)).body.errors).toBeUndefined();
  });

  it('restores during the grace period: previous status back, credentials work, data intact, the due message finds nothing to do', async () => {
    const t = await createTenant({ status: 'trial' });
    await populate(t);
    const view = await apiView(t);
    const { deletion, sent } = await startDeletion(t, false);
    // The default grace period (30 days) is longer than a queue delay: the message hops.
    expect(sent).toEqual([{ message: { type: 'tenant.delete', deletionId: deletion.id }, delaySeconds: MAX_QUEUE_DELAY_SECONDS }]);
    expect(Date.parse(deletion.purgeAfter) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect(codeOf(await gql('{ viewer { role } }', {}, { token: t.token }))).toBe('TENANT_SUSPENDED');

    const { held } = heldEnv();
    const restored = await asPlatform(held, RESTORE, { id: t.id });
    expect(restored.body.data.restoreTenant).toEqual({ id: t.id, status: 'TRIAL' });
    expect(await restoreAudits(t.id)).toBe(1);
    expect(await apiView(t)).toEqual(view);
    const later = await runDeletion(lifecycleDepsForTest({ now: () => Date.parse(deletion.purgeAfter) + 1000 }), deletion.id);
    expect(later).toMatchObject({ step: 'restored' });
    expect(await apiView(t)).toEqual(view);
    expect(codeOf(await asPlatform(held, RESTORE, { id: t.id }))).toBe('BAD_USER_INPUT');
    // Deleting again starts a new deletion.
    const again = await startDeletion(t, true);
    expect(again.deletion.id).not.toBe(deletion.id);
  });

  it('waits out the grace period in delayed hops, purges when due, and cannot be restored once the purge started', async () => {
    const t = await createTenant();
    await populate(t);
    const { deletion } = await startDeletion(t, false);
    const due = Date.parse(deletion.purgeAfter);
    const early = lifecycleDepsForTest({ now: () => due - 3_600_000 });
    expect(await runDeletion(early, deletion.id)).toMatchObject({ step: 'scheduled' });
    expect(early.enqueued).toEqual([{ message: { type: 'tenant.delete', deletionId: deletion.id }, delaySeconds: 3600 }]);

    const deps = lifecycleDepsForTest({
      now: () => due + 1,
      afterUnit: (step) => {
        if (step === 'scheduled') throw new Error('crash right after the purge started');
      },
    });
    await expect(runDeletion(deps, deletion.id)).rejects.toThrow('crash right after the purge started');
    const refused = await asPlatform(heldEnv().held, RESTORE, { id: t.id });
    expect(codeOf(refused)).toBe('BAD_USER_INPUT');
    expect(refused.body.errors![0]!.message).toMatch(/purge has started/);
    expect(await restoreAudits(t.id)).toBe(0);
    expect(await env.DB.prepare('SELECT status FROM tenants WHERE id = ?').bind(t.id).first('status')).toBe('cancelled');
    expect(await runDeletion(lifecycleDepsForTest({ now: () => due + 1 }), deletion.id)).toMatchObject({ step: 'purged' });
    expectNothingLeft(await footprint(t.id, 'shared'));
  });

  const STEPS: DeletionStep[] = ['scheduled', 'fence', 'inventory', 'vectors', 'originals', 'rows', 'catalogue', 'objects', 'verify'];
  it.each(STEPS)('finishes after a crash right after a unit of %s, with the same receipt', async (step) => {
    const { t } = await offboardable('regional:eu');
    const chunks = await chunkCount('regional:eu', t.id);
    const { deletion } = await startDeletion(t, true);
    let crashed = false;
    const deps = lifecycleDepsForTest({
      afterUnit: (s) => {
        if (s === step && !crashed) {
          crashed = true;
          throw new Error(`crash after a unit of ${s}`);
        }
      },
    });
    await expect(runDeletion(deps, deletion.id)).rejects.toThrow(`crash after a unit of ${step}`);
    const done = await runDeletion(deps, deletion.id);
    expect(done!.step).toBe('purged');
    expectNothingLeft(await footprint(t.id, 'regional:eu'));
    expect(JSON.parse(done!.receipt!)).toMatchObject({ rows: { documents: 2, chunks }, originals: 2, exports: 1, vectors: chunks, passes: 1 });
  });

  it('never reports done while something remains: a straggler found by verify is purged in another pass and counted', async () => {
    const t = await createTenant();
    await populate(t);
    const { deletion } = await startDeletion(t, true);
    let planted = false;
    const deps = lifecycleDepsForTest({
      afterUnit: async (s) => {
        // A late write (e.g. an upload that raced the cancellation) lands after its store was purged.
        if (s === 'catalogue' && !planted) {
          planted = true;
          await env.DOCUMENTS.put(`${t.id}/late/1-x`, 'late original');
        }
      },
    });
    const done = await runDeletion(deps, deletion.id);
    expect(done!.step).toBe('purged');
    expect(JSON.parse(done!.receipt!)).toMatchObject({ originals: 3, passes: 2 });
    expectNothingLeft(await footprint(t.id, 'shared'));
    const verify = await env.DB.prepare("SELECT details FROM audit_log WHERE tenant_id = ? AND action = 'tenant.delete.verify' ORDER BY created_at").bind(t.id).all<{ details: string }>();
    expect(JSON.parse(verify.results[0]!.details)).toMatchObject({ next: 'fence', error: expect.stringMatching(/R2 objects/) });
  });

  it('is idempotent: deleting again answers the same deletion (purge: true brings it forward), a purged tenant its receipt', async () => {
    const t = await createTenant();
    const first = await startDeletion(t, false);
    const second = await startDeletion(t, false);
    expect(second.deletion.id).toBe(first.deletion.id);
    expect(second.sent).toEqual([]);
    const now = await startDeletion(t, true);
    expect(now.deletion.id).toBe(first.deletion.id);
    expect(Date.parse(now.deletion.purgeAfter)).toBeLessThanOrEqual(Date.now());
    expect(now.sent).toEqual([{ message: { type: 'tenant.delete', deletionId: first.deletion.id }, delaySeconds: undefined }]);
    const done = await runDeletion(lifecycleDepsForTest(), first.deletion.id);
    expect(await runDeletion(lifecycleDepsForTest(), first.deletion.id)).toEqual(done);
    const after = await startDeletion(t, true);
    expect(after.deletion).toMatchObject({ id: first.deletion.id, status: 'PURGED' });
    expect(after.sent).toEqual([]);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM audit_log WHERE tenant_id = ? AND action = 'tenant.delete.purged'").bind(t.id).first('n')).toBe(1);
  });

  it('is driven by the queue: an early delivery re-enqueues itself with a delay, a due one purges', async () => {
    const t = await createTenant();
    await populate(t);
    const { deletion, sent } = await startDeletion(t, true);
    const { held, sent: resent } = heldEnv();
    const result = await deliverJobs(sent, held);
    expect(result.explicitAcks).toEqual(['m0']);
    expect(resent).toEqual([]);
    const status = await gql(DELETION, { id: t.id }, { token: await platformToken() });
    expect(status.body.data.tenantDeletion).toMatchObject({ id: deletion.id, status: 'PURGED' });
    expectNothingLeft(await footprint(t.id, 'shared'));

    const later = await createTenant();
    const scheduled = await startDeletion(later, false);
    const early = heldEnv();
    expect((await deliverJobs(scheduled.sent, early.held)).explicitAcks).toEqual(['m0']);
    expect(early.sent).toEqual([{ message: { type: 'tenant.delete', deletionId: scheduled.deletion.id }, delaySeconds: MAX_QUEUE_DELAY_SECONDS }]);
  });

  it('wipes the tenant\'s Durable Objects with deleteAll (guard counters and activity, the local vector object)', async () => {
    const t = await createTenant();
    await populate(t);
    const guardBefore = await objectStorage(env.TENANT_GUARD as never, t.id);
    expect(guardBefore.rows.periods).toBeGreaterThan(0);
    const { deletion } = await startDeletion(t, true);
    await runDeletion(lifecycleDepsForTest(), deletion.id);
    const guard = await objectStorage(env.TENANT_GUARD as never, t.id);
    expect(Object.values(guard.rows).every((n) => n === 0)).toBe(true);
    expect(guard.alarm).toBeNull();
    const vectors = await objectStorage(env.LOCAL_VECTORS as never, t.id);
    expect(Object.values(vectors.rows).every((n) => n === 0)).toBe(true);
    // Usage aggregates (billing) are kept.
    expect(await env.DB.prepare('SELECT count(*) AS n FROM usage WHERE tenant_id = ?').bind(t.id).first('n')).toBeGreaterThan(0);
  });

  describe('bad input and permissions', () => {
    it('answers NOT_FOUND to platform admins for an unknown tenant', async () => {
      const { held } = heldEnv();
      const id = crypto.randomUUID();
      for (const q of [DELETE, RESTORE, 'mutation($id: ID!) { exportTenant(id: $id) { id } }']) expect(codeOf(await asPlatform(held, q, { id }))).toBe('NOT_FOUND');
      expect(codeOf(await asPlatform(held, DELETION, { id }))).toBe('NOT_FOUND');
    });

    it('answers FORBIDDEN to every non-platform principal, for its own tenant and a foreign one', async () => {
      const t = await createTenant();
      const other = await createTenant();
      const key = await createApiKey(t, ['ADMIN']);
      for (const token of [await t.tokenFor('owner'), t.token, key.secret]) {
        for (const id of [t.id, other.id]) {
          expect(codeOf(await gql(DELETE, { id, purge: true }, { token }))).toBe('FORBIDDEN');
          expect(codeOf(await gql(RESTORE, { id }, { token }))).toBe('FORBIDDEN');
          expect(codeOf(await gql(DELETION, { id }, { token }))).toBe('FORBIDDEN');
        }
      }
      expect((await gql('{ viewer { role } }', {}, { token: t.token })).body.errors).toBeUndefined();
    });

    it('refuses restoring a tenant that is not deleted, and updating or moving one that is', async () => {
      const t = await createTenant();
      const { held } = heldEnv();
      expect(codeOf(await asPlatform(held, RESTORE, { id: t.id }))).toBe('BAD_USER_INPUT');
      await startDeletion(t, false);
      const update = await asPlatform(held, 'mutation($id: ID!) { updateTenant(id: $id, input: { status: ACTIVE }) { id } }', { id: t.id });
      expect(codeOf(update)).toBe('BAD_USER_INPUT');
      expect(update.body.errors![0]!.message).toMatch(/restoreTenant/);
      expect(codeOf(await asPlatform(held, 'mutation($id: ID!) { moveTenant(id: $id, placement: "regional:eu") { id } }', { id: t.id }))).toBe('BAD_USER_INPUT');
      expect(codeOf(await gql('{ viewer { role } }', {}, { token: t.token }))).toBe('TENANT_SUSPENDED');
    });
  });
});

describe('deleteTenant after an embedding switch', () => {
  it('purges the vectors of every embedding generation (their own namespaces and ids), not only the first', async () => {
    const CHANGED = { EMBEDDING_DIMENSIONS: '256' };
    const [t, neighbour] = [await createTenant(), await createTenant()];
    for (const x of [t, neighbour]) {
      await ingestProcessed(x, { name: 'a.md', text: '# Lockers\n\nLockers open with the blue badge.' });
      await ingestProcessed(x, { name: 'b.md', text: 'Visitors sign in at the front desk.' });
    }
    // A deployment dimension change moves the tenant to generation 1 (namespace `<id>-g1`).
    const started = await postHeld('mutation { reembedTenants(first: 100) { results { tenant { id } outcome } } }', {}, await platformToken(), CHANGED);
    expect(started.body.errors, JSON.stringify(started.body.errors)).toBeUndefined();
    await runToIdle(jobDeps({}, CHANGED), t.id);
    expect(await spaceOf(t.id, 1)).toMatchObject({ vectorCount: 2 });
    expect(await spaceOf(t.id, 0)).toMatchObject({ vectorCount: 0 });
    const neighbourVectors = await spaceOf(neighbour.id, 0);

    const { deletion } = await startDeletion(t, true);
    const done = await runDeletion(lifecycleDepsForTest(), deletion.id);
    expect(done).toMatchObject({ step: 'purged', error: null });
    expect(await spaceOf(t.id, 1)).toMatchObject({ vectorCount: 0 });
    expect(await spaceOf(t.id, 0)).toMatchObject({ vectorCount: 0 });
    expect(JSON.parse(done!.receipt!)).toMatchObject({ vectors: 2, passes: 1, catalogue: { embedders: expect.any(Number) } });
    expectNothingLeft(await footprint(t.id, 'shared'));
    expect(await spaceOf(neighbour.id, 0)).toEqual(neighbourVectors);
  });
});
