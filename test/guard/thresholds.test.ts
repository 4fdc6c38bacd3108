/**
 * quota.threshold bookkeeping inside the TenantGuard (docs/guard.md "Webhooks"): a monthly
 * quota's counter reaching 80 % and 100 % of its limit is noted once per month and quota, in
 * the same event as the change (no I/O on that path), and the alarm marks it sent once the
 * queue has it. Unlimited quotas and standing totals never signal.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PLANS, type PlanLimits } from '../../src/env';
import type { TenantGuard } from '../../src/objects/tenant-guard';
import { guardStub, MID_JANUARY } from './guard-helpers';

const limits = (over: Partial<PlanLimits> = {}): PlanLimits => ({ ...DEFAULT_PLANS.pro, ...over });
const FEBRUARY = Date.UTC(2026, 1, 10);

async function freshGuard() {
  const tenantId = crypto.randomUUID();
  const stub = guardStub(tenantId);
  let now = MID_JANUARY;
  const inside = <R>(fn: (g: TenantGuard, state: DurableObjectState) => R | Promise<R>) =>
    runInDurableObject(stub, (g: TenantGuard, state) => {
      g.clock = () => now;
      return fn(g, state);
    });
  const signals = () =>
    inside((_g, state) => state.storage.sql.exec<{ period: string; quota: string; percent: number; used: number; lim: number; sent: number }>(
      'SELECT period, quota, percent, used, lim, sent FROM thresholds ORDER BY period, quota, percent').toArray());
  return { tenantId, stub, inside, signals, setNow: (ms: number) => void (now = ms) };
}

describe('quota thresholds', () => {
  it('notes 80 % and 100 % once each, from reservations, settlements and admissions', async () => {
    const { tenantId, inside, signals } = await freshGuard();
    const l = limits({ monthlyCompletionTokens: 1000, monthlyRequests: 10, monthlyEmbeddingTokens: null });
    await inside((g) => g.reserve(tenantId, l, { completionTokens: 799, embeddingTokens: 10_000 }));
    expect(await signals()).toEqual([]);
    await inside((g) => g.reserve(tenantId, l, { completionTokens: 1 }));
    expect(await signals()).toEqual([{ period: '2026-01', quota: 'completionTokens', percent: 80, used: 800, lim: 1000, sent: 0 }]);
    // Down (a settlement gives tokens back) and up again: not noted twice.
    await inside((g) => g.record(tenantId, { completionTokens: -300 }));
    await inside((g) => g.record(tenantId, { completionTokens: 300 }));
    expect(await signals()).toHaveLength(1);
    // A settlement (record, no limits of its own) that reaches 100 % is judged by the last limits seen.
    await inside((g) => g.record(tenantId, { completionTokens: 200 }));
    for (let i = 0; i < 8; i++) await inside((g) => g.admit(tenantId, { limits: l }));
    expect((await signals()).map((s) => `${s.quota}:${s.percent}`)).toEqual(['completionTokens:80', 'completionTokens:100', 'requests:80']);
  });

  it('a jump past both notes both; the alarm sends them and marks them sent; a new month starts over', async () => {
    const { tenantId, stub, inside, signals, setNow } = await freshGuard();
    const l = limits({ monthlyAsks: 4 });
    await inside((g) => g.reserve(tenantId, l, { asks: 4, documents: 1_000 }));
    expect((await signals()).map((s) => [s.quota, s.percent, s.sent])).toEqual([['asks', 80, 0], ['asks', 100, 0]]);
    await runDurableObjectAlarm(stub);
    expect((await signals()).every((s) => s.sent === 1)).toBe(true);
    setNow(FEBRUARY);
    await inside((g) => g.reserve(tenantId, l, { asks: 4 }));
    expect((await signals()).filter((s) => s.period === '2026-02').map((s) => s.percent)).toEqual([80, 100]);
  });

  it('never notes an unlimited quota, a zero limit, or a standing total', async () => {
    const { tenantId, inside, signals } = await freshGuard();
    const l = limits({ monthlyAsks: null, monthlyPromptTokens: 0, documents: 1, storedBytes: 10 });
    await inside((g) => g.reserve(tenantId, l, { asks: 50 }));
    await inside((g) => g.record(tenantId, { promptTokens: 500 }));
    await inside((g) => g.consume(tenantId, l, 'documents', 1));
    await inside((g) => g.consume(tenantId, l, 'storedBytes', 10));
    expect(await signals()).toEqual([]);
  });
});
