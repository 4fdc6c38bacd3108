/**
 * Agents: CRUD with audit and resets, bad input, the plan limit under concurrency, what
 * deleting an agent or one of its collections does, and ask / askStream through an agent
 * (offline provider): the conversation remembers its agent, retrieval stays in its knowledge.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ask, askStream } from '../chat/chat-helpers';
import { codeOf, createApiKey, createTenant, gql, twoTenants, type TestTenant } from '../helpers';
import {
  AGENTS, createAgent, createCollection, DELETE_AGENT, mustCreateAgent, UPDATE_AGENT, workspace,
} from './agent-helpers';

const ASK_AGENT = `mutation($input: AskInput!) {
  ask(input: $input) {
    text agent { id slug }
    sources { document { id } }
    conversation { id agent { slug } agentDeleted messages { role agent { slug } agentDeleted } }
  }
}`;
const CONVERSATION = `query($id: ID!) { conversation(id: $id) { id agent { slug } agentDeleted messages { role content agent { slug } agentDeleted } } }`;
const AGENT_BY = 'query($id: ID, $slug: String) { agent(id: $id, slug: $slug) { id slug } }';

const audits = async (t: TestTenant, prefix: string) =>
  (await gql('{ auditLog(first: 100) { edges { node { action targetId details } } } }', {}, { token: t.token })).body.data.auditLog.edges
    .map((e: any) => e.node)
    .filter((n: any) => n.action.startsWith(prefix));

describe('agents: create, read, update, delete', () => {
  it('creates an agent with inherited (null) settings, lists and reads it by id and slug, and audits it; the other tenant sees none', async () => {
    const [a, b] = await twoTenants();
    const x = await createCollection(a, 'handbook');
    const r = await createAgent(a, { slug: 'Support-Bot', name: ' Support ', knowledge: [x, x] });
    expect(r.body.errors).toBeUndefined();
    const agent = r.body.data.createAgent;
    expect(agent).toMatchObject({
      slug: 'support-bot', name: 'Support', description: null, systemPrompt: null, chatModel: null, temperature: null,
      maxTokens: null, retrievalMode: null, retrievalTopK: null, active: true, knowledge: [{ id: x, name: 'handbook' }],
    });
    expect((await gql(AGENTS, {}, { token: a.token })).body.data.agents.edges.map((e: any) => e.node.slug)).toEqual(['support-bot']);
    expect((await gql(AGENT_BY, { id: agent.id }, { token: await a.tokenFor('viewer') })).body.data.agent.slug).toBe('support-bot');
    expect((await gql(AGENT_BY, { slug: 'SUPPORT-BOT' }, { token: a.token })).body.data.agent.id).toBe(agent.id);
    expect(await audits(a, 'agent.')).toEqual([
      { action: 'agent.create', targetId: agent.id, details: { slug: 'support-bot', name: 'Support', knowledge: [x] } },
    ]);
    // Tenant B: nothing, by list, id or slug.
    expect((await gql(AGENTS, {}, { token: b.token })).body.data.agents.edges).toEqual([]);
    expect((await gql(AGENT_BY, { id: agent.id }, { token: b.token })).body.data.agent).toBeNull();
    expect((await gql(AGENT_BY, { slug: 'support-bot' }, { token: b.token })).body.data.agent).toBeNull();
    expect(codeOf(await gql(AGENT_BY, { id: agent.id, slug: 'support-bot' }, { token: a.token }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(AGENT_BY, {}, { token: a.token }))).toBe('BAD_USER_INPUT');
  });

  it('updateAgent: omitted fields stay, explicit nulls reset (knowledge to all, active to true), and the change is audited', async () => {
    const t = await createTenant();
    const x = await createCollection(t, 'x');
    const { id } = await mustCreateAgent(t, {
      slug: 'bot', name: 'Bot', description: 'd', systemPrompt: 'p', chatModel: 'gpt-4o', temperature: 0.7, maxTokens: 300,
      retrievalMode: 'KEYWORD', retrievalTopK: 3, knowledge: [x], active: false,
    });
    const kept = await gql(UPDATE_AGENT, { id, input: { name: 'Bot 2' } }, { token: t.token });
    expect(kept.body.data.updateAgent).toMatchObject({
      name: 'Bot 2', slug: 'bot', systemPrompt: 'p', chatModel: 'gpt-4o', temperature: 0.7, maxTokens: 300, retrievalMode: 'KEYWORD',
      retrievalTopK: 3, knowledge: [{ id: x }], active: false,
    });
    const reset = await gql(UPDATE_AGENT, {
      id,
      input: { description: null, systemPrompt: null, chatModel: null, temperature: null, maxTokens: null, retrievalMode: null, retrievalTopK: null, knowledge: null, active: null },
    }, { token: t.token });
    expect(reset.body.errors).toBeUndefined();
    expect(reset.body.data.updateAgent).toMatchObject({
      name: 'Bot 2', description: null, systemPrompt: null, chatModel: null, temperature: null, maxTokens: null, retrievalMode: null,
      retrievalTopK: null, knowledge: [], active: true,
    });
    for (const field of ['slug', 'name']) {
      const r = await gql(UPDATE_AGENT, { id, input: { [field]: null } }, { token: t.token });
      expect(codeOf(r)).toBe('BAD_USER_INPUT');
      expect(r.body.errors![0]!.extensions!.field).toBe(field);
    }
    const updates = (await audits(t, 'agent.update')).map((e: any) => e.details);
    expect(updates).toEqual([
      { slug: 'bot', keys: ['name'], reset: [] },
      { slug: 'bot', keys: [], reset: ['description', 'systemPrompt', 'chatModel', 'temperature', 'maxTokens', 'retrievalMode', 'retrievalTopK', 'active', 'knowledge'] },
    ]);
  });

  it('deleteAgent: audited; unknown and foreign ids are the same NOT_FOUND; conversations keep their history and say the agent was deleted', async () => {
    const [a, b] = await twoTenants();
    const { id } = await mustCreateAgent(a, { slug: 'bot', name: 'Bot' });
    const theirs = await mustCreateAgent(b, { slug: 'bot', name: 'Bot' });
    const member = await a.tokenFor('member');
    const asked = await gql(ASK_AGENT, { input: { question: 'hello?', agentSlug: 'bot' } }, { token: member });
    expect(asked.body.errors).toBeUndefined();
    const conv = asked.body.data.ask.conversation.id;

    const foreign = await gql(DELETE_AGENT, { id: theirs.id }, { token: a.token });
    const unknown = await gql(DELETE_AGENT, { id: crypto.randomUUID() }, { token: a.token });
    expect(codeOf(foreign)).toBe('NOT_FOUND');
    expect(foreign.body.errors![0]!.message).toBe(unknown.body.errors![0]!.message);
    expect(foreign.status).toBe(unknown.status);
    expect((await gql(AGENT_BY, { id: theirs.id }, { token: b.token })).body.data.agent).not.toBeNull();

    expect((await gql(DELETE_AGENT, { id }, { token: a.token })).body.data.deleteAgent).toBe(true);
    expect((await gql(AGENT_BY, { id }, { token: a.token })).body.data.agent).toBeNull();
    expect(await audits(a, 'agent.delete')).toEqual([{ action: 'agent.delete', targetId: id, details: { slug: 'bot', name: 'Bot' } }]);
    expect(await audits(b, 'agent.delete')).toEqual([]);

    const history = (await gql(CONVERSATION, { id: conv }, { token: member })).body.data.conversation;
    expect(history).toMatchObject({ agent: null, agentDeleted: true });
    expect(history.messages.map((m: any) => [m.role, m.agentDeleted])).toEqual([['user', true], ['assistant', true]]);
    const followUp = await gql(ASK_AGENT, { input: { question: 'and?', conversationId: conv } }, { token: member });
    expect(codeOf(followUp)).toBe('BAD_USER_INPUT');
    expect(followUp.body.errors![0]!.extensions).toMatchObject({ field: 'conversationId', agentDeleted: true });
    // A second delete finds nothing.
    expect(codeOf(await gql(DELETE_AGENT, { id }, { token: a.token }))).toBe('NOT_FOUND');
  });

  it('only admins and owners with an unrestricted credential manage agents; chat keys list them', async () => {
    const t = await createTenant();
    const x = await createCollection(t, 'x');
    const { id } = await mustCreateAgent(t, { slug: 'bot', name: 'Bot' });
    const member = await t.tokenFor('member');
    expect(codeOf(await createAgent(t, { slug: 'm', name: 'M' }, member))).toBe('FORBIDDEN');
    expect(codeOf(await gql(UPDATE_AGENT, { id, input: { name: 'n' } }, { token: member }))).toBe('FORBIDDEN');
    expect(codeOf(await gql(DELETE_AGENT, { id }, { token: member }))).toBe('FORBIDDEN');
    const chatKey = await createApiKey(t, ['CHAT']);
    expect((await gql(AGENTS, {}, { token: chatKey.secret })).body.data.agents.edges).toHaveLength(1);
    const searchKey = await createApiKey(t, ['SEARCH']);
    expect(codeOf(await gql(AGENTS, {}, { token: searchKey.secret }))).toBe('FORBIDDEN');
    // An admin key restricted to a collection administers nothing tenant-wide.
    const restrictedAdmin = await createApiKey(t, ['ADMIN'], { collectionIds: [x] });
    expect(codeOf(await createAgent(t, { slug: 'r', name: 'R' }, restrictedAdmin.secret))).toBe('FORBIDDEN');
    expect(codeOf(await gql(DELETE_AGENT, { id }, { token: restrictedAdmin.secret }))).toBe('FORBIDDEN');
    const owner = await t.tokenFor('owner');
    expect((await createAgent(t, { slug: 'o', name: 'O' }, owner)).body.errors).toBeUndefined();
  });
});

describe('agents: bad input', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['a slug with a space', { slug: 'bad slug' }, 'slug'],
    ['a slug starting with -', { slug: '-bot' }, 'slug'],
    ['a 64-character slug', { slug: 'a'.repeat(64) }, 'slug'],
    ['an empty slug', { slug: '' }, 'slug'],
    ['an empty name', { name: '  ' }, 'name'],
    ['a 201-character name', { name: 'n'.repeat(201) }, 'name'],
    ['a system prompt over 8,000 characters', { systemPrompt: 'p'.repeat(8_001) }, 'systemPrompt'],
    ['a model outside the allowlist', { chatModel: 'gpt-5-secret' }, 'chatModel'],
    ['temperature above 2', { temperature: 2.01 }, 'temperature'],
    ['temperature below 0', { temperature: -0.1 }, 'temperature'],
    ['maxTokens 0', { maxTokens: 0 }, 'maxTokens'],
    ['maxTokens above 4096', { maxTokens: 4_097 }, 'maxTokens'],
    ['retrievalTopK 0', { retrievalTopK: 0 }, 'retrievalTopK'],
    ['retrievalTopK 21', { retrievalTopK: 21 }, 'retrievalTopK'],
    ['an empty knowledge id', { knowledge: [' '] }, 'knowledge'],
  ];
  it.each(cases)('refuses %s with BAD_USER_INPUT naming the field, creating nothing', async (_name, patch, field) => {
    const t = await createTenant();
    const r = await createAgent(t, { slug: 'bot', name: 'Bot', ...patch });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.body.errors![0]!.extensions!.field).toBe(field);
    expect((await gql(AGENTS, {}, { token: t.token })).body.data.agents.edges).toEqual([]);
    // updateAgent applies the same rules.
    const { id } = await mustCreateAgent(t, { slug: 'ok', name: 'Ok' });
    const u = await gql(UPDATE_AGENT, { id, input: patch }, { token: t.token });
    expect(codeOf(u)).toBe('BAD_USER_INPUT');
    expect(u.body.errors![0]!.extensions!.field).toBe(field);
  });

  it('takes the edges of every range (8,000-character prompt, temperature 0 and 2, maxTokens 1 and 4096, topK 1 and 20)', async () => {
    const t = await createTenant();
    const r = await createAgent(t, { slug: 'a', name: 'A', systemPrompt: 'p'.repeat(8_000), temperature: 0, maxTokens: 1, retrievalTopK: 1 });
    expect(r.body.errors).toBeUndefined();
    const u = await gql(UPDATE_AGENT, { id: r.body.data.createAgent.id, input: { temperature: 2, maxTokens: 4_096, retrievalTopK: 20 } }, { token: t.token });
    expect(u.body.data.updateAgent).toMatchObject({ temperature: 2, maxTokens: 4_096, retrievalTopK: 20 });
  });

  it('a taken slug is BAD_USER_INPUT, in create and in update; the same slug in another tenant is fine', async () => {
    const [a, b] = await twoTenants();
    await mustCreateAgent(a, { slug: 'bot', name: 'Bot' });
    const dup = await createAgent(a, { slug: 'BOT', name: 'Other' });
    expect(codeOf(dup)).toBe('BAD_USER_INPUT');
    expect(dup.body.errors![0]!.extensions!.field).toBe('slug');
    const { id } = await mustCreateAgent(a, { slug: 'bot2', name: 'Bot 2' });
    expect(codeOf(await gql(UPDATE_AGENT, { id, input: { slug: 'bot' } }, { token: a.token }))).toBe('BAD_USER_INPUT');
    // Renaming to its own slug is no conflict.
    expect((await gql(UPDATE_AGENT, { id, input: { slug: 'bot2' } }, { token: a.token })).body.errors).toBeUndefined();
    await mustCreateAgent(b, { slug: 'bot', name: 'Bot' });
  });

  it('unknown and foreign knowledge collections are the same NOT_FOUND; so is an unknown or foreign agent in updateAgent', async () => {
    const [a, b] = await twoTenants();
    const theirs = await createCollection(b, 'theirs');
    const foreign = await createAgent(a, { slug: 'bot', name: 'Bot', knowledge: [theirs] });
    const unknown = await createAgent(a, { slug: 'bot', name: 'Bot', knowledge: [crypto.randomUUID()] });
    expect(codeOf(foreign)).toBe('NOT_FOUND');
    expect(foreign.body.errors![0]!.message).toBe(unknown.body.errors![0]!.message);
    const theirAgent = await mustCreateAgent(b, { slug: 'bot', name: 'Bot' });
    const up = await gql(UPDATE_AGENT, { id: theirAgent.id, input: { name: 'mine now' } }, { token: a.token });
    const upUnknown = await gql(UPDATE_AGENT, { id: crypto.randomUUID(), input: { name: 'x' } }, { token: a.token });
    expect(codeOf(up)).toBe('NOT_FOUND');
    expect(up.body.errors![0]!.message).toBe(upUnknown.body.errors![0]!.message);
    expect((await gql(AGENT_BY, { id: theirAgent.id }, { token: b.token })).body.data.agent.slug).toBe('bot');
  });
});

describe('agents: plan limit', () => {
  it('free allows 1, starter 3, pro 20, enterprise unlimited (plan table); a per-tenant override applies', async () => {
    const free = await createTenant({ plan: 'free' });
    await mustCreateAgent(free, { slug: 'one', name: 'One' });
    const over = await createAgent(free, { slug: 'two', name: 'Two' });
    expect(over.status).toBe(429);
    expect(over.body.errors![0]!.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'agents', limit: 1, used: 1, retryAfter: 3600 });
    const usage = await gql('{ usage { agentLimit } }', {}, { token: free.token });
    expect(usage.body.data.usage.agentLimit).toBe(1);
    const limits = async (plan: string) => (await gql('{ usage { agentLimit } }', {}, { token: (await createTenant({ plan })).token })).body.data.usage.agentLimit;
    expect([await limits('starter'), await limits('pro'), await limits('enterprise')]).toEqual([3, 20, null]);
    const overridden = await createTenant({ plan: 'free', limits: { agents: 2 } });
    await mustCreateAgent(overridden, { slug: 'one', name: 'One' });
    await mustCreateAgent(overridden, { slug: 'two', name: 'Two' });
    expect(codeOf(await createAgent(overridden, { slug: 'three', name: 'Three' }))).toBe('QUOTA_EXCEEDED');
  });

  it('admits concurrent creates exactly up to the limit (starter: 3 of 8), with one audit row per agent made', async () => {
    const [t, other] = await twoTenants({ plan: 'starter' });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => createAgent(t, { slug: `bot-${i}`, name: `Bot ${i}` })));
    const ok = results.filter((r) => !r.body.errors);
    expect(ok).toHaveLength(3);
    expect(results.filter((r) => codeOf(r) === 'QUOTA_EXCEEDED')).toHaveLength(5);
    const rows = await env.DB.prepare('SELECT COUNT(*) AS n FROM agents WHERE tenant_id = ?').bind(t.id).first<{ n: number }>();
    expect(rows!.n).toBe(3);
    expect((await audits(t, 'agent.create')).map((e: any) => e.targetId).sort()).toEqual(ok.map((r) => r.body.data.createAgent.id).sort());
    // Concurrent creates of one slug: one wins, the others are told the slug is taken.
    const same = await Promise.all(Array.from({ length: 4 }, () => createAgent(other, { slug: 'same', name: 'Same' })));
    expect(same.filter((r) => !r.body.errors)).toHaveLength(1);
    expect(same.filter((r) => codeOf(r) === 'BAD_USER_INPUT')).toHaveLength(3);
    // Deleting frees a slot.
    await gql(DELETE_AGENT, { id: ok[0]!.body.data.createAgent.id }, { token: t.token });
    expect((await createAgent(t, { slug: 'again', name: 'Again' })).body.errors).toBeUndefined();
  });
});

describe('deleting a collection that an agent uses', () => {
  it('is refused with BAD_USER_INPUT naming the agents, deletes nothing, and works once no agent uses it', async () => {
    const t = await createTenant();
    const x = await createCollection(t, 'x');
    const { id } = await mustCreateAgent(t, { slug: 'support', name: 'Support', knowledge: [x] });
    await mustCreateAgent(t, { slug: 'all', name: 'All' });
    const r = await gql('mutation($id: ID!) { deleteCollection(id: $id) }', { id: x }, { token: t.token });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.body.errors![0]!.extensions).toMatchObject({ field: 'id', agents: ['support'] });
    expect(r.body.errors![0]!.message).toMatch(/support/);
    expect((await gql('{ collections { edges { node { id } } } }', {}, { token: t.token })).body.data.collections.edges).toHaveLength(1);
    expect(await audits(t, 'collection.delete')).toEqual([]);
    await gql(UPDATE_AGENT, { id, input: { knowledge: null } }, { token: t.token });
    expect((await gql('mutation($id: ID!) { deleteCollection(id: $id) }', { id: x }, { token: t.token })).body.data.deleteCollection).toBe(true);
  });
});

describe('knowledge and collection deletion under concurrency', () => {
  it('an agent never ends up with a deleted collection: either the delete wins or the update does', async () => {
    const t = await createTenant();
    const { id } = await mustCreateAgent(t, { slug: 'bot', name: 'Bot' });
    for (let round = 0; round < 4; round++) {
      const x = await createCollection(t, `race-${round}`);
      const [upd, del] = await Promise.all([
        gql(UPDATE_AGENT, { id, input: { knowledge: [x] } }, { token: t.token }),
        gql('mutation($id: ID!) { deleteCollection(id: $id) }', { id: x }, { token: t.token }),
      ]);
      const updated = !upd.body.errors;
      const deleted = del.body.data?.deleteCollection === true;
      // Exactly one of the two happened, and the other says why.
      expect(updated !== deleted, JSON.stringify([upd.body.errors, del.body.errors])).toBe(true);
      if (updated) expect(codeOf(del)).toBe('BAD_USER_INPUT');
      else expect(codeOf(upd)).toBe('NOT_FOUND');
      const row = await env.DB.prepare('SELECT knowledge FROM agents WHERE id = ?').bind(id).first<{ knowledge: string }>();
      const exists = await env.DB.prepare('SELECT COUNT(*) AS n FROM collections WHERE id = ?').bind(x).first<{ n: number }>();
      expect(JSON.parse(row!.knowledge).includes(x)).toBe(exists!.n === 1);
      await gql(UPDATE_AGENT, { id, input: { knowledge: null } }, { token: t.token });
      if (!deleted) await gql('mutation($id: ID!) { deleteCollection(id: $id) }', { id: x }, { token: t.token });
    }
  });
});

describe('ask through an agent (offline provider)', () => {
  it('answers as the agent from its knowledge only; the conversation remembers the agent; another agent is BAD_USER_INPUT', async () => {
    const w = await workspace();
    const member = await w.t.tokenFor('member');
    const first = await gql(ASK_AGENT, { input: { question: 'How long do refunds take?', agentSlug: 'support' } }, { token: member });
    expect(first.body.errors).toBeUndefined();
    const a = first.body.data.ask;
    expect(a.agent).toEqual({ id: w.support.id, slug: 'support' });
    expect(a.sources.length).toBeGreaterThan(0);
    expect(new Set(a.sources.map((s: any) => s.document.id))).toEqual(new Set([w.docX]));
    expect(a.conversation.agent).toEqual({ slug: 'support' });
    expect(a.conversation.messages.map((m: any) => m.agent?.slug)).toEqual(['support', 'support']);

    // A follow-up without an agent is the same agent, with the same knowledge.
    const followUp = await gql(ASK_AGENT, { input: { question: 'refunds audited approval?', conversationId: a.conversation.id } }, { token: member });
    expect(followUp.body.data.ask.agent.slug).toBe('support');
    expect(followUp.body.data.ask.sources.every((s: any) => s.document.id === w.docX)).toBe(true);
    // Naming the same agent is fine; another one is not.
    expect((await gql(ASK_AGENT, { input: { question: 'refunds?', conversationId: a.conversation.id, agentId: w.support.id } }, { token: member })).body.errors).toBeUndefined();
    const other = await gql(ASK_AGENT, { input: { question: 'refunds?', conversationId: a.conversation.id, agentSlug: 'sales' } }, { token: member });
    expect(codeOf(other)).toBe('BAD_USER_INPUT');
    expect(other.body.errors![0]!.extensions!.field).toBe('agentSlug');
    // A conversation started without an agent cannot be handed to one.
    const plain = await gql(ASK_AGENT, { input: { question: 'refunds?' } }, { token: member });
    expect(plain.body.data.ask.agent).toBeNull();
    const handOver = await gql(ASK_AGENT, { input: { question: 'refunds?', conversationId: plain.body.data.ask.conversation.id, agentId: w.sales.id } }, { token: member });
    expect(codeOf(handOver)).toBe('BAD_USER_INPUT');
    // Without an agent the tenant answers from everything it has, as before agents existed.
    expect(new Set(plain.body.data.ask.sources.map((s: any) => s.document.id))).toEqual(new Set([w.docX, w.docY, w.docLoose]));
  });

  it('an agent limited to Y never cites X, even when the ask filters on X; sales answers from Y only in every mode', async () => {
    const w = await workspace();
    for (const mode of ['VECTOR', 'KEYWORD', 'HYBRID']) {
      await gql(UPDATE_AGENT, { id: w.sales.id, input: { retrievalMode: mode } }, { token: w.t.token });
      const r = await gql(ASK_AGENT, { input: { question: 'refunds handbook days', agentId: w.sales.id } }, { token: w.t.token });
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data.ask.sources.map((s: any) => s.document.id)).toEqual([w.docY]);
      const filtered = await gql(ASK_AGENT, { input: { question: 'refunds handbook days', agentId: w.sales.id, filter: { collectionIds: [w.x] } } }, { token: w.t.token });
      expect(filtered.body.data.ask.sources).toEqual([]);
    }
  });

  it('askStream takes the agent too: DONE names it, the sources stay in its knowledge', async () => {
    const w = await workspace();
    const res = await askStream(await w.t.tokenFor('member'), { question: 'How long do refunds take?', agentSlug: 'support' });
    expect(res.errors).toEqual([]);
    const sources = res.payloads.find((p) => p.type === 'SOURCES').sources;
    expect(sources.length).toBeGreaterThan(0);
    expect(sources.every((s: any) => s.document.id === w.docX)).toBe(true);
    const done = res.payloads.find((p) => p.type === 'DONE');
    const conv = await gql(CONVERSATION, { id: done.conversationId }, { token: w.t.token });
    expect(conv.body.data.conversation.agent.slug).toBe('support');
  });

  it('bad agent references: both id and slug, unknown, foreign (same NOT_FOUND), inactive; nothing is stored', async () => {
    const w = await workspace();
    const theirs = await mustCreateAgent(w.other, { slug: 'theirs', name: 'Theirs' });
    const both = await ask(w.t.token, { question: 'q', agentId: w.support.id, agentSlug: 'support' });
    expect(codeOf(both)).toBe('BAD_USER_INPUT');
    const unknown = await ask(w.t.token, { question: 'q', agentId: crypto.randomUUID() });
    const foreign = await ask(w.t.token, { question: 'q', agentId: theirs.id });
    const foreignSlug = await ask(w.t.token, { question: 'q', agentSlug: 'theirs' });
    expect(codeOf(unknown)).toBe('NOT_FOUND');
    expect(foreign.body.errors![0]!.message).toBe(unknown.body.errors![0]!.message);
    expect(codeOf(foreignSlug)).toBe('NOT_FOUND');
    expect(codeOf(await ask(w.t.token, { question: 'q', agentSlug: '' }))).toBe('BAD_USER_INPUT');
    await gql(UPDATE_AGENT, { id: w.support.id, input: { active: false } }, { token: w.t.token });
    const inactive = await ask(w.t.token, { question: 'q', agentSlug: 'support' });
    expect(codeOf(inactive)).toBe('BAD_USER_INPUT');
    expect(inactive.body.errors![0]!.extensions).toMatchObject({ field: 'agentSlug', reason: 'inactive' });
    const stored = await env.DB.prepare('SELECT COUNT(*) AS n FROM conversations WHERE tenant_id = ?').bind(w.t.id).first<{ n: number }>();
    expect(stored!.n).toBe(0);
  });

  it('counts asks and tokens per agent in the tenant guard, readable by admins only', async () => {
    const w = await workspace();
    const member = await w.t.tokenFor('member');
    for (const slug of ['support', 'support', 'sales']) expect((await ask(member, { question: 'refunds?', agentSlug: slug })).body.errors).toBeUndefined();
    await ask(member, { question: 'refunds without an agent?' });
    const q = '{ agents { edges { node { slug usage { period asks promptTokens completionTokens } } } } }';
    const r = await gql(q, {}, { token: w.t.token });
    const bySlug = Object.fromEntries(r.body.data.agents.edges.map((e: any) => [e.node.slug, e.node.usage]));
    expect(bySlug.support.asks).toBe(2);
    expect(bySlug.sales.asks).toBe(1);
    expect(bySlug.support.promptTokens).toBeGreaterThan(0);
    expect(bySlug.support.period).toMatch(/^\d{4}-\d{2}$/);
    const tenant = (await gql('{ usage { asks } }', {}, { token: w.t.token })).body.data.usage;
    expect(tenant.asks).toBe(4);
    expect(codeOf(await gql(q, {}, { token: member }))).toBe('FORBIDDEN');
    // The other tenant's agent of the same slug starts at zero.
    await mustCreateAgent(w.other, { slug: 'support', name: 'Support' });
    const theirs = (await gql(q, {}, { token: w.other.token })).body.data.agents.edges[0].node.usage;
    expect(theirs.asks).toBe(0);
  });
});
