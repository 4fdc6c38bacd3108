/**
 * Per-agent usage inside the TenantGuard (runInDurableObject, clock moved by the test): one
 * record counts the tenant and the agent together, agents are counted apart, months roll over,
 * and only the current and previous month are kept.
 */
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { TenantGuard } from '../../src/objects/tenant-guard';
import { guardStub, MID_JANUARY, setClock } from '../guard/guard-helpers';

describe('TenantGuard: usage per agent', () => {
  it('counts asks and tokens per agent with the tenant totals, per month', async () => {
    const tenant = `agents-${crypto.randomUUID()}`;
    const g = guardStub(tenant);
    await setClock(tenant, MID_JANUARY);
    await g.record(tenant, { asks: 1, promptTokens: 100, completionTokens: 10 }, { agentId: 'a1' });
    await g.record(tenant, { asks: 1, promptTokens: 50, completionTokens: 5 }, { agentId: 'a1' });
    await g.record(tenant, { asks: 1, promptTokens: 7, completionTokens: 1 }, { agentId: 'a2' });
    await g.record(tenant, { asks: 1, promptTokens: 3, completionTokens: 3 });
    expect(await g.agentUsage(tenant, ['a1', 'a2', 'a3'])).toEqual([
      { agentId: 'a1', period: '2026-01', asks: 2, promptTokens: 150, completionTokens: 15 },
      { agentId: 'a2', period: '2026-01', asks: 1, promptTokens: 7, completionTokens: 1 },
      { agentId: 'a3', period: '2026-01', asks: 0, promptTokens: 0, completionTokens: 0 },
    ]);
    expect(await g.usage(tenant)).toMatchObject({ asks: 4, promptTokens: 160, completionTokens: 19 });

    // February starts at zero; January is kept one month, then dropped.
    await setClock(tenant, Date.UTC(2026, 1, 2));
    expect((await g.agentUsage(tenant, ['a1']))[0]).toMatchObject({ period: '2026-02', asks: 0 });
    await g.record(tenant, { asks: 1 }, { agentId: 'a1' });
    const periods = async () =>
      runInDurableObject(g, (_o: TenantGuard, state) => state.storage.sql.exec<{ period: string }>('SELECT DISTINCT period FROM agent_usage ORDER BY period').toArray().map((r) => r.period));
    expect(await periods()).toEqual(['2026-01', '2026-02']);
    await setClock(tenant, Date.UTC(2026, 2, 2));
    await g.record(tenant, { asks: 1 }, { agentId: 'a1' });
    expect(await periods()).toEqual(['2026-02', '2026-03']);
  });

  it('refuses a malformed agent id or list (the client sees UPSTREAM_UNAVAILABLE: fail closed)', async () => {
    const tenant = `agents-${crypto.randomUUID()}`;
    const g = guardStub(tenant);
    // Called on the instance: the client turns any throw into UPSTREAM_UNAVAILABLE (test/guard/client.test.ts).
    await runInDurableObject(g, async (o: TenantGuard) => {
      await expect(o.record(tenant, { asks: 1 }, { agentId: 42 as unknown as string })).rejects.toThrow(/agentId/);
      await expect(o.agentUsage(tenant, 'a1' as unknown as string[])).rejects.toThrow(/agentIds/);
      expect(await o.usage(tenant)).toMatchObject({ asks: 0 });
    });
  });
});
