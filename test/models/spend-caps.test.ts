/**
 * Spend caps without a model key (issue 16): the extractive answers count estimated prompt
 * and completion tokens (about 4 characters a token), and caps apply to them like to a
 * provider's counts. Bad input names the field; only owners and admins may set caps; one
 * tenant's caps never touch another's limits.
 */
import { describe, expect, it } from 'vitest';
import { promptTokenCeiling } from '../../src/rag/prompt';
import { ask } from '../chat/chat-helpers';
import { codeOf, createApiKey, createTenant, gql, twoTenants, type TestTenant } from '../helpers';

const SET_CAPS = `mutation($input: SpendCapsInput!) { setSpendCaps(input: $input) { monthlyPromptTokens monthlyCompletionTokens planMonthlyPromptTokens planMonthlyCompletionTokens } }`;
const USAGE = '{ usage { asks promptTokens promptTokenLimit promptTokenCap planPromptTokenLimit completionTokens completionTokenLimit completionTokenCap planCompletionTokenLimit } }';
const setCaps = (t: TestTenant, input: Record<string, unknown>, token = t.token) => gql(SET_CAPS, { input }, { token });
const usage = async (t: TestTenant) => (await gql(USAGE, {}, { token: t.token })).body.data.usage;

describe('spend caps (offline extractive answers)', () => {
  it('counts estimated prompt and completion tokens, and refuses at the prompt cap', async () => {
    const [a, b] = await twoTenants();
    const question = 'Where are the offline answers counted?';
    const ok = await ask(a.token, { question });
    expect(ok.body.errors).toBeUndefined();
    expect(ok.body.data.ask.model).toBe('extractive-offline');
    const first = await usage(a);
    expect(first.promptTokens).toBeGreaterThan(0);
    expect(first.promptTokens).toBe(ok.body.data.ask.usage.promptTokens);
    expect(first.completionTokens).toBe(ok.body.data.ask.usage.completionTokens);

    // Room for exactly one more prompt ceiling.
    const cap = first.promptTokens + promptTokenCeiling({ question });
    expect((await setCaps(a, { monthlyPromptTokens: cap })).body.errors).toBeUndefined();
    expect((await ask(a.token, { question })).body.errors).toBeUndefined();
    const refused = await ask(a.token, { question });
    expect(refused.status).toBe(429);
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'promptTokens', limit: cap });
    expect(await usage(a)).toMatchObject({ asks: 2, promptTokenCap: cap, promptTokenLimit: cap, planPromptTokenLimit: 100_000_000 });
    expect((await ask(b.token, { question })).body.errors).toBeUndefined();
    expect(await usage(b)).toMatchObject({ asks: 1, promptTokenCap: null, promptTokenLimit: 100_000_000 });
  });

  it('omitted fields keep their cap, null clears it, and Tenant settings are untouched otherwise', async () => {
    const t = await createTenant({ plan: 'free' });
    let r = await setCaps(t, { monthlyPromptTokens: 5_000, monthlyCompletionTokens: 700 });
    expect(r.body.data.setSpendCaps).toEqual({ monthlyPromptTokens: 5_000, monthlyCompletionTokens: 700, planMonthlyPromptTokens: 1_000_000, planMonthlyCompletionTokens: 200_000 });
    r = await setCaps(t, { monthlyCompletionTokens: 0 });
    expect(r.body.data.setSpendCaps).toMatchObject({ monthlyPromptTokens: 5_000, monthlyCompletionTokens: 0 });
    // A cap of 0 stops every ask before the model: not even the extractive answer runs.
    expect((await ask(t.token, { question: 'anything?' })).body.errors?.[0]?.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'completionTokens' });
    r = await setCaps(t, { monthlyPromptTokens: null, monthlyCompletionTokens: null });
    expect(r.body.data.setSpendCaps).toMatchObject({ monthlyPromptTokens: null, monthlyCompletionTokens: null });
    expect(await usage(t)).toMatchObject({ promptTokenLimit: 1_000_000, completionTokenLimit: 200_000, promptTokenCap: null, completionTokenCap: null });
    expect((await ask(t.token, { question: 'anything now?' })).body.errors).toBeUndefined();
  });

  it.each([
    ['above the plan', { monthlyCompletionTokens: 200_001 }, 'monthlyCompletionTokens'],
    ['above the plan (prompt)', { monthlyPromptTokens: 1_000_001 }, 'monthlyPromptTokens'],
    ['negative', { monthlyPromptTokens: -1 }, 'monthlyPromptTokens'],
  ])('refuses a cap %s with BAD_USER_INPUT naming the field', async (_, input, field) => {
    const t = await createTenant({ plan: 'free' });
    const r = await setCaps(t, input);
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.body.errors?.[0]?.extensions?.field).toBe(field);
    expect(await usage(t)).toMatchObject({ promptTokenCap: null, completionTokenCap: null });
  });

  it("checks the cap against the tenant's effective plan: platform overrides count, unlimited plans take any cap", async () => {
    const over = await createTenant({ plan: 'free', limits: { monthlyCompletionTokens: 300_000 } });
    expect((await setCaps(over, { monthlyCompletionTokens: 250_000 })).body.errors).toBeUndefined();
    const ent = await createTenant({ plan: 'enterprise' });
    const r = await setCaps(ent, { monthlyPromptTokens: 2_000_000_000 });
    expect(r.body.data.setSpendCaps).toMatchObject({ monthlyPromptTokens: 2_000_000_000, planMonthlyPromptTokens: null });
    expect(await usage(ent)).toMatchObject({ promptTokenLimit: 2_000_000_000, planPromptTokenLimit: null });
  });

  it('only owners and admins (or an ADMIN key) set caps', async () => {
    const [a, b] = await twoTenants();
    expect(codeOf(await setCaps(a, { monthlyPromptTokens: 10 }, await a.tokenFor('member')))).toBe('FORBIDDEN');
    const chatKey = await createApiKey(a, ['CHAT']);
    expect(codeOf(await setCaps(a, { monthlyPromptTokens: 10 }, chatKey.secret))).toBe('FORBIDDEN');
    const adminKey = await createApiKey(a, ['ADMIN']);
    expect((await setCaps(a, { monthlyPromptTokens: 10 }, adminKey.secret)).body.errors).toBeUndefined();
    expect((await setCaps(a, { monthlyPromptTokens: 20 }, await a.tokenFor('owner'))).body.errors).toBeUndefined();
    // A's token on B's host is refused; B's caps stay unset.
    expect(codeOf(await gql(SET_CAPS, { input: { monthlyPromptTokens: 1 } }, { token: a.token, host: `${b.slug}.localhost` }))).toBe('FORBIDDEN');
    expect(await usage(b)).toMatchObject({ promptTokenCap: null });
    expect(await usage(a)).toMatchObject({ promptTokenCap: 20 });
  });
});
