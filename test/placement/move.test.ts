/**
 * moveTenant (DESIGN §11): rows, vectors, originals and usage are equal before and after; writes
 * during a move are refused with TENANT_MIGRATING (503, Retry-After) and none is lost; reads
 * continue; a move interrupted after any unit of work resumes and finishes; moving back restores
 * the tenant; the job is audited and driven by the queue.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { databaseFor } from '../../src/db/client';
import { TenantScope } from '../../src/db/tenant-scope';
import { isFenceError } from '../../src/placement/fence';
import { maskError } from '../../src/schema/errors';
import { runMove, startMove, type MoveState } from '../../src/placement/move';
import { deliver, ingest, row } from '../documents/doc-helpers';
import { codeOf, createTenant, gql, type TestTenant } from '../helpers';
import { apiView, moveDepsForTest, populate, postWith, snapshotIn, usageOf } from './move-helpers';
import { DATABASES, platformToken, rowsByDatabase } from './placement-helpers';

const DATA_TABLES = ['collections', 'documents', 'chunks', 'conversations', 'messages'];

async function moveAndRun(t: TestTenant, placement: string, deps = moveDepsForTest()) {
  const move = await startMove(deps, t.id, { placement }, 'platform:test', 'req-test');
  const done = await runMove(deps, move.id);
  expect(done, JSON.stringify(done)).toMatchObject({ step: 'done', error: null });
  return done!;
}

const placementOf = async (t: TestTenant) => (await env.DB.prepare('SELECT placement, moving_to FROM tenants WHERE id = ?').bind(t.id).first<{ placement: string; moving_to: string | null }>())!;

describe('moveTenant', () => {
  it.each([
    ['shared', 'regional:eu'],
    ['shared', 'dedicated:d1-1'],
  ])('moves a populated tenant from %s to %s and back with rows, vectors, originals and usage equal', async (from, to) => {
    const t = await createTenant({ placement: from });
    await populate(t);
    const before = await snapshotIn(from, t.id);
    const view = await apiView(t);
    expect(before.vectors).toBeGreaterThan(0);
    expect(Object.keys(before.originals)).toHaveLength(2);
    const usage = await usageOf(t);

    const there = await moveAndRun(t, to);
    expect(await usageOf(t)).toEqual(usage);
    expect(await placementOf(t)).toEqual({ placement: to, moving_to: null });
    expect(await snapshotIn(to, t.id)).toEqual(before);
    expect(await apiView(t)).toEqual(view);
    for (const table of DATA_TABLES) expect((await rowsByDatabase(table, t.id))[from], `${table} left in ${from}`).toBe(0);
    const report = JSON.parse(JSON.stringify(there.state)) as string;
    expect((JSON.parse(report) as MoveState).rows!.chunks!.count).toBe(before.rows.chunks!.count);
    // The source is empty: no vectors, and its own originals are gone when it had its own bucket.
    const source = await snapshotIn(from, t.id);
    expect(source.vectors).toBe(0);
    for (const r of Object.values(source.rows)) expect(r.count).toBe(0);

    await moveAndRun(t, from);
    expect(await placementOf(t)).toEqual({ placement: from, moving_to: null });
    expect(await snapshotIn(from, t.id)).toEqual(before);
    expect(await apiView(t)).toEqual(view);
    expect((await snapshotIn(to, t.id)).vectors).toBe(0);
    // Usable for writes again, in its placement.
    expect((await gql('mutation { createCollection(input: { name: "after" }) { id } }', {}, { token: t.token })).body.errors).toBeUndefined();
    expect((await rowsByDatabase('collections', t.id))[from]).toBe(2);

    const audit = await env.DB.prepare("SELECT action FROM audit_log WHERE tenant_id = ? AND action LIKE 'tenant.move.%' ORDER BY created_at").bind(t.id).all<{ action: string }>();
    expect(audit.results.map((r) => r.action)).toEqual(expect.arrayContaining(['tenant.move.start', 'tenant.move.copy', 'tenant.move.verify', 'tenant.move.switch', 'tenant.move.done']));
    expect(audit.results.filter((r) => r.action === 'tenant.move.done')).toHaveLength(2);
  });

  it('refuses writes during the move with TENANT_MIGRATING (503, Retry-After) while reads continue; nothing is lost', async () => {
    const t = await createTenant();
    await populate(t);
    const view = await apiView(t);
    const deps = moveDepsForTest();
    // A session opened before the move starts (its write races the fence).
    const early = new TenantScope(databaseFor(env.DB), (await env.DB.prepare('SELECT * FROM tenants WHERE id = ?').bind(t.id).first())! as never, { kind: 'user', tenantRef: t.id, userId: 'u', apiKeyId: null, role: 'admin', scopes: [], platformAdmin: false, rateLimitPerMinute: null, collectionIds: null, agentIds: null }, 'early');

    const platform = await platformToken();
    const started = await postWith({ INGEST_QUEUE: { send: async () => undefined } }, 'mutation($id: ID!) { moveTenant(id: $id, placement: "regional:eu") { id step source target } }', { id: t.id }, platform);
    expect(started.body.data.moveTenant).toMatchObject({ step: 'fence', source: 'shared', target: 'regional:eu' });
    const moveId = started.body.data.moveTenant.id;

    const refused = await gql('mutation { createCollection(input: { name: "during" }) { id } }', {}, { token: t.token });
    expect(codeOf(refused)).toBe('TENANT_MIGRATING');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('10');
    expect(codeOf(await ingest(t, { name: 'during.md', text: 'written during the move' }))).toBe('TENANT_MIGRATING');
    expect(codeOf(await gql('mutation { ask(input: { question: "vacation?" }) { text } }', {}, { token: t.token }))).toBe('TENANT_MIGRATING');
    expect(await apiView(t)).toEqual(view); // reads continue
    expect(codeOf(await gql('mutation($id: ID!) { moveTenant(id: $id, placement: "dedicated:d1-1") { id } }', { id: t.id }, { token: platform }))).toBe('BAD_USER_INPUT');

    // The fence: a write from a session opened before the move is refused whole.
    await runMove(deps, moveId, { maxUnits: 1 });
    expect(isFenceError(await early.collections.create({ name: 'raced' }, null).catch((e: unknown) => e))).toBe(true);

    await runMove(deps, moveId);
    expect(await placementOf(t)).toEqual({ placement: 'regional:eu', moving_to: null });
    // A stale writer still holding the old database is refused there too (the fence stays).
    expect(isFenceError(await early.collections.create({ name: 'stale' }, null).catch((e: unknown) => e))).toBe(true);
    expect(await apiView(t)).toEqual(view);
    // Retried after the move, the write lands in the new database.
    expect((await gql('mutation { createCollection(input: { name: "during" }) { id } }', {}, { token: t.token })).body.errors).toBeUndefined();
    expect(await rowsByDatabase('collections', t.id)).toEqual({ shared: 0, 'regional:eu': 2, 'dedicated:d1-1': 0 });
    const status = await gql('query($id: ID!) { tenantMove(id: $id) { step finishedAt report } }', { id: moveId }, { token: platform });
    expect(status.body.data.tenantMove.step).toBe('done');
  });

  it('holds an ingest message during a move (requeued, not failed) and processes it in the new database afterwards', async () => {
    const t = await createTenant();
    const pending = await ingest(t, { name: 'late.md', text: 'Indexed after the move.' });
    const id = pending.body.data.ingestDocument.id;
    const deps = moveDepsForTest();
    const move = await startMove(deps, t.id, { placement: 'regional:eu' }, 'platform:test', 'r');
    const requeued: unknown[] = [];
    const held = { ...env, INGEST_QUEUE: { send: async (m: unknown) => void requeued.push(m) } };
    const during = await deliver(id, { workerEnv: held });
    expect(during.explicitAcks).toHaveLength(1);
    expect(requeued).toHaveLength(1);
    expect((await row(id))!.status).toBe('pending');
    await runMove(deps, move.id);
    await deliver(id, { workerEnv: held });
    expect(await DATABASES['regional:eu']!.prepare('SELECT status FROM documents WHERE id = ?').bind(id).first('status')).toBe('completed');
  });

  const STEPS = ['fence', 'copy', 'vectors', 'originals', 'verify', 'switch', 'cleanup'] as const;
  it.each(STEPS)('resumes and finishes after a crash right after a unit of %s', async (step) => {
    const t = await createTenant();
    await populate(t);
    const before = await snapshotIn('shared', t.id);
    const view = await apiView(t);
    let crashed = false;
    const deps = moveDepsForTest({
      afterUnit: (s) => {
        if (s === step && !crashed) {
          crashed = true;
          throw new Error(`crash after a unit of ${s}`);
        }
      },
    });
    const move = await startMove(deps, t.id, { placement: 'regional:eu' }, 'platform:test', 'r');
    await expect(runMove(deps, move.id)).rejects.toThrow(`crash after a unit of ${step}`);
    expect(crashed).toBe(true);
    const done = await runMove(deps, move.id);
    expect(done!.step).toBe('done');
    expect(await snapshotIn('regional:eu', t.id)).toEqual(before);
    expect(await apiView(t)).toEqual(view);
    for (const table of DATA_TABLES) expect((await rowsByDatabase(table, t.id)).shared, table).toBe(0);
  });

  it('fails a move whose copy does not verify: the tenant stays, writes again, and the target is emptied', async () => {
    const t = await createTenant();
    await populate(t);
    const before = await snapshotIn('shared', t.id);
    const deps = moveDepsForTest({
      afterUnit: async (s, state) => {
        // Between the copy and the verification, a row goes missing in the target.
        if (s === 'copy' && state.copied?.length === 6) await DATABASES['regional:eu']!.batch([
          DATABASES['regional:eu']!.prepare('DELETE FROM tenant_fences WHERE tenant_id = ?').bind(t.id),
          DATABASES['regional:eu']!.prepare('DELETE FROM chunks WHERE id = (SELECT id FROM chunks WHERE tenant_id = ? LIMIT 1)').bind(t.id),
        ]);
      },
    });
    const move = await startMove(deps, t.id, { placement: 'regional:eu' }, 'platform:test', 'r');
    const failed = await runMove(deps, move.id);
    expect(failed).toMatchObject({ step: 'failed' });
    expect(failed!.error).toMatch(/^chunks: source has \d+ rows, target \d+$/);
    expect(await placementOf(t)).toEqual({ placement: 'shared', moving_to: null });
    expect(await snapshotIn('shared', t.id)).toEqual(before);
    for (const table of DATA_TABLES) expect((await rowsByDatabase(table, t.id))['regional:eu'], table).toBe(0);
    expect((await gql('mutation { createCollection(input: { name: "after a failed move" }) { id } }', {}, { token: t.token })).body.errors).toBeUndefined();
  });

  it('turns a write refused by the fence into TENANT_MIGRATING in the error mask', () => {
    const masked = maskError('req', () => undefined)(new Error('D1_ERROR', { cause: new Error('D1_ERROR: edgerag:TENANT_MIGRATING: SQLITE_CONSTRAINT') }));
    expect((masked as unknown as { extensions: Record<string, unknown> }).extensions).toMatchObject({ code: 'TENANT_MIGRATING', retryAfter: 10, http: { status: 503 } });
  });

  it('is driven by the queue: the job message runs the move to the end', async () => {
    const t = await createTenant();
    await populate(t);
    const before = await snapshotIn('shared', t.id);
    const sent: unknown[] = [];
    const held = { ...env, INGEST_QUEUE: { send: async (m: unknown) => void sent.push(m) } };
    const r = await postWith(held, 'mutation($id: ID!) { moveTenant(id: $id, placement: "dedicated:d1-1") { id } }', { id: t.id }, await platformToken());
    expect(sent).toEqual([{ type: 'tenant.move', moveId: r.body.data.moveTenant.id }]);
    const batch = createMessageBatch('edgerag-ingest', [{ id: 'm1', timestamp: new Date(), attempts: 1, body: sent[0] }]);
    const ctx = createExecutionContext();
    await (worker as ExportedHandler<Env>).queue!(batch as never, held as never, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(['m1']);
    expect(await placementOf(t)).toEqual({ placement: 'dedicated:d1-1', moving_to: null });
    expect(await snapshotIn('dedicated:d1-1', t.id)).toEqual(before);
  });

  it.each([
    ['to its own placement', { placement: 'shared' }, 'BAD_USER_INPUT'],
    ['to an unconfigured placement', { placement: 'regional:us' }, 'BAD_USER_INPUT'],
    ['without a target', {}, 'BAD_USER_INPUT'],
  ])('refuses a move %s', async (_what, args, code) => {
    const t = await createTenant();
    const r = await gql('mutation($id: ID!, $placement: String) { moveTenant(id: $id, placement: $placement) { id } }', { id: t.id, ...args }, { token: await platformToken() });
    expect(codeOf(r)).toBe(code);
  });

  it('is for platform admins only; an unknown tenant is NOT_FOUND', async () => {
    const t = await createTenant();
    expect(codeOf(await gql('mutation($id: ID!) { moveTenant(id: $id, placement: "regional:eu") { id } }', { id: t.id }, { token: t.token }))).toBe('FORBIDDEN');
    expect(codeOf(await gql('mutation { moveTenant(id: "nope", placement: "regional:eu") { id } }', {}, { token: await platformToken() }))).toBe('NOT_FOUND');
    expect(codeOf(await gql('query($id: ID!) { tenantMoves(tenantId: $id) { id } }', { id: t.id }, { token: t.token }))).toBe('FORBIDDEN');
  });
});
