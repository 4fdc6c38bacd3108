/** Conversations: who sees, reads and deletes what (owner / other member / admin / other tenant). */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { codeOf, createApiKey, createTenant, gql, twoTenants } from '../helpers';
import { ask, CONVERSATION, CONVERSATIONS, countRows } from './chat-helpers';

const DELETE = 'mutation($id: ID!) { deleteConversation(id: $id) }';

async function start(token: string, question: string): Promise<string> {
  const r = await ask(token, { question });
  if (!r.body.data) throw new Error(JSON.stringify(r.body.errors));
  return r.body.data.ask.conversation.id;
}

const ids = (r: any) => r.body.data.conversations.edges.map((e: any) => e.node.id);

describe('conversations', () => {
  it('members and viewers list only their own; admins and owners list all; other tenants none', async () => {
    const [t, other] = await twoTenants();
    const alice = await t.tokenFor('member', 'alice');
    const vera = await t.tokenFor('viewer', 'vera');
    const owner = await t.tokenFor('owner', 'olga');
    const a1 = await start(alice, 'alice one');
    const a2 = await start(alice, 'alice two');
    const v1 = await start(vera, 'vera one');
    const key = await createApiKey(t, ['CHAT']);
    const k1 = await start(key.secret, 'key one');

    expect(ids(await gql(CONVERSATIONS, {}, { token: alice }))).toEqual([a2, a1]); // newest first
    expect(ids(await gql(CONVERSATIONS, {}, { token: vera }))).toEqual([v1]);
    expect(ids(await gql(CONVERSATIONS, {}, { token: key.secret }))).toEqual([k1]);
    expect(new Set(ids(await gql(CONVERSATIONS, {}, { token: t.token })))).toEqual(new Set([a1, a2, v1, k1]));
    expect(new Set(ids(await gql(CONVERSATIONS, {}, { token: owner })))).toEqual(new Set([a1, a2, v1, k1]));
    expect(ids(await gql(CONVERSATIONS, {}, { token: other.token }))).toEqual([]);
    expect(ids(await gql(CONVERSATIONS, {}, { token: await other.tokenFor('member', 'alice') }))).toEqual([]);
  });

  it('pages newest first with Relay cursors', async () => {
    const t = await createTenant();
    const token = await t.tokenFor('member');
    const made = [];
    for (const q of ['c1', 'c2', 'c3']) made.push(await start(token, q));
    const p1 = await gql(CONVERSATIONS, { first: 2 }, { token });
    expect(ids(p1)).toEqual([made[2], made[1]]);
    expect(p1.body.data.conversations.pageInfo.hasNextPage).toBe(true);
    const p2 = await gql(CONVERSATIONS, { first: 2, after: p1.body.data.conversations.pageInfo.endCursor }, { token });
    expect(ids(p2)).toEqual([made[0]]);
    expect(p2.body.data.conversations.pageInfo.hasNextPage).toBe(false);
    expect(codeOf(await gql(CONVERSATIONS, { first: 0 }, { token }))).toBe('BAD_USER_INPUT');
  });

  it("conversation(id): the owner and admins read it; another member and another tenant get null", async () => {
    const [t, other] = await twoTenants();
    const alice = await t.tokenFor('member', 'alice');
    const bob = await t.tokenFor('member', 'bob');
    const id = await start(alice, 'alice secret question');
    const read = async (token: string) => (await gql(CONVERSATION, { id }, { token })).body;
    expect((await read(alice)).data.conversation.messages.map((m: any) => m.role)).toEqual(['user', 'assistant']);
    expect((await read(t.token)).data.conversation.id).toBe(id);
    expect(await read(bob)).toEqual(expect.objectContaining({ data: { conversation: null } }));
    expect(await read(other.token)).toEqual(expect.objectContaining({ data: { conversation: null } }));
    // Same answer as for an id that never existed: no existence leak.
    expect((await gql(CONVERSATION, { id: crypto.randomUUID() }, { token: alice })).body.data.conversation).toBeNull();
  });

  it('deleteConversation: others get NOT_FOUND and change nothing; the owner deletes it with its messages, audited', async () => {
    const [t, other] = await twoTenants();
    const alice = await t.tokenFor('member', 'alice');
    const bob = await t.tokenFor('member', 'bob');
    const id = await start(alice, 'to be deleted');
    await ask(alice, { question: 'more', conversationId: id });
    expect(await countRows('messages', t.id)).toBe(4);

    expect(codeOf(await gql(DELETE, { id }, { token: bob }))).toBe('NOT_FOUND');
    expect(codeOf(await gql(DELETE, { id }, { token: other.token }))).toBe('NOT_FOUND');
    expect(await countRows('messages', t.id)).toBe(4);

    const r = await gql(DELETE, { id }, { token: alice });
    expect(r.body.data.deleteConversation).toBe(true);
    expect(await countRows('messages', t.id)).toBe(0);
    expect(await countRows('conversations', t.id)).toBe(0);
    const audit = await env.DB.prepare("SELECT actor FROM audit_log WHERE tenant_id = ? AND action = 'conversation.delete' AND target_id = ?")
      .bind(t.id, id).all<{ actor: string }>();
    expect(audit.results.map((a) => a.actor)).toEqual([`user:alice`]);
    expect(codeOf(await gql(DELETE, { id }, { token: alice }))).toBe('NOT_FOUND');
  });

  it("an admin may delete a member's conversation; the other tenant's rows are untouched", async () => {
    const [t, other] = await twoTenants();
    const mine = await start(await t.tokenFor('member', 'm'), 'member question');
    const theirs = await start(other.token, 'other tenant question');
    expect((await gql(DELETE, { id: mine }, { token: t.token })).body.data.deleteConversation).toBe(true);
    expect(await countRows('conversations', t.id)).toBe(0);
    expect(await countRows('messages', other.id)).toBe(2);
    expect((await gql(CONVERSATION, { id: theirs }, { token: other.token })).body.data.conversation.id).toBe(theirs);
  });

  it('each ask writes one audit row in the same batch as the messages', async () => {
    const t = await createTenant();
    const id = await start(t.token, 'audited question');
    const rows = await env.DB.prepare("SELECT target_id, details FROM audit_log WHERE tenant_id = ? AND action = 'conversation.ask'")
      .bind(t.id).all<{ target_id: string; details: string }>();
    expect(rows.results).toHaveLength(1);
    expect(rows.results[0]!.target_id).toBe(id);
    expect(rows.results[0]!.details).not.toContain('audited question'); // no content in the audit log
  });
});
