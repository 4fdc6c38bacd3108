/**
 * Member removal (issue 15): a removed user's tokens are refused in this tenant from the next
 * request (warm and fresh isolate, guard on and off) while the IdP still signs them; restore
 * admits them again; the neighbour tenant and other members are untouched; `members` shows
 * the state; the rules (not yourself, owners only by owners, only users seen here, a bounded
 * set) and the audit rows.
 */
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { resetIsolateDirectory } from '../../src/auth/directory';
import { MAX_REMOVED_MEMBERS } from '../../src/lifecycle/members';
import { guardClient } from '../../src/objects/guard-client';
import type { TenantGuard } from '../../src/objects/tenant-guard';
import { codeOf, createApiKey, createTenant, gql, signToken, twoTenants, type GqlResult, type TestTenant } from '../helpers';
import { workerWith } from '../foundation/worker-with';
import { guardStub } from '../guard/guard-helpers';

const MEMBER = 'userId role removed removedAt removedBy';
const REMOVE = `mutation($u: ID!) { removeMember(userId: $u) { ${MEMBER} } }`;
const RESTORE = `mutation($u: ID!) { restoreMember(userId: $u) { ${MEMBER} } }`;
const MEMBERS = `{ members { ${MEMBER} } }`;
const VIEWER = '{ viewer { userId tenant { id } } }';

function data<T = any>(r: GqlResult): T {
  if (r.body.errors) throw new Error(JSON.stringify(r.body.errors));
  return r.body.data;
}

/** The user calls in once, so the tenant knows them (a membership row once the guard flushes). */
async function seen(t: TestTenant, role: 'owner' | 'admin' | 'member' | 'viewer', sub: string): Promise<string> {
  const token = await t.tokenFor(role, sub);
  expect((await gql(VIEWER, {}, { token })).status).toBe(200);
  return token;
}

async function inBothIsolates(check: () => Promise<void>): Promise<void> {
  await check();
  resetIsolateDirectory();
  await check();
}

const guardQueries = (tenantId: string) => runInDurableObject(guardStub(tenantId), (g: TenantGuard) => g.d1.queries);
const audits = (tenantId: string, userId: string) =>
  env.DB.prepare("SELECT action, actor FROM audit_log WHERE tenant_id = ? AND target_id = ? AND action LIKE 'member.%' ORDER BY created_at, rowid")
    .bind(tenantId, userId).all<{ action: string; actor: string }>().then((r) => r.results);

describe('removeMember and restoreMember', () => {
  it('refuses the removed user from the next request (warm and fresh isolate), leaves everyone else alone, and restore admits again', async () => {
    const [a, b] = await twoTenants();
    const bobA = await seen(a, 'member', 'bob');
    const carolA = await seen(a, 'member', 'carol');
    const bobB = await seen(b, 'member', 'bob');
    const key = await createApiKey(a, ['SEARCH']);
    const owner = await a.tokenFor('owner', 'olga');

    const removed = data(await gql(REMOVE, { u: 'bob' }, { token: owner })).removeMember;
    expect(removed).toMatchObject({ userId: 'bob', role: 'MEMBER', removed: true, removedBy: 'user:olga' });
    expect(removed.removedAt).not.toBeNull();

    await inBothIsolates(async () => {
      const r = await gql(VIEWER, {}, { token: bobA });
      expect(r.status).toBe(403);
      expect(r.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'MEMBER_REMOVED' });
      // A new token from the IdP (another role even) is refused just the same: the user is removed, not the token.
      expect(codeOf(await gql(VIEWER, {}, { token: await a.tokenFor('admin', 'bob') }))).toBe('FORBIDDEN');
      // On the tenant's own subdomain too.
      expect(codeOf(await gql(VIEWER, {}, { token: bobA, host: `${a.slug}.localhost` }))).toBe('FORBIDDEN');
      // Everyone else: another member, an API key of the tenant, the same sub in the neighbour tenant.
      expect((await gql(VIEWER, {}, { token: carolA })).status).toBe(200);
      expect((await gql(VIEWER, {}, { token: key.secret })).status).toBe(200);
      expect(data(await gql(VIEWER, {}, { token: bobB })).viewer.tenant.id).toBe(b.id);
    });

    const listed = data(await gql(MEMBERS, {}, { token: a.token })).members;
    expect(listed.find((m: { userId: string }) => m.userId === 'bob')).toMatchObject({ removed: true, removedBy: 'user:olga' });
    expect(listed.find((m: { userId: string }) => m.userId === 'carol')).toMatchObject({ removed: false, removedAt: null, removedBy: null });
    expect(data(await gql(MEMBERS, {}, { token: b.token })).members.find((m: { userId: string }) => m.userId === 'bob')).toMatchObject({ removed: false });

    const restored = data(await gql(RESTORE, { u: 'bob' }, { token: a.token })).restoreMember;
    expect(restored).toMatchObject({ userId: 'bob', removed: false, removedAt: null, removedBy: null });
    await inBothIsolates(async () => expect(data(await gql(VIEWER, {}, { token: bobA })).viewer.userId).toBe('bob'));

    expect(await audits(a.id, 'bob')).toEqual([
      { action: 'member.remove', actor: 'user:olga' },
      { action: 'member.restore', actor: `user:admin-${a.slug}` },
    ]);
    expect(await audits(b.id, 'bob')).toEqual([]);
  });

  it('a removed member costs the warm hot path nothing: 0 D1 queries in the guard, refusals included', async () => {
    const t = await createTenant();
    const bob = await seen(t, 'member', 'bob');
    const carol = await seen(t, 'member', 'carol');
    data(await gql(REMOVE, { u: 'bob' }, { token: t.token }));
    expect(codeOf(await gql(VIEWER, {}, { token: bob }))).toBe('FORBIDDEN'); // rebuilds the record once
    const before = await guardQueries(t.id);
    for (let i = 0; i < 3; i++) {
      expect(codeOf(await gql(VIEWER, {}, { token: bob }))).toBe('FORBIDDEN');
      expect((await gql(VIEWER, {}, { token: carol })).status).toBe(200);
    }
    expect(await guardQueries(t.id)).toBe(before);
  });

  it('is idempotent: removing twice or restoring a member who is not removed changes nothing and audits nothing more', async () => {
    const t = await createTenant();
    await seen(t, 'viewer', 'vera');
    const first = data(await gql(REMOVE, { u: 'vera' }, { token: t.token })).removeMember;
    const second = data(await gql(REMOVE, { u: 'vera' }, { token: t.token })).removeMember;
    expect(second).toEqual(first);
    data(await gql(RESTORE, { u: 'vera' }, { token: t.token }));
    expect(data(await gql(RESTORE, { u: 'vera' }, { token: t.token })).restoreMember).toMatchObject({ removed: false });
    expect((await audits(t.id, 'vera')).map((r) => r.action)).toEqual(['member.remove', 'member.restore']);
  });

  it('eraseUser does not lift a removal: the erased user stays refused and listed as removed', async () => {
    const t = await createTenant();
    const dan = await seen(t, 'member', 'dan');
    data(await gql(REMOVE, { u: 'dan' }, { token: t.token }));
    expect(data(await gql('mutation { eraseUser(userId: "dan") { membership } }', {}, { token: t.token })).eraseUser.membership).toBe(true);
    expect(codeOf(await gql(VIEWER, {}, { token: dan }))).toBe('FORBIDDEN');
    expect(data(await gql(MEMBERS, {}, { token: t.token })).members).toEqual([
      expect.objectContaining({ userId: `admin-${t.slug}`, removed: false }),
      expect.objectContaining({ userId: 'dan', role: 'MEMBER', removed: true }),
    ]);
    // And restore still works for them.
    expect(data(await gql(RESTORE, { u: 'dan' }, { token: t.token })).restoreMember).toMatchObject({ userId: 'dan', removed: false });
    expect((await gql(VIEWER, {}, { token: dan })).status).toBe(200);
  });

  it('with the guard switched off (GUARD_ENABLED=false) the removal applies on the next request too', async () => {
    const off = workerWith({ GUARD_ENABLED: 'false' });
    const call = async (query: string, token: string, variables: Record<string, unknown> = {}) => {
      const r = await off('http://localhost/graphql', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
      return { status: r.status, body: (await r.json()) as { data?: any; errors?: { extensions: Record<string, unknown> }[] } };
    };
    const t = await createTenant();
    const eve = await t.tokenFor('member', 'eve');
    expect((await call(VIEWER, eve)).status).toBe(200);
    expect((await call(REMOVE, t.token, { u: 'eve' })).body.data.removeMember.removed).toBe(true);
    const r = await call(VIEWER, eve);
    expect(r.status).toBe(403);
    expect(r.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'MEMBER_REMOVED' });
    expect((await call(RESTORE, t.token, { u: 'eve' })).body.data.restoreMember.removed).toBe(false);
    expect((await call(VIEWER, eve)).status).toBe(200);
  });
});

describe('the rules', () => {
  it('nobody removes themselves (BAD_USER_INPUT naming userId)', async () => {
    const t = await createTenant();
    const r = await gql(REMOVE, { u: `admin-${t.slug}` }, { token: t.token });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.body.errors?.[0]?.extensions?.field).toBe('userId');
  });

  it('only an owner removes or restores an owner, so an owner always remains', async () => {
    const t = await createTenant();
    const olga = await seen(t, 'owner', 'olga');
    await seen(t, 'owner', 'otto');
    await seen(t, 'admin', 'ada');
    expect(codeOf(await gql(REMOVE, { u: 'otto' }, { token: t.token }))).toBe('FORBIDDEN');
    const adminKey = await createApiKey(t, ['ADMIN']);
    expect(codeOf(await gql(REMOVE, { u: 'otto' }, { token: adminKey.secret }))).toBe('FORBIDDEN');
    expect(data(await gql(REMOVE, { u: 'otto' }, { token: olga })).removeMember.removed).toBe(true);
    expect(codeOf(await gql(RESTORE, { u: 'otto' }, { token: t.token }))).toBe('FORBIDDEN');
    // Admins remove admins and members; an ADMIN key too.
    expect(data(await gql(REMOVE, { u: 'ada' }, { token: adminKey.secret })).removeMember).toMatchObject({ removed: true, removedBy: `key:${adminKey.id}` });
    expect(data(await gql(RESTORE, { u: 'otto' }, { token: olga })).restoreMember.removed).toBe(false);
  });

  it('only users seen in this tenant: an unknown user and a user of the neighbour tenant are both NOT_FOUND', async () => {
    const [a, b] = await twoTenants();
    await seen(b, 'member', 'only-in-b');
    for (const u of ['nobody-at-all', 'only-in-b']) {
      expect(codeOf(await gql(REMOVE, { u }, { token: a.token }))).toBe('NOT_FOUND');
      expect(codeOf(await gql(RESTORE, { u }, { token: a.token }))).toBe('NOT_FOUND');
    }
    expect(codeOf(await gql(REMOVE, { u: 'x'.repeat(257) }, { token: a.token }))).toBe('BAD_USER_INPUT');
    // The neighbour's user is untouched.
    expect((await gql(VIEWER, {}, { token: await b.tokenFor('member', 'only-in-b') })).status).toBe(200);
  });

  it('members, viewers, scoped keys and restricted credentials cannot remove anyone', async () => {
    const t = await createTenant();
    await seen(t, 'member', 'mo');
    for (const token of [await t.tokenFor('member', 'mia'), await t.tokenFor('viewer', 'vic'), (await createApiKey(t, ['CHAT'])).secret]) {
      expect(codeOf(await gql(REMOVE, { u: 'mo' }, { token }))).toBe('FORBIDDEN');
    }
    const restricted = await signToken({ tenant_id: t.id, role: 'admin', collection_ids: ['c1'] }, { sub: 'rita' });
    expect(codeOf(await gql(REMOVE, { u: 'mo' }, { token: restricted }))).toBe('FORBIDDEN');
    expect(codeOf(await gql(REMOVE, { u: 'mo' }))).toBe('UNAUTHENTICATED');
  });

  it(`a tenant holds at most ${MAX_REMOVED_MEMBERS} removed users; concurrent removals at the edge never pass it`, async () => {
    const t = await createTenant();
    // 998 removed users already (written directly), then three known members removed at once: two fit.
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
       INSERT INTO member_removals (tenant_id, user_id, role, removed_by) SELECT ?, 'ghost-' || i, 'member', 'test' FROM n`,
    ).bind(MAX_REMOVED_MEMBERS - 2, t.id).run();
    for (const u of ['m1', 'm2', 'm3']) await seen(t, 'member', u);
    await guardClient(env.TENANT_GUARD, t.id).flushActivity();
    const rs = await Promise.all(['m1', 'm2', 'm3'].map((u) => gql(REMOVE, { u }, { token: t.token })));
    expect(rs.filter((r) => !r.body.errors)).toHaveLength(2);
    const refused = rs.find((r) => r.body.errors)!;
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'removedMembers', limit: MAX_REMOVED_MEMBERS, used: MAX_REMOVED_MEMBERS });
    const n = await env.DB.prepare('SELECT count(*) AS n FROM member_removals WHERE tenant_id = ?').bind(t.id).first<{ n: number }>();
    expect(n!.n).toBe(MAX_REMOVED_MEMBERS);
    // The removed ones are refused; the one that did not fit is not.
    const refusedUser = ['m1', 'm2', 'm3'][rs.indexOf(refused)]!;
    for (const u of ['m1', 'm2', 'm3']) {
      expect((await gql(VIEWER, {}, { token: await t.tokenFor('member', u) })).status).toBe(u === refusedUser ? 200 : 403);
    }
  });
});
