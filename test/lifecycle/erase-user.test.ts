/** eraseUser (issue 15): exactly one person's chat history in one tenant, counted, audited without content. */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { guardClient } from '../../src/objects/guard-client';
import { codeOf, createApiKey, gql, twoTenants } from '../helpers';
import { ask } from '../chat/chat-helpers';

const ERASE = 'mutation($u: ID!) { eraseUser(userId: $u) { userId conversations messages membership } }';
const USAGE = '{ usage { asks promptTokens completionTokens } }';

async function start(token: string, question: string, conversationId?: string): Promise<string> {
  const r = await ask(token, { question, ...(conversationId ? { conversationId } : {}) });
  if (!r.body.data) throw new Error(JSON.stringify(r.body.errors));
  return r.body.data.ask.conversation.id;
}

const count = async (sql: string, ...args: string[]) => (await env.DB.prepare(sql).bind(...args).first<{ n: number }>())!.n;
const owned = (tenantId: string, sub: string) =>
  count('SELECT count(*) AS n FROM conversations WHERE tenant_id = ? AND owner_id = ?', tenantId, `user:${sub}`);
const messagesOf = (tenantId: string, sub: string) =>
  count(
    'SELECT count(*) AS n FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.tenant_id = ? AND c.owner_id = ?',
    tenantId, `user:${sub}`,
  );
/** Membership rows are written by the guard's coalesced bookkeeping: flush it first. */
async function isMember(tenantId: string, sub: string): Promise<number> {
  await guardClient(env.TENANT_GUARD, tenantId).flushActivity();
  return count('SELECT count(*) AS n FROM memberships WHERE tenant_id = ? AND user_id = ?', tenantId, sub);
}

describe('eraseUser', () => {
  it("removes exactly that user's conversations, messages and membership in this tenant, keeps usage, audits counts only", async () => {
    const [a, b] = await twoTenants();
    const bobA = await a.tokenFor('member', 'bob');
    const carolA = await a.tokenFor('member', 'carol');
    const bobB = await b.tokenFor('member', 'bob');
    const c1 = await start(bobA, 'secret question one');
    await start(bobA, 'secret follow-up', c1);
    await start(bobA, 'secret question two');
    await start(carolA, 'carol asks');
    await start(bobB, 'bob in the other tenant');
    const usageBefore = (await gql(USAGE, {}, { token: a.token })).body.data.usage;

    const r = await gql(ERASE, { u: 'bob' }, { token: await a.tokenFor('owner', 'olga') });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.eraseUser).toEqual({ userId: 'bob', conversations: 2, messages: 6, membership: true });

    expect(await owned(a.id, 'bob')).toBe(0);
    expect(await messagesOf(a.id, 'bob')).toBe(0);
    // Checked after a guard flush: bob's coalesced last-seen write does not bring the membership back.
    expect(await isMember(a.id, 'bob')).toBe(0);
    // Everyone and everything else stays: carol here, bob in the other tenant.
    expect(await owned(a.id, 'carol')).toBe(1);
    expect(await messagesOf(a.id, 'carol')).toBe(2);
    expect(await owned(b.id, 'bob')).toBe(1);
    expect(await messagesOf(b.id, 'bob')).toBe(2);
    expect(await isMember(b.id, 'bob')).toBe(1);
    // Aggregate usage is billing data, not personal data: unchanged.
    expect((await gql(USAGE, {}, { token: a.token })).body.data.usage).toEqual(usageBefore);

    const audit = await env.DB.prepare("SELECT * FROM audit_log WHERE tenant_id = ? AND action = 'user.erase'").bind(a.id).all<Record<string, string>>();
    expect(audit.results).toHaveLength(1);
    const row = audit.results[0]!;
    expect(row).toMatchObject({ actor: 'user:olga', target_type: 'user', target_id: 'bob' });
    expect(JSON.parse(row.details!)).toEqual({ conversations: 2, messages: 6, membership: true });
    expect(JSON.stringify(row)).not.toContain('secret');
    expect(await count("SELECT count(*) AS n FROM audit_log WHERE tenant_id = ? AND action = 'user.erase'", b.id)).toBe(0);

    // Idempotent: a second erasure removes nothing and says so.
    const again = await gql(ERASE, { u: 'bob' }, { token: a.token });
    expect(again.body.data.eraseUser).toEqual({ userId: 'bob', conversations: 0, messages: 0, membership: false });
  });

  it("answers zeros for an unknown user and for another tenant's user, leaving that tenant untouched", async () => {
    const [a, b] = await twoTenants();
    await start(await b.tokenFor('member', 'dave'), 'dave asks');
    expect((await gql(ERASE, { u: 'nobody' }, { token: a.token })).body.data.eraseUser).toEqual({
      userId: 'nobody', conversations: 0, messages: 0, membership: false,
    });
    // dave exists only in b: from a, the answer is the same as for nobody.
    expect((await gql(ERASE, { u: 'dave' }, { token: a.token })).body.data.eraseUser).toEqual({
      userId: 'dave', conversations: 0, messages: 0, membership: false,
    });
    expect(await owned(b.id, 'dave')).toBe(1);
    expect(await isMember(b.id, 'dave')).toBe(1);
  });

  it('is for owners/admins with an unrestricted credential, and checks userId', async () => {
    const [a] = await twoTenants();
    await start(await a.tokenFor('member', 'erin'), 'erin asks');
    expect(codeOf(await gql(ERASE, { u: 'erin' }, { token: await a.tokenFor('member', 'mallory') }))).toBe('FORBIDDEN');
    expect(codeOf(await gql(ERASE, { u: 'erin' }, { token: await a.tokenFor('viewer') }))).toBe('FORBIDDEN');
    expect(codeOf(await gql(ERASE, { u: 'erin' }, { token: (await createApiKey(a, ['CHAT'])).secret }))).toBe('FORBIDDEN');
    expect(codeOf(await gql(ERASE, { u: 'erin' }, { token: await a.tokenFor('admin', 'x', { collection_ids: ['c1'] }) }))).toBe('FORBIDDEN');
    const bad = await gql(ERASE, { u: ' ' }, { token: a.token });
    expect(codeOf(bad)).toBe('BAD_USER_INPUT');
    expect(bad.body.errors![0]!.extensions!.field).toBe('userId');
    expect(codeOf(await gql(ERASE, { u: 'x'.repeat(257) }, { token: a.token }))).toBe('BAD_USER_INPUT');
    expect(await owned(a.id, 'erin')).toBe(1);
    // An admin-scoped key may erase.
    const key = await createApiKey(a, ['ADMIN']);
    expect((await gql(ERASE, { u: 'erin' }, { token: key.secret })).body.data.eraseUser).toMatchObject({ conversations: 1, messages: 2 });
  });
});
