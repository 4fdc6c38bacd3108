/**
 * Spend caps (issue 16, DESIGN §14): a tenant caps its monthly prompt and completion tokens
 * below its plan's, and the guard refuses exactly at the cap under concurrency. Every ask
 * reserves its max completion tokens and its prompt ceiling before the model call, then
 * settles to the provider's counts (the real openai SDK against the fake server).
 *
 * Exactness is shown with the fake holding every answer until all the asks have either
 * reached it or been refused: no settlement can free room while the others reserve, so the
 * number that pass is decided by the reservations alone.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { promptTokenCeiling } from '../../src/rag/prompt';
import { ANSWER_MAX_TOKENS } from '../../src/rag/answer';
import { ask } from '../chat/chat-helpers';
import { answer, installFakeOpenAI, status, type FakeOpenAI, type Reply } from '../chat/fake-openai';
import { codeOf, createTenant, gql, twoTenants, type GqlResult, type TestTenant } from '../helpers';

const SET_CAPS = `mutation($input: SpendCapsInput!) {
  setSpendCaps(input: $input) { monthlyPromptTokens monthlyCompletionTokens planMonthlyPromptTokens planMonthlyCompletionTokens } }`;
const USAGE = `{ usage { asks promptTokens promptTokenLimit promptTokenCap planPromptTokenLimit
  completionTokens completionTokenLimit completionTokenCap planCompletionTokenLimit } }`;

const setCaps = (t: TestTenant, input: Record<string, unknown>) => gql(SET_CAPS, { input }, { token: t.token });
const usage = async (t: TestTenant) => (await gql(USAGE, {}, { token: t.token })).body.data.usage;

/** Holds `reply`'s body until `gate` resolves (the SDK has the headers, then waits for the JSON). */
function held(reply: Reply, gate: Promise<void>): Reply {
  return (body) => {
    const res = reply(body);
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        await gate;
        controller.enqueue(new Uint8Array(await res.arrayBuffer()));
        controller.close();
      },
    });
    return new Response(stream, { status: res.status, headers: res.headers });
  };
}

/**
 * Sends `n` asks at once while the fake holds its answers; once every ask has reached the
 * fake or come back refused, the answers go out. Returns the results in order.
 */
async function concurrentAsks(t: TestTenant, n: number, question: string): Promise<GqlResult[]> {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const before = fake.chat().length;
  fake.script(...Array.from({ length: n }, () => held(answer('Capped answer [1].', { usage: { prompt_tokens: 300, completion_tokens: 10 } }), gate)));
  let refused = 0;
  const pending = Array.from({ length: n }, () =>
    ask(t.token, { question }).then((r) => {
      if (r.body.errors) refused += 1;
      return r;
    }),
  );
  await vi.waitFor(() => expect(fake.chat().length - before + refused).toBe(n), { timeout: 15_000, interval: 20 });
  open();
  return Promise.all(pending);
}

let fake: FakeOpenAI;
beforeEach(() => {
  fake = installFakeOpenAI();
});
afterEach(() => fake.restore());

describe('spend caps under concurrency', () => {
  it('completion tokens: exactly cap / max tokens asks pass, the rest get QUOTA_EXCEEDED naming the quota', async () => {
    const [a, b] = await twoTenants();
    const r = await setCaps(a, { monthlyCompletionTokens: 3 * ANSWER_MAX_TOKENS });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.setSpendCaps).toMatchObject({ monthlyCompletionTokens: 3 * ANSWER_MAX_TOKENS, monthlyPromptTokens: null, planMonthlyCompletionTokens: 20_000_000 });

    const results = await concurrentAsks(a, 7, 'What does the cap allow?');
    const ok = results.filter((x) => !x.body.errors);
    const refused = results.filter((x) => x.body.errors);
    expect(ok).toHaveLength(3);
    expect(refused).toHaveLength(4);
    for (const x of refused) {
      expect(x.status).toBe(429);
      expect(x.body.errors![0]!.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'completionTokens', limit: 3 * ANSWER_MAX_TOKENS });
    }
    // Settled to the provider's counts: 3 answers of 10 tokens, 300 prompt tokens each.
    expect(await usage(a)).toMatchObject({
      asks: 3, completionTokens: 30, promptTokens: 900,
      completionTokenCap: 3 * ANSWER_MAX_TOKENS, completionTokenLimit: 3 * ANSWER_MAX_TOKENS, planCompletionTokenLimit: 20_000_000,
      promptTokenCap: null, promptTokenLimit: 100_000_000, planPromptTokenLimit: 100_000_000,
    });
    // The settlement gave back what the answers did not use: another ask fits now.
    expect((await ask(a.token, { question: 'And now?' })).body.errors).toBeUndefined();
    // The other tenant is not capped and has spent nothing.
    expect(await usage(b)).toMatchObject({ asks: 0, completionTokens: 0, promptTokens: 0, completionTokenCap: null, completionTokenLimit: 20_000_000 });
    expect((await ask(b.token, { question: 'Am I capped?' })).body.errors).toBeUndefined();
  });

  it("prompt tokens: each ask reserves its prompt ceiling, so exactly cap / ceiling asks pass", async () => {
    const [a, b] = await twoTenants();
    const question = 'How long may a prompt be under a cap?';
    const ceiling = promptTokenCeiling({ question });
    expect((await setCaps(a, { monthlyPromptTokens: 2 * ceiling })).body.errors).toBeUndefined();

    const results = await concurrentAsks(a, 5, question);
    expect(results.filter((x) => !x.body.errors)).toHaveLength(2);
    const refused = results.filter((x) => x.body.errors);
    expect(refused).toHaveLength(3);
    for (const x of refused) expect(x.body.errors![0]!.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'promptTokens', limit: 2 * ceiling });
    expect(await usage(a)).toMatchObject({ asks: 2, promptTokens: 600, promptTokenCap: 2 * ceiling, promptTokenLimit: 2 * ceiling });
    expect(await usage(b)).toMatchObject({ asks: 0, promptTokens: 0, promptTokenCap: null });
  });

  it('a failed model call gives its reservation back; clearing the cap lifts it', async () => {
    const a = await createTenant();
    expect((await setCaps(a, { monthlyCompletionTokens: ANSWER_MAX_TOKENS })).body.errors).toBeUndefined();
    fake.script(status(400));
    expect(codeOf(await ask(a.token, { question: 'fails upstream' }))).toBe('UPSTREAM_UNAVAILABLE');
    expect(await usage(a)).toMatchObject({ asks: 0, completionTokens: 0, promptTokens: 0 });
    fake.script(answer('Long answer.', { usage: { prompt_tokens: 50, completion_tokens: 1000 } }));
    expect((await ask(a.token, { question: 'uses most of it' })).body.errors).toBeUndefined();
    const refused = await ask(a.token, { question: 'no room for another max-length answer' });
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'completionTokens' });
    expect(fake.chat()).toHaveLength(2); // the refused ask never reached the model

    const cleared = await setCaps(a, { monthlyCompletionTokens: null });
    expect(cleared.body.data.setSpendCaps).toMatchObject({ monthlyCompletionTokens: null });
    expect((await ask(a.token, { question: 'uncapped again' })).body.errors).toBeUndefined();
    expect(await usage(a)).toMatchObject({ completionTokenCap: null, completionTokenLimit: 20_000_000 });
  });
});
