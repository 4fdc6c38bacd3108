/**
 * Quotas reserved before the work, not checked and recorded after it (issue 9 item 5).
 * `ask` reserves one ask and the answer's max tokens, search (and ask's retrieval)
 * reserves the query's estimated embedding tokens, the ingestion consumer reserves the
 * document's; each is settled with the real figure afterwards or given back on failure.
 * Concurrency through the Worker with Promise.all: exactly the limit is admitted.
 */
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { estimateTokens } from '../../src/ai/tokens';
import { DEFAULT_PLANS } from '../../src/env';
import { guardClient } from '../../src/objects/guard-client';
import type { TenantGuard } from '../../src/objects/tenant-guard';
import { mustCreateAgent } from '../agents/agent-helpers';
import { ask, countRows } from '../chat/chat-helpers';
import { deliver, getDocument, ingest, ingestProcessed, search } from '../documents/doc-helpers';
import { codeOf, createTenant, gql, twoTenants, type TestTenant } from '../helpers';

const usage = async (t: TestTenant) =>
  (await gql('{ usage { asks embeddingTokens completionTokens promptTokens } }', {}, { token: t.token })).body.data.usage as {
    asks: number; embeddingTokens: number; completionTokens: number; promptTokens: number;
  };

describe('ask reserves its quota', () => {
  it('12 concurrent asks against monthlyAsks 5: exactly 5 answered, 7 QUOTA_EXCEEDED; the other tenant unaffected', async () => {
    const [a, b] = await twoTenants({ limits: { monthlyAsks: 5 } });
    const token = await a.tokenFor('member');
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => ask(token, { question: `question number ${i}` })));
    const answered = results.filter((r) => r.body.data?.ask);
    const refused = results.filter((r) => codeOf(r) === 'QUOTA_EXCEEDED');
    expect(answered).toHaveLength(5);
    expect(refused).toHaveLength(7);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.body.errors![0]!.extensions).toMatchObject({ quota: 'asks', limit: 5 });
    }
    expect(await countRows('messages', a.id)).toBe(10);
    // The settled figures: five asks, and the answers' real completion tokens, not five reservations of 1,024.
    const u = await usage(a);
    expect(u.asks).toBe(5);
    const spent = answered.reduce((n, r) => n + r.body.data.ask.usage.completionTokens, 0);
    expect(u.completionTokens).toBe(spent);
    expect(u.promptTokens).toBe(answered.reduce((n, r) => n + r.body.data.ask.usage.promptTokens, 0));
    expect((await ask(await b.tokenFor('member'), { question: 'still mine?' })).body.data.ask).toBeTruthy();
    expect((await usage(b)).asks).toBe(1);
  });

  it('the completion-token reservation is exact under concurrency too', async () => {
    // Room for two whole answers (2 × 1,024) and a half: of six reservations held at once,
    // exactly two succeed. (Through the Worker the count would depend on timing: an ask that
    // finishes settles to its real, smaller count and legitimately frees room for a later one.)
    const t = await createTenant({ limits: { monthlyCompletionTokens: 2 * 1024 + 500 } });
    const limits = { ...DEFAULT_PLANS.pro, monthlyCompletionTokens: 2 * 1024 + 500 };
    const g = guardClient(env.TENANT_GUARD, t.id);
    const held = await Promise.allSettled(Array.from({ length: 6 }, () => g.reserve(limits, { asks: 1, completionTokens: 1024 })));
    expect(held.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    const refused = held.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused).toHaveLength(4);
    for (const r of refused) expect(r.reason).toMatchObject({ code: 'QUOTA_EXCEEDED', extensions: { quota: 'completionTokens' } });
    expect(await g.usage()).toMatchObject({ asks: 2, completionTokens: 2048 });
    // Through the Worker, an ask that does not fit is refused before the model is called.
    const r = await ask(await t.tokenFor('member'), { question: 'no room left for a whole answer' });
    expect(codeOf(r)).toBe('QUOTA_EXCEEDED');
    expect(r.body.errors![0]!.extensions!.quota).toBe('completionTokens');
    expect(await countRows('messages', t.id)).toBe(0);
  });

  it('gives the reservation back when the ask fails after reserving (retrieval refused); a foreign conversation costs nothing', async () => {
    const a = await createTenant({ limits: { monthlyAsks: 1, monthlyEmbeddingTokens: 0 } });
    const b = await createTenant();
    // The ask is reserved, then retrieval is refused (no embedding tokens left for the question): all of it goes back.
    const r = await ask(await a.tokenFor('member'), { question: 'refused by retrieval' });
    expect(codeOf(r)).toBe('QUOTA_EXCEEDED');
    expect(r.body.errors![0]!.extensions!.quota).toBe('embeddingTokens');
    expect(await usage(a)).toMatchObject({ asks: 0, completionTokens: 0, embeddingTokens: 0 });
    expect(await countRows('messages', a.id)).toBe(0);
    // B's conversation is NOT_FOUND for A, and reserves nothing of A's quota.
    const theirs = (await ask(await b.tokenFor('member'), { question: 'a conversation of B' })).body.data.ask.conversation.id;
    const foreign = await ask(await a.tokenFor('member'), { question: 'into B', conversationId: theirs });
    expect(codeOf(foreign)).toBe('NOT_FOUND');
    expect(await usage(a)).toMatchObject({ asks: 0, completionTokens: 0 });
    expect((await usage(b)).asks).toBe(1);
  });
});

describe('ask through an agent', () => {
  it('settles to the real figures for the tenant and for the agent (which never saw the reservation)', async () => {
    const [a, b] = await twoTenants();
    const agent = await mustCreateAgent(a, { slug: 'support', name: 'Support', maxTokens: 300 });
    await mustCreateAgent(b, { slug: 'support', name: 'Support' });
    const member = await a.tokenFor('member');
    const answers = [];
    for (const q of ['refunds?', 'invoices?']) answers.push((await ask(member, { question: q, agentSlug: 'support' })).body.data.ask);
    const spent = answers.reduce((n, x) => n + x.usage.completionTokens, 0);
    const prompt = answers.reduce((n, x) => n + x.usage.promptTokens, 0);
    expect(await usage(a)).toMatchObject({ asks: 2, completionTokens: spent, promptTokens: prompt });
    const [mine] = await guardClient(env.TENANT_GUARD, a.id).agentUsage([agent.id]);
    expect(mine).toMatchObject({ asks: 2, completionTokens: spent, promptTokens: prompt });
    const q = '{ agents { edges { node { usage { asks completionTokens } } } } }';
    expect((await gql(q, {}, { token: b.token })).body.data.agents.edges[0].node.usage).toEqual({ asks: 0, completionTokens: 0 });
  });
});

describe('search reserves embedding tokens', () => {
  const QUERY = 'annual refund policy';

  it('enforces monthlyEmbeddingTokens: QUOTA_EXCEEDED once the query no longer fits; KEYWORD needs no embedding', async () => {
    const per = estimateTokens(QUERY);
    const [a, b] = await twoTenants({ limits: { monthlyEmbeddingTokens: per * 3 } });
    for (let i = 0; i < 3; i++) expect((await search(a, { query: QUERY, mode: 'VECTOR' })).body.errors).toBeUndefined();
    for (const mode of ['VECTOR', 'HYBRID']) {
      const r = await search(a, { query: QUERY, mode });
      expect(codeOf(r), mode).toBe('QUOTA_EXCEEDED');
      expect(r.status).toBe(429);
      expect(r.body.errors![0]!.extensions).toMatchObject({ quota: 'embeddingTokens', limit: per * 3 });
    }
    expect((await search(a, { query: QUERY, mode: 'KEYWORD' })).body.errors).toBeUndefined();
    expect((await usage(a)).embeddingTokens).toBe(per * 3);
    expect((await search(b, { query: QUERY, mode: 'VECTOR' })).body.errors).toBeUndefined();
  });

  it('is exact under concurrency: 10 concurrent searches with room for 4', async () => {
    const per = estimateTokens(QUERY);
    const t = await createTenant({ limits: { monthlyEmbeddingTokens: per * 4 } });
    const results = await Promise.all(Array.from({ length: 10 }, () => search(t, { query: QUERY, mode: 'VECTOR' })));
    expect(results.filter((r) => !r.body.errors)).toHaveLength(4);
    expect(results.filter((r) => codeOf(r) === 'QUOTA_EXCEEDED')).toHaveLength(6);
    expect((await usage(t)).embeddingTokens).toBe(per * 4);
  });
});

describe('the ingestion consumer reserves embedding tokens', () => {
  it('two documents processed at once that each fit but not together: one COMPLETED, one FAILED', async () => {
    const text = 'Refunds for annual plans are paid within fourteen days of the request.';
    const need = estimateTokens(text);
    const [a, b] = await twoTenants({ limits: { monthlyEmbeddingTokens: need + Math.floor(need / 2) } });
    const ids: string[] = [];
    for (const name of ['one.txt', 'two.txt']) ids.push((await ingest(a, { name, text: `${text}` })).body.data.ingestDocument.id);
    await Promise.all(ids.map((id) => deliver(id)));
    const docs = await Promise.all(ids.map((id) => getDocument(a, id)));
    expect(docs.map((d) => d.status).sort()).toEqual(['COMPLETED', 'FAILED']);
    expect(docs.find((d) => d.status === 'FAILED')!.error).toBe('The monthly embedding token quota is exhausted.');
    expect((await usage(a)).embeddingTokens).toBe(need);
    // B's ingestion is not affected by A's quota.
    expect(await ingestProcessed(b, { name: 'b.txt', text })).toMatchObject({ status: 'COMPLETED' });
  });
});

describe('reservations in the TenantGuard', () => {
  const limits = { ...DEFAULT_PLANS.free, monthlyAsks: 2, monthlyEmbeddingTokens: 100, monthlyCompletionTokens: 1000 };

  it('reserves all of a delta or none of it, settles the difference once, releases once', async () => {
    const tenant = crypto.randomUUID();
    const g = guardClient(env.TENANT_GUARD, tenant);
    const r1 = await g.reserve(limits, { asks: 1, completionTokens: 600 });
    // The second ask fits, its tokens do not: nothing of it is reserved.
    await expect(g.reserve(limits, { asks: 1, completionTokens: 600 })).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED', extensions: { quota: 'completionTokens' } });
    expect(await g.usage()).toMatchObject({ asks: 1, completionTokens: 600 });
    await r1.settle({ asks: 1, completionTokens: 40, promptTokens: 300 });
    await r1.settle({ asks: 1, completionTokens: 999 }); // a second settle does nothing
    await r1.release(); // nor does a release after it
    expect(await g.usage()).toMatchObject({ asks: 1, completionTokens: 40, promptTokens: 300 });
    const r2 = await g.reserve(limits, { asks: 1, completionTokens: 900 });
    await r2.release();
    expect(await g.usage()).toMatchObject({ asks: 1, completionTokens: 40 });
    await expect(g.reserve(limits, { embeddingTokens: -5 })).rejects.toBeInstanceOf(TypeError);
    // The object refuses malformed deltas itself (fail closed), whatever the client does.
    const stub = env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenant));
    await runInDurableObject(stub, async (obj: TenantGuard) => {
      await expect(obj.reserve(tenant, limits, { asks: Number.NaN })).rejects.toBeInstanceOf(TypeError);
    });
  });
});
