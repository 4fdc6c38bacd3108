/**
 * An ask's reservation (one ask + the answer's max tokens) goes back when the model fails,
 * before or during the stream, and is settled to the model's own token counts when it
 * answers (issue 9 item 5). Through the real openai SDK against the fake endpoint.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { codeOf, createTenant, gql, twoTenants, type TestTenant } from '../helpers';
import { ask, askStream, countRows } from './chat-helpers';
import { answer, brokenStream, installFakeOpenAI, status, type FakeOpenAI } from './fake-openai';

let fake: FakeOpenAI;
beforeEach(() => {
  fake = installFakeOpenAI();
});
afterEach(() => fake.restore());

const usage = async (t: TestTenant) => (await gql('{ usage { asks completionTokens promptTokens } }', {}, { token: t.token })).body.data.usage;

describe('ask reservations with a real model client', () => {
  it('gives the whole reservation back when the model call fails, so the quota is not spent', async () => {
    const [a, b] = await twoTenants({ limits: { monthlyAsks: 1 } });
    fake.script(status(400));
    const r = await ask(a.token, { question: 'fails upstream' });
    expect(codeOf(r)).toBe('UPSTREAM_UNAVAILABLE');
    expect(await usage(a)).toMatchObject({ asks: 0, completionTokens: 0 });
    // The one ask of the month is still there.
    fake.script(answer('Fine [1].', { usage: { prompt_tokens: 80, completion_tokens: 4 } }));
    expect((await ask(a.token, { question: 'works now' })).body.errors).toBeUndefined();
    expect(await usage(a)).toMatchObject({ asks: 1, completionTokens: 4, promptTokens: 80 });
    expect(codeOf(await ask(a.token, { question: 'over the quota' }))).toBe('QUOTA_EXCEEDED');
    expect(await usage(b)).toMatchObject({ asks: 0, completionTokens: 0 });
  });

  it('gives it back when a stream breaks off, and settles a streamed answer to its real counts', async () => {
    const a = await createTenant({ limits: { monthlyAsks: 1 } });
    fake.script(brokenStream('Half an ans', 'error'));
    const broken = await askStream(a.token, { question: 'breaks' });
    expect(broken.payloads.at(-1)?.type).toBe('ERROR');
    expect(await usage(a)).toMatchObject({ asks: 0, completionTokens: 0 });
    expect(await countRows('messages', a.id)).toBe(0);
    fake.script(answer('Streamed [1].', { usage: { prompt_tokens: 60, completion_tokens: 3 } }));
    const ok = await askStream(a.token, { question: 'streams' });
    expect(ok.payloads.at(-1)?.type).toBe('DONE');
    expect(await usage(a)).toMatchObject({ asks: 1, completionTokens: 3, promptTokens: 60 });
  });
});
