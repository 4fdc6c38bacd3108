/**
 * An agent's prompt, model, temperature and answer length reach the model request (the real
 * openai SDK against the fake OpenAI-compatible server); a null agent setting inherits the
 * tenant's; a follow-up keeps the conversation's agent.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ask, setSettings } from '../chat/chat-helpers';
import { installFakeOpenAI, type FakeOpenAI } from '../chat/fake-openai';
import { createTenant } from '../helpers';
import { mustCreateAgent } from './agent-helpers';

let fake: FakeOpenAI;
beforeEach(() => {
  fake = installFakeOpenAI();
});
afterEach(() => fake.restore());

describe('agent settings in the model request', () => {
  it('sends the agent’s prompt, model, temperature and max tokens; answers name the model', async () => {
    const t = await createTenant();
    expect((await setSettings(t, { systemPrompt: 'You are the tenant default.', chatModel: 'gpt-4.1-mini', temperature: 0.9 })).body.errors).toBeUndefined();
    await mustCreateAgent(t, { slug: 'support', name: 'Support', systemPrompt: 'You are the Acme support bot.', chatModel: 'gpt-4o', temperature: 0.1, maxTokens: 256 });
    const member = await t.tokenFor('member');
    const r = await ask(member, { question: 'How do refunds work?', agentSlug: 'support' });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.ask.model).toBe('gpt-4o');
    const call = fake.chat()[0]!;
    expect(call.body).toMatchObject({ model: 'gpt-4o', temperature: 0.1, max_tokens: 256 });
    expect(call.body.messages[0].content).toContain('You are the Acme support bot.');
    expect(call.body.messages[0].content).not.toContain('tenant default');
    expect(call.body.messages[0].content).toMatch(/square brackets/); // citation rules follow every prompt

    // A follow-up in the conversation is the same agent, without naming it.
    await ask(member, { question: 'And after that?', conversationId: r.body.data.ask.conversation.id });
    expect(fake.chat()[1]!.body).toMatchObject({ model: 'gpt-4o', temperature: 0.1, max_tokens: 256 });

    // Without an agent, the tenant settings as before.
    await ask(member, { question: 'No agent?' });
    const plain = fake.chat()[2]!;
    expect(plain.body).toMatchObject({ model: 'gpt-4.1-mini', temperature: 0.9, max_tokens: 1024 });
    expect(plain.body.messages[0].content).toContain('You are the tenant default.');
  });

  it('an agent with no settings of its own inherits the tenant’s, then the deployment defaults', async () => {
    const t = await createTenant();
    await setSettings(t, { systemPrompt: 'Tenant persona.', temperature: 0.6 });
    await mustCreateAgent(t, { slug: 'plain', name: 'Plain' });
    await ask(t.token, { question: 'q?', agentSlug: 'plain' });
    const call = fake.chat()[0]!;
    expect(call.body).toMatchObject({ model: 'gpt-4o-mini', temperature: 0.6, max_tokens: 1024 });
    expect(call.body.messages[0].content).toContain('Tenant persona.');
  });
});
