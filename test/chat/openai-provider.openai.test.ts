/**
 * The openai-SDK path end to end: the Worker has OPENAI_API_KEY / OPENAI_BASE_URL (vitest
 * project "openai") and the real SDK talks to a fake OpenAI-compatible endpoint.
 */
import { env } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { codeOf, createTenant, gql, twoTenants } from '../helpers';
import { ingestProcessed } from '../documents/doc-helpers';
import { ask, askStream, CONVERSATION, countRows, setSettings } from './chat-helpers';
import { answer, brokenStream, installFakeOpenAI, status, type FakeOpenAI } from './fake-openai';

let fake: FakeOpenAI;
beforeEach(() => {
  fake = installFakeOpenAI();
});
afterEach(() => fake.restore());

const userMessages = (call: { body: any }) => call.body.messages.filter((m: any) => m.role === 'user');

describe('ask through the openai SDK', () => {
  it('sends the tenant prompt, model and temperature; returns the model answer with upstream usage', async () => {
    const t = await createTenant();
    expect((await setSettings(t, { systemPrompt: 'You are the Acme support bot.', chatModel: 'gpt-4o', temperature: 0.5 })).body.errors).toBeUndefined();
    fake.script(answer('Refunds take 5 days [1].', { usage: { prompt_tokens: 400, completion_tokens: 9 } }));
    const r = await ask(await t.tokenFor('member'), { question: 'How long do refunds take?' });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.ask).toMatchObject({
      text: 'Refunds take 5 days [1].',
      model: 'gpt-4o',
      usage: { promptTokens: 400, completionTokens: 9, totalTokens: 409 },
    });
    const [call] = fake.chat();
    expect(fake.chat()).toHaveLength(1);
    expect(call!.authorization).toBe('Bearer sk-test-not-a-real-key');
    expect(call!.body).toMatchObject({ model: 'gpt-4o', temperature: 0.5, max_tokens: 1024 });
    expect(call!.body.stream).toBeFalsy();
    const system = call!.body.messages[0];
    expect(system.role).toBe('system');
    expect(system.content).toContain('You are the Acme support bot.');
    expect(system.content).toMatch(/square brackets/); // citation rules always follow the tenant prompt
    expect(call!.body.messages.at(-1).content).toMatch(/Question: How long do refunds take\?$/);
    const stored = await gql(CONVERSATION, { id: r.body.data.ask.conversation.id }, { token: t.token });
    expect(stored.body.data.conversation.messages[1]).toMatchObject({ model: 'gpt-4o', promptTokens: 400, completionTokens: 9 });
  });

  it('carries the earlier questions and answers into the next prompt of the conversation', async () => {
    const t = await createTenant();
    const token = await t.tokenFor('member');
    fake.script(answer('The capital of Freedonia is Fredville [1].'), answer('About 40,000 people live there.'));
    const first = (await ask(token, { question: 'What is the capital of Freedonia?' })).body.data.ask;
    const second = await ask(token, { question: 'How many people live there?', conversationId: first.conversation.id });
    expect(second.body.errors).toBeUndefined();
    const call = fake.chat()[1]!;
    const roles = call.body.messages.map((m: any) => m.role);
    expect(roles).toEqual(['system', 'user', 'assistant', 'user']);
    expect(call.body.messages[1].content).toBe('What is the capital of Freedonia?');
    expect(call.body.messages[2].content).toBe('The capital of Freedonia is Fredville [1].');
    expect(call.body.messages[3].content).toMatch(/Question: How many people live there\?$/);
    // A new conversation starts without history.
    await ask(token, { question: 'Unrelated' });
    expect(fake.chat()[2]!.body.messages.map((m: any) => m.role)).toEqual(['system', 'user']);
  });

  it('falls back to the default model when the stored tenant model is no longer allowed', async () => {
    const t = await createTenant();
    await env.DB.prepare('UPDATE tenants SET settings = ? WHERE id = ?').bind(JSON.stringify({ chatModel: 'retired-model', temperature: 9 }), t.id).run();
    const r = await ask(t.token, { question: 'hello?' });
    expect(r.body.errors).toBeUndefined();
    expect(fake.chat()[0]!.body).toMatchObject({ model: 'gpt-4o-mini', temperature: 0.2 });
  });
});

describe('model failures store nothing', () => {
  it('a non-retryable upstream error is UPSTREAM_UNAVAILABLE, tried once, and leaves the conversation as it was', async () => {
    const t = await createTenant();
    const token = await t.tokenFor('member');
    const conv = (await ask(token, { question: 'first' })).body.data.ask.conversation.id;
    expect(await countRows('messages', t.id)).toBe(2);
    fake.script(status(400));
    const before = fake.chat().length;
    const r = await ask(token, { question: 'second', conversationId: conv });
    expect(codeOf(r)).toBe('UPSTREAM_UNAVAILABLE');
    expect(r.status).toBe(503);
    expect(fake.chat().length - before).toBe(1);
    expect(await countRows('messages', t.id)).toBe(2);
    const stored = await gql(CONVERSATION, { id: conv }, { token });
    expect(stored.body.data.conversation.messages.map((m: any) => m.content)).toEqual(['first', 'The fake model says hello [1].']);
  });

  it('a failed first question leaves no empty conversation', async () => {
    const t = await createTenant();
    fake.script(status(400));
    expect(codeOf(await ask(t.token, { question: 'doomed' }))).toBe('UPSTREAM_UNAVAILABLE');
    expect(await countRows('conversations', t.id)).toBe(0);
    expect(await countRows('messages', t.id)).toBe(0);
  });

  it('retries a 5xx before any output (SDK retry), and gives up after the retries', async () => {
    const t = await createTenant();
    fake.script(status(503), answer('Recovered.'));
    const ok = await ask(t.token, { question: 'flaky?' });
    expect(ok.body.data.ask.text).toBe('Recovered.');
    expect(fake.chat()).toHaveLength(2);

    fake.script(status(503), status(503), status(503));
    const r = await ask(t.token, { question: 'down?' });
    expect(codeOf(r)).toBe('UPSTREAM_UNAVAILABLE');
    expect(fake.chat()).toHaveLength(5); // 1 + 2 retries
    expect(await countRows('messages', t.id)).toBe(2);
  });
});

describe('askStream through the openai SDK', () => {
  it('streams the upstream deltas, then sources, then DONE with upstream usage; the stored answer is the streamed text', async () => {
    const t = await createTenant();
    const token = await t.tokenFor('member');
    const text = 'Streaming works well, as the handbook says [1].';
    fake.script(answer(text, { pieces: 5, usage: { prompt_tokens: 210, completion_tokens: 14 } }));
    const s = await askStream(token, { question: 'Does streaming work?' });
    expect(s.errors).toEqual([]);
    const deltas = s.payloads.filter((p) => p.type === 'DELTA').map((p) => p.delta);
    expect(deltas.length).toBe(5);
    expect(deltas.join('')).toBe(text);
    expect(s.payloads.slice(deltas.length).map((p) => p.type)).toEqual(['SOURCES', 'DONE']);
    const done = s.payloads.at(-1);
    expect(done).toMatchObject({ text, model: 'gpt-4o-mini', usage: { promptTokens: 210, completionTokens: 14, totalTokens: 224 } });
    expect(fake.chat()[0]!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    const stored = await gql(CONVERSATION, { id: done.conversationId }, { token });
    expect(stored.body.data.conversation.messages[1]).toMatchObject({ id: done.messageId, content: text, completionTokens: 14 });
  });

  it('estimates usage when the server reports none', async () => {
    const t = await createTenant();
    fake.script(answer('No usage here.', { usage: null }));
    const done = (await askStream(t.token, { question: 'usage?' })).payloads.at(-1);
    expect(done.type).toBe('DONE');
    expect(done.usage.completionTokens).toBeGreaterThan(0);
    expect(done.usage.promptTokens).toBeGreaterThan(0);
  });

  for (const end of ['error', 'cut'] as const) {
    it(`a stream that ${end === 'error' ? 'fails' : 'stops without a finish reason'} midway ends with an ERROR event, is not retried, and stores nothing`, async () => {
      const t = await createTenant();
      const token = await t.tokenFor('member');
      const conv = (await ask(token, { question: 'first' })).body.data.ask.conversation.id;
      fake.script(brokenStream('Half an ans', end));
      const before = fake.chat().length;
      const s = await askStream(token, { question: 'second', conversationId: conv });
      const types = s.payloads.map((p) => p.type);
      expect(types).toEqual(['DELTA', 'ERROR']);
      expect(s.payloads[0].delta).toBe('Half an ans');
      expect(s.payloads[1].error.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(s.completed).toBe(true);
      expect(fake.chat().length - before).toBe(1); // never retried once output had started
      expect(await countRows('messages', t.id)).toBe(2);
    });
  }

  it('an upstream refusal before any output is a GraphQL error in the stream', async () => {
    const t = await createTenant();
    fake.script(status(401));
    const s = await askStream(t.token, { question: 'key revoked?' });
    expect(s.payloads).toEqual([]);
    expect(s.errors.map((e) => e.extensions?.code)).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect(await countRows('conversations', t.id)).toBe(0);
  });
});

describe('quotas are checked before the model is called', () => {
  it('the monthly ask quota: QUOTA_EXCEEDED with no upstream request and nothing stored', async () => {
    const t = await createTenant({ limits: { monthlyAsks: 1 } });
    expect((await ask(t.token, { question: 'one' })).body.errors).toBeUndefined();
    expect(fake.chat()).toHaveLength(1);
    const r = await ask(t.token, { question: 'two' });
    expect(codeOf(r)).toBe('QUOTA_EXCEEDED');
    expect(r.body.errors![0]!.extensions!.quota).toBe('asks');
    const s = await askStream(t.token, { question: 'three' });
    expect(s.errors.map((e) => e.extensions?.code)).toEqual(['QUOTA_EXCEEDED']);
    expect(fake.chat()).toHaveLength(1);
    expect(await countRows('messages', t.id)).toBe(2);
  });

  it('the completion-token quota reserves a whole answer before calling the model', async () => {
    const t = await createTenant({ limits: { monthlyCompletionTokens: 500 } });
    const r = await ask(t.token, { question: 'too expensive' });
    expect(codeOf(r)).toBe('QUOTA_EXCEEDED');
    expect(r.body.errors![0]!.extensions!.quota).toBe('completionTokens');
    expect(fake.chat()).toHaveLength(0);
    expect(await countRows('conversations', t.id)).toBe(0);
  });

  it('reports asks and upstream token counts to the TenantGuard', async () => {
    const t = await createTenant();
    fake.script(answer('a', { usage: { prompt_tokens: 100, completion_tokens: 7 } }), answer('b', { usage: { prompt_tokens: 50, completion_tokens: 3 } }));
    await ask(t.token, { question: 'q1' });
    await askStream(t.token, { question: 'q2' });
    const guard = env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(t.id));
    const usage = await guard.usage(t.id);
    expect(usage).toMatchObject({ asks: 2, completionTokens: 10, promptTokens: 150 });
  });
});

describe('grounding through the openai SDK', () => {
  it("sends the tenant's own numbered sources to the model, never another tenant's, and streams the citations back", async () => {
    const [a, b] = await twoTenants();
    const refunds = await ingestProcessed(a, { name: 'refunds.md', text: 'Refunds for annual plans are paid within 14 days.' });
    const foreign = await ingestProcessed(b, { name: 'globex.md', text: 'Refunds for annual plans at Globex take 2 hours, code PURPLE-OTTER.' });
    expect([refunds.status, foreign.status]).toEqual(['COMPLETED', 'COMPLETED']);
    fake.script(answer('Within 14 days [1].', { pieces: 3 }));
    const s = await askStream(a.token, { question: 'How fast are refunds for annual plans paid?' });
    const prompt = fake.chat()[0]!.body.messages.at(-1).content as string;
    expect(prompt).toContain('[1] refunds.md\nRefunds for annual plans are paid within 14 days.');
    expect(JSON.stringify(fake.chat())).not.toContain('PURPLE-OTTER');
    const sources = s.payloads.find((p) => p.type === 'SOURCES').sources;
    expect(sources[0].document.id).toBe(refunds.id);
    expect(sources.map((x: any) => x.document.id)).not.toContain(foreign.id);
    expect(s.payloads.at(-1)).toMatchObject({ type: 'DONE', text: 'Within 14 days [1].' });
  });
});
