/**
 * Usage for billing (issue 15): usageHistory (closed months from the guard's D1 flush, the
 * current month live), usageReport over all tenants, and the CSV of `npm run usage:export`.
 * Every figure is compared with what the TenantGuard itself counted.
 */
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { guardClient } from '../../src/objects/guard-client';
import type { TenantGuard } from '../../src/objects/tenant-guard';
import { usageCsv, USAGE_CSV_COLUMNS, USAGE_REPORT_QUERY } from '../../scripts/usage-csv.mjs';
import { createAgent } from '../agents/agent-helpers';
import { ask } from '../chat/chat-helpers';
import { guardStub, MID_JANUARY, setClock, VIEWER } from '../guard/guard-helpers';
import { codeOf, createApiKey, gql, signToken, twoTenants, type GqlResult } from '../helpers';

const HISTORY = `query($from: String!, $to: String!) { usageHistory(from: $from, to: $to) {
  period requests rateLimited asks embeddingTokens promptTokens completionTokens documents storedBytes live asOf
  agents { agentId slug asks promptTokens completionTokens } } }`;
const MID_FEBRUARY = Date.UTC(2026, 1, 14, 12, 0, 0);
const FIGURES = ['requests', 'rateLimited', 'asks', 'embeddingTokens', 'promptTokens', 'completionTokens', 'documents', 'storedBytes'] as const;
const platformToken = () => signToken({ platform_admin: true, role: 'owner' }, { sub: 'operator' });

const figures = (u: Record<string, unknown>) => Object.fromEntries(FIGURES.map((k) => [k, u[k]]));
const flush = (tenantId: string) => runInDurableObject(guardStub(tenantId), (g: TenantGuard) => g.flush());

async function reportAll(period: string, first = 100): Promise<Record<string, any>[]> {
  const token = await platformToken();
  const nodes: Record<string, any>[] = [];
  let after: string | null = null;
  do {
    const r: GqlResult = await gql(USAGE_REPORT_QUERY, { period, first, after }, { token });
    if (!r.body.data) throw new Error(JSON.stringify(r.body.errors));
    nodes.push(...r.body.data.usageReport.edges.map((e: any) => e.node));
    after = r.body.data.usageReport.pageInfo.hasNextPage ? r.body.data.usageReport.pageInfo.endCursor : null;
  } while (after);
  return nodes;
}

describe('usageHistory', () => {
  it('gives closed months as the guard flushed them and the current month live, per agent, for this tenant only', async () => {
    const [a, b] = await twoTenants();
    await setClock(a.id, MID_JANUARY);
    await setClock(b.id, MID_JANUARY);
    const agent = (await createAgent(a, { slug: 'support', name: 'Support' })).body.data.createAgent;
    const ga = guardClient(env.TENANT_GUARD, a.id);
    for (let i = 0; i < 3; i++) await gql(VIEWER, {}, { token: a.token });
    await ga.record({ asks: 2, promptTokens: 300, completionTokens: 40, embeddingTokens: 900, documents: 2, storedBytes: 4_000 }, { agentId: agent.id });
    await gql(VIEWER, {}, { token: b.token });
    const january = await ga.usage();
    await flush(a.id);

    await setClock(a.id, MID_FEBRUARY);
    await gql(VIEWER, {}, { token: a.token });
    await ga.record({ asks: 1, promptTokens: 50, completionTokens: 7 }, { agentId: agent.id });
    await ga.record({ asks: 1, promptTokens: 5, completionTokens: 1 });

    const r = await gql(HISTORY, { from: '2025-12', to: '2026-03' }, { token: a.token });
    expect(r.body.errors).toBeUndefined();
    const february = await ga.usage(); // read after the history request, which counted itself
    const [jan, feb, ...rest] = r.body.data.usageHistory;
    expect(rest).toEqual([]);
    expect(jan).toMatchObject({ period: '2026-01', live: false, agents: null, ...figures(january as never) });
    expect(feb).toMatchObject({ period: '2026-02', live: true, ...figures(february as never) });
    // Standing totals carry over; monthly counters restart.
    expect(feb).toMatchObject({ documents: 2, storedBytes: 4_000, asks: 2, promptTokens: 55 });
    expect(feb.agents).toEqual([{ agentId: agent.id, slug: 'support', asks: 1, promptTokens: 50, completionTokens: 7 }]);

    // The other tenant sees only its own (live) month.
    const rb = await gql(HISTORY, { from: '2025-12', to: '2026-03' }, { token: b.token });
    expect(rb.body.data.usageHistory).toHaveLength(1);
    expect(rb.body.data.usageHistory[0]).toMatchObject({ period: '2026-01', live: true, asks: 0, documents: 0, agents: [] });
    // A range that misses the live month reads D1 only.
    const past = await gql(HISTORY, { from: '2026-01', to: '2026-01' }, { token: a.token });
    expect(past.body.data.usageHistory.map((m: any) => [m.period, m.live])).toEqual([['2026-01', false]]);
  });

  it('checks its input and its caller', async () => {
    const [a] = await twoTenants();
    const bad = async (from: string, to: string, field: string) => {
      const r = await gql(HISTORY, { from, to }, { token: a.token });
      expect(codeOf(r)).toBe('BAD_USER_INPUT');
      expect(r.body.errors![0]!.extensions!.field).toBe(field);
    };
    await bad('2026-13', '2026-12', 'from');
    await bad('2026-01', '26-02', 'to');
    await bad('2026-03', '2026-02', 'from');
    await bad('2000-01', '2026-02', 'to');
    expect(codeOf(await gql(HISTORY, { from: '2026-01', to: '2026-02' }, { token: await a.tokenFor('member') }))).toBe('FORBIDDEN');
    expect(codeOf(await gql(HISTORY, { from: '2026-01', to: '2026-02' }, { token: (await createApiKey(a, ['CHAT'])).secret }))).toBe('FORBIDDEN');
    expect(codeOf(await gql(HISTORY, { from: '2026-01', to: '2026-02' }, { token: await a.tokenFor('admin', 'r', { collection_ids: ['c'] }) }))).toBe('FORBIDDEN');
    const admin = await createApiKey(a, ['ADMIN']);
    expect((await gql(HISTORY, { from: '2026-01', to: '2030-12' }, { token: admin.secret })).body.errors).toBeUndefined();
  });
});

describe('usageHistory: per user and per API key', () => {
  it("splits this month's asks and tokens by who asked, summing to the guard's figures; erased users drop out", async () => {
    // Real clock: messages carry the wall-clock month, and so does the guard here.
    const [a, b] = await twoTenants();
    const bob = await a.tokenFor('member', 'bob');
    const key = await createApiKey(a, ['CHAT']);
    for (const [token, question] of [[bob, 'refunds?'], [bob, 'vacation?'], [key.secret, 'widget question']] as const) {
      const r = await ask(token, { question });
      expect(r.body.errors).toBeUndefined();
    }
    await ask(await b.tokenFor('member', 'bob'), { question: 'other tenant' });
    const month = new Date().toISOString().slice(0, 7);
    const q = { from: month, to: month };
    const Q = `query($from: String!, $to: String!) { usageHistory(from: $from, to: $to) { period asks promptTokens completionTokens
      byPrincipal { principal userId apiKeyId asks promptTokens completionTokens } } }`;
    const [m] = (await gql(Q, q, { token: a.token })).body.data.usageHistory;
    const counted = await guardClient(env.TENANT_GUARD, a.id).usage();
    expect(m).toMatchObject({ period: month, asks: counted.asks, promptTokens: counted.promptTokens, completionTokens: counted.completionTokens });
    expect(m.byPrincipal.map((p: any) => [p.principal, p.userId, p.apiKeyId, p.asks])).toEqual(
      [[`key:${key.id}`, null, key.id, 1], ['user:bob', 'bob', null, 2]].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    );
    const sum = (f: string) => m.byPrincipal.reduce((n: number, p: any) => n + p[f], 0);
    expect([sum('asks'), sum('promptTokens'), sum('completionTokens')]).toEqual([counted.asks, counted.promptTokens, counted.completionTokens]);
    expect(sum('promptTokens')).toBeGreaterThan(0);

    // After erasure bob is gone from the breakdown; the month's totals stay.
    await gql('mutation { eraseUser(userId: "bob") { messages } }', {}, { token: a.token });
    const [after] = (await gql(Q, q, { token: a.token })).body.data.usageHistory;
    expect(after.byPrincipal.map((p: any) => p.principal)).toEqual([`key:${key.id}`]);
    expect(after.asks).toBe(counted.asks);
    // The neighbour's bob is still counted there, and only there.
    const [mb] = (await gql(Q, q, { token: b.token })).body.data.usageHistory;
    expect(mb.byPrincipal).toEqual([expect.objectContaining({ principal: 'user:bob', asks: 1 })]);
  });
});

describe('usageReport and the CSV export', () => {
  it("lists every tenant's flushed month with the guard's figures, pages by tenant, and renders the CSV", async () => {
    const [a, b] = await twoTenants();
    await setClock(a.id, Date.UTC(2026, 10, 10));
    await setClock(b.id, Date.UTC(2026, 10, 11));
    for (let i = 0; i < 2; i++) await gql(VIEWER, {}, { token: a.token });
    await guardClient(env.TENANT_GUARD, a.id).record({ asks: 3, completionTokens: 120, documents: 1, storedBytes: 10 });
    await gql(VIEWER, {}, { token: b.token });
    await flush(a.id);
    await flush(b.id);
    const counted = { [a.id]: await guardClient(env.TENANT_GUARD, a.id).usage(), [b.id]: await guardClient(env.TENANT_GUARD, b.id).usage() };

    const mine = (await reportAll('2026-11', 1)).filter((n) => n.tenantId === a.id || n.tenantId === b.id);
    expect(mine.map((n) => n.tenantId)).toEqual([a.id, b.id].sort());
    for (const n of mine) {
      expect(n).toMatchObject({ period: '2026-11', plan: 'PRO', status: 'ACTIVE', ...figures(counted[n.tenantId] as never) });
    }
    expect(mine.find((n) => n.tenantId === a.id)!.slug).toBe(a.slug);

    const csv = usageCsv(mine).split('\r\n');
    expect(csv[0]).toBe(USAGE_CSV_COLUMNS.join(','));
    const line = csv.find((l) => l.includes(a.id))!.split(',');
    const at = (c: string) => line[USAGE_CSV_COLUMNS.indexOf(c)];
    expect([at('requests'), at('asks'), at('completionTokens'), at('documents')]).toEqual(
      [counted[a.id]!.requests, 3, 120, 1].map(String),
    );
    // Other months hold nothing of these tenants.
    expect((await reportAll('2026-10')).some((n) => n.tenantId === a.id)).toBe(false);
  });

  it('quotes CSV cells and defuses formulas in tenant-chosen names', () => {
    const csv = usageCsv([{ period: '2026-11', name: '=HYPERLINK("x"), "Acme"', slug: 'acme', requests: 1 }]);
    expect(csv.split('\r\n')[1]).toContain(`"'=HYPERLINK(""x""), ""Acme"""`);
  });

  it('is for platform admins only and checks period and cursor', async () => {
    const [a] = await twoTenants();
    const q = (vars: Record<string, unknown>, token: string) => gql(USAGE_REPORT_QUERY, vars, { token });
    expect(codeOf(await q({ period: '2026-11' }, await a.tokenFor('owner')))).toBe('FORBIDDEN');
    expect(codeOf(await q({ period: '2026-11' }, (await createApiKey(a, ['ADMIN'])).secret))).toBe('FORBIDDEN');
    const token = await platformToken();
    const r = await q({ period: 'November' }, token);
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.body.errors![0]!.extensions!.field).toBe('period');
    const cursor = btoa('2026-10|x').replace(/=+$/, '');
    expect(codeOf(await q({ period: '2026-11', after: cursor }, token))).toBe('BAD_USER_INPUT');
  });
});
