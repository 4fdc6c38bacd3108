/** askStream over SSE through the Worker (offline provider). */
import { describe, expect, it } from 'vitest';
import { createTenant, gql, twoTenants } from '../helpers';
import { askStream, CONVERSATION, countRows } from './chat-helpers';

describe('askStream over SSE', () => {
  it('streams DELTA events, then SOURCES, then DONE; the stored answer equals the streamed text', async () => {
    const t = await createTenant();
    const token = await t.tokenFor('member');
    const s = await askStream(token, { question: 'How do I rotate an API key?' });
    expect(s.status).toBe(200);
    expect(s.contentType).toMatch(/^text\/event-stream/);
    expect(s.errors).toEqual([]);
    expect(s.completed).toBe(true);

    const types = s.payloads.map((p) => p.type);
    const firstNonDelta = types.findIndex((x) => x !== 'DELTA');
    expect(firstNonDelta).toBeGreaterThan(1); // several deltas
    expect(types.slice(firstNonDelta)).toEqual(['SOURCES', 'DONE']);

    const streamed = s.payloads.filter((p) => p.type === 'DELTA').map((p) => p.delta).join('');
    const done = s.payloads.at(-1);
    expect(done.text).toBe(streamed);
    expect(done.model).toBe('extractive-offline');
    expect(done.usage.totalTokens).toBe(done.usage.promptTokens + done.usage.completionTokens);

    const stored = await gql(CONVERSATION, { id: done.conversationId }, { token });
    const msgs = stored.body.data.conversation.messages;
    expect(msgs.map((m: any) => m.role)).toEqual(['user', 'assistant']);
    expect(msgs[1].id).toBe(done.messageId);
    expect(msgs[1].content).toBe(streamed);
    expect(msgs[1].completionTokens).toBe(done.usage.completionTokens);
  });

  it('continues a conversation over SSE', async () => {
    const t = await createTenant();
    const first = (await askStream(t.token, { question: 'one' })).payloads.at(-1);
    const second = (await askStream(t.token, { question: 'two', conversationId: first.conversationId })).payloads.at(-1);
    expect(second.type).toBe('DONE');
    expect(second.conversationId).toBe(first.conversationId);
    expect(await countRows('messages', t.id)).toBe(4);
  });

  it('refusals before streaming are GraphQL errors with a code, and nothing is stored', async () => {
    const [a, b] = await twoTenants();
    const foreign = (await askStream(b.token, { question: 'B' })).payloads.at(-1).conversationId;
    const s = await askStream(a.token, { question: 'hi', conversationId: foreign });
    expect(s.payloads).toEqual([]);
    expect(s.errors.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);
    const bad = await askStream(a.token, { question: '' });
    expect(bad.errors.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(await countRows('messages', a.id)).toBe(0);
  });
});
