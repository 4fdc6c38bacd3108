/** ask through the Worker with the offline (extractive) provider: storage, history, input errors, settings. */
import { describe, expect, it } from 'vitest';
import { codeOf, createApiKey, createTenant, gql, twoTenants } from '../helpers';
import { ask, askStream, CONVERSATION, countRows, setSettings } from './chat-helpers';

describe('ask (offline provider)', () => {
  it('answers, labels the answer extractive, and stores question + answer in a new titled conversation', async () => {
    const t = await createTenant();
    const member = await t.tokenFor('member');
    const r = await ask(member, { question: '  What is the refund policy for annual plans?  ' });
    expect(r.body.errors).toBeUndefined();
    const a = r.body.data.ask;
    expect(a.model).toBe('extractive-offline');
    expect(a.text).toMatch(/extractive/i);
    expect(a.usage.totalTokens).toBe(a.usage.promptTokens + a.usage.completionTokens);
    expect(a.usage.promptTokens).toBeGreaterThan(0);
    expect(a.conversation.title).toBe('What is the refund policy for annual plans?');
    expect(a.conversation.messages.map((m: any) => [m.role, m.content])).toEqual([
      ['user', 'What is the refund policy for annual plans?'],
      ['assistant', a.text],
    ]);
    expect(a.conversation.messages[1].id).toBe(a.messageId);
    expect(a.conversation.messages[1].model).toBe('extractive-offline');
    expect(await countRows('messages', t.id)).toBe(2);
    expect(await countRows('conversations', t.id)).toBe(1);
  });

  it('continues a conversation: messages append in order, the title stays', async () => {
    const t = await createTenant();
    const token = await t.tokenFor('member');
    const first = (await ask(token, { question: 'First question about invoices' })).body.data.ask;
    const second = await ask(token, { question: 'And a follow-up?', conversationId: first.conversation.id });
    expect(second.body.errors).toBeUndefined();
    const c = second.body.data.ask.conversation;
    expect(c.id).toBe(first.conversation.id);
    expect(c.title).toBe('First question about invoices');
    expect(c.messages.map((m: any) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(c.messages[2].content).toBe('And a follow-up?');
    expect(await countRows('conversations', t.id)).toBe(1);
  });

  it('long questions get a shortened title', async () => {
    const t = await createTenant();
    const q = `${'word '.repeat(40)}end`;
    const a = (await ask(t.token, { question: q })).body.data.ask;
    expect(a.conversation.title.length).toBeLessThanOrEqual(80);
    expect(a.conversation.title.endsWith('…')).toBe(true);
  });

  it('rejects bad input with BAD_USER_INPUT and stores nothing', async () => {
    const t = await createTenant();
    for (const input of [{ question: '   ' }, { question: 'x'.repeat(4001) }, { question: 'ok', topK: 0 }, { question: 'ok', topK: 21 }]) {
      const r = await ask(t.token, input);
      expect(codeOf(r), JSON.stringify(input).slice(0, 60)).toBe('BAD_USER_INPUT');
    }
    expect(await countRows('messages', t.id)).toBe(0);
  });

  it('a missing or foreign conversation id is NOT_FOUND and stores nothing', async () => {
    const [a, b] = await twoTenants();
    const foreign = (await ask(b.token, { question: 'B private question' })).body.data.ask.conversation.id;
    for (const conversationId of [foreign, crypto.randomUUID()]) {
      const r = await ask(a.token, { question: 'hi', conversationId });
      expect(codeOf(r)).toBe('NOT_FOUND');
    }
    expect(await countRows('messages', a.id)).toBe(0);
    expect(await countRows('messages', b.id)).toBe(2);
  });

  it("another member cannot continue a member's conversation (NOT_FOUND); an admin may read it but not continue it", async () => {
    const t = await createTenant();
    const alice = await t.tokenFor('member', 'alice');
    const bob = await t.tokenFor('member', 'bob');
    const conv = (await ask(alice, { question: 'Alice asks' })).body.data.ask.conversation.id;
    expect(codeOf(await ask(bob, { question: 'Bob butts in', conversationId: conv }))).toBe('NOT_FOUND');
    expect(codeOf(await ask(t.token, { question: 'Admin butts in', conversationId: conv }))).toBe('FORBIDDEN');
    const read = await gql(CONVERSATION, { id: conv }, { token: t.token });
    expect(read.body.data.conversation.messages).toHaveLength(2);
  });

  it('viewers may ask; API keys need the chat scope', async () => {
    const t = await createTenant();
    const viewer = await t.tokenFor('viewer');
    expect((await ask(viewer, { question: 'viewer question' })).body.errors).toBeUndefined();
    const searchOnly = await createApiKey(t, ['SEARCH']);
    expect(codeOf(await ask(searchOnly.secret, { question: 'key question' }))).toBe('FORBIDDEN');
    const chatKey = await createApiKey(t, ['CHAT']);
    const ok = await ask(chatKey.secret, { question: 'key question' });
    expect(ok.body.errors).toBeUndefined();
    // JWTs that carry a scope claim are held to it too.
    const scoped = await t.tokenFor('member', 'scoped', { scope: 'search' });
    expect(codeOf(await ask(scoped, { question: 'scoped' }))).toBe('FORBIDDEN');
    expect(codeOf(await askStream(scoped, { question: 'scoped' }).then((s) => ({ body: { errors: s.errors } }) as any))).toBe('FORBIDDEN');
  });

  it('unauthenticated asks are refused', async () => {
    const r = await gql('mutation { ask(input: { question: "hi" }) { text } }', {}, { token: null });
    expect(codeOf(r)).toBe('UNAUTHENTICATED');
  });
});

describe('chat model settings', () => {
  it('accepts the default model and the allowlist, refuses others with BAD_USER_INPUT', async () => {
    const t = await createTenant();
    const models = (await gql('{ chatModels }', {}, { token: t.token })).body.data.chatModels as string[];
    expect(models[0]).toBe('gpt-4o-mini');
    expect(models).toEqual(['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini']);
    const ok = await setSettings(t, { chatModel: 'gpt-4o', temperature: 0.7 });
    expect(ok.body.errors).toBeUndefined();
    expect(ok.body.data.updateTenantSettings.settings).toMatchObject({ chatModel: 'gpt-4o', temperature: 0.7 });
    const bad = await setSettings(t, { chatModel: 'gpt-super-expensive' });
    expect(codeOf(bad)).toBe('BAD_USER_INPUT');
    expect(bad.body.errors![0]!.extensions!.field).toBe('chatModel');
    const still = await gql('{ tenant { settings { chatModel } } }', {}, { token: t.token });
    expect(still.body.data.tenant.settings.chatModel).toBe('gpt-4o');
  });
});
