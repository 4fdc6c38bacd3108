/**
 * TenantGuard unit tests inside its Durable Object (runInDurableObject): bucket and quota
 * logic, month rollover, persistence across eviction, and the idempotent D1 flush.
 */
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PLANS, type PlanLimits } from '../../src/env';
import { guardClient } from '../../src/objects/guard-client';
import type { TenantGuard } from '../../src/objects/tenant-guard';
import { guardStub, MID_JANUARY, usageRow } from './guard-helpers';

const limits = (over: Partial<PlanLimits> = {}): PlanLimits => ({ ...DEFAULT_PLANS.pro, ...over });

/** A fresh guard (its own tenant id) with its clock frozen at `at`, and a way to run code inside it. */
async function freshGuard(at = MID_JANUARY) {
  const tenantId = crypto.randomUUID();
  const stub = guardStub(tenantId);
  let now = at;
  const inside = <R>(fn: (g: TenantGuard, state: DurableObjectState) => R | Promise<R>) =>
    runInDurableObject(stub, (g: TenantGuard, state) => {
      g.clock = () => now;
      return fn(g, state);
    });
  return {
    tenantId,
    stub,
    inside,
    /** Moves the guard's clock (applies at the next `inside`). */
    setNow: (ms: number) => {
      now = ms;
    },
  };
}

describe('token buckets', () => {
  it('consumes one token per admitted request and reports the fullest-drained policy', async () => {
    const { tenantId, inside } = await freshGuard();
    const results = await inside(async (g) => {
      const out = [];
      for (let i = 0; i < 4; i++) out.push(await g.admit(tenantId, { limits: limits({ requestsPerMinute: 3, monthlyRequests: null }) }));
      return out;
    });
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results.map((r) => r.remaining)).toEqual([2, 1, 0, 0]);
    expect(results[3]).toMatchObject({ reason: 'rate', policy: 'tenant', limit: 3, retryAfterSeconds: 20 });
    // No monthly policy when the monthly quota is unlimited.
    expect(results[0]!.policies!.map((p) => p.name)).toEqual(['tenant']);
  });

  it('refusing one bucket consumes none of the others', async () => {
    const { tenantId, inside } = await freshGuard();
    const l = limits({ requestsPerMinute: 10, userRequestsPerMinute: 1 });
    const [first, second, other] = await inside(async (g) => [
      await g.admit(tenantId, { limits: l, userId: 'u1' }),
      await g.admit(tenantId, { limits: l, userId: 'u1' }),
      await g.admit(tenantId, { limits: l, userId: 'u2' }),
    ]);
    expect(first!.allowed).toBe(true);
    expect(second).toMatchObject({ allowed: false, reason: 'rate', policy: 'user', retryAfterSeconds: 60 });
    expect(second!.policies!.find((p) => p.name === 'tenant')!.remaining).toBe(9);
    // u2's request is the second to reach the tenant bucket, not the third.
    expect(other!.policies!.find((p) => p.name === 'tenant')!.remaining).toBe(8);
    expect(await inside((g) => g.usage(tenantId))).toMatchObject({ requests: 2, rateLimited: 1 });
  });

  it('keys its API-key bucket by key id and waits for the slowest blocked bucket', async () => {
    const { tenantId, inside } = await freshGuard();
    const l = limits({ requestsPerMinute: 2 });
    const rs = await inside(async (g) => [
      await g.admit(tenantId, { limits: l, apiKey: { id: 'k1', perMinute: 1 } }),
      await g.admit(tenantId, { limits: l, apiKey: { id: 'k2', perMinute: 1 } }),
      // Both the tenant (2/min: 30 s per token) and k1 (1/min: 60 s) are empty.
      await g.admit(tenantId, { limits: l, apiKey: { id: 'k1', perMinute: 1 } }),
    ]);
    expect(rs.map((r) => r.allowed)).toEqual([true, true, false]);
    expect(rs[2]).toMatchObject({ policy: 'key', retryAfterSeconds: 60 });
  });

  it('refills linearly with the clock, caps at the capacity, and follows a changed capacity', async () => {
    const { tenantId, inside, setNow } = await freshGuard();
    const admit = (perMinute: number) => inside((g) => g.admit(tenantId, { limits: limits({ requestsPerMinute: perMinute }) }));
    for (let i = 0; i < 6; i++) await admit(6);
    expect((await admit(6)).allowed).toBe(false);
    setNow(MID_JANUARY + 25_000); // 2.5 tokens at 6/min
    expect((await admit(6)).remaining).toBe(1);
    expect((await admit(6)).remaining).toBe(0);
    expect((await admit(6)).allowed).toBe(false);
    setNow(MID_JANUARY + 10 * 60_000);
    expect((await admit(6)).remaining).toBe(5);
    // An override that lowers the rate takes effect at once: the bucket is clamped to it.
    expect((await admit(2)).remaining).toBe(1);
    // A clock that goes back neither drains nor mints tokens.
    setNow(MID_JANUARY);
    expect((await admit(2)).remaining).toBe(0);
  });

  it('fails closed on malformed limits and on a guard addressed with another tenant id', async () => {
    const { tenantId, inside } = await freshGuard();
    await expect(inside((g) => g.admit(tenantId, { limits: limits({ requestsPerMinute: 0 }) }))).rejects.toThrow(/requestsPerMinute/);
    await expect(inside((g) => g.admit(tenantId, { limits: limits({ monthlyRequests: -1 }) }))).rejects.toThrow(/monthlyRequests/);
    await expect(inside((g) => g.admit(tenantId, { limits: { ...limits(), monthlyRequests: undefined as never } }))).rejects.toThrow(/monthlyRequests/);
    await expect(inside((g) => g.admit('someone-else', { limits: limits() }))).rejects.toThrow(/different tenant/);
    expect(await inside((g) => g.usage(tenantId))).toMatchObject({ requests: 0 });
  });
});

describe('quotas', () => {
  it('checks without consuming, consumes atomically, and treats null as unlimited', async () => {
    const { tenantId, inside } = await freshGuard();
    const l = limits({ monthlyAsks: 2, documents: null });
    const out = await inside(async (g) => ({
      check: await g.checkQuota(tenantId, l, 'asks', 2),
      tooMuch: await g.checkQuota(tenantId, l, 'asks', 3),
      c1: await g.consume(tenantId, l, 'asks', 1),
      c2: await g.consume(tenantId, l, 'asks', 1),
      c3: await g.consume(tenantId, l, 'asks', 1),
      unlimited: await g.consume(tenantId, l, 'documents', 1_000_000),
      usage: await g.usage(tenantId),
    }));
    expect(out.check).toMatchObject({ ok: true, limit: 2, used: 0 });
    expect(out.tooMuch).toMatchObject({ ok: false, limit: 2, used: 0 });
    expect([out.c1.ok, out.c2.ok, out.c3.ok]).toEqual([true, true, false]);
    // Monthly quotas retry at the next month (MID_JANUARY -> Feb 1 = 16.5 days); standing ones after an hour.
    expect(out.c3.retryAfterSeconds).toBe(16 * 86_400 + 12 * 3_600);
    expect(out.unlimited).toMatchObject({ ok: true, limit: null });
    expect(out.usage).toMatchObject({ asks: 2, documents: 1_000_000 });
  });

  it('records deltas exactly; standing totals go down on deletion and never below zero', async () => {
    const { tenantId, inside } = await freshGuard();
    const usage = await inside(async (g) => {
      await Promise.all(Array.from({ length: 50 }, () => g.record(tenantId, { embeddingTokens: 7, documents: 1, storedBytes: 1000 })));
      await g.record(tenantId, { documents: -10, storedBytes: -10_000, completionTokens: 3, promptTokens: 11, asks: 1 });
      return g.usage(tenantId);
    });
    expect(usage).toMatchObject({ embeddingTokens: 350, documents: 40, storedBytes: 40_000, completionTokens: 3, promptTokens: 11, asks: 1 });
    const after = await inside(async (g) => {
      await g.record(tenantId, { documents: -100 });
      return g.usage(tenantId);
    });
    expect(after.documents).toBe(0);
    await expect(inside((g) => g.record(tenantId, { rateLimited: 5 } as never))).rejects.toThrow(/unknown usage counter/);
    await expect(inside((g) => g.record(tenantId, { asks: Number.NaN }))).rejects.toThrow(/finite/);
  });

  it('rolls over at the UTC month boundary: monthly counters reset, documents and bytes carry over', async () => {
    const { tenantId, inside, setNow } = await freshGuard(Date.UTC(2026, 0, 31, 23, 59, 59, 999));
    const l = limits({ monthlyRequests: 2 });
    await inside(async (g) => {
      await g.admit(tenantId, { limits: l });
      await g.admit(tenantId, { limits: l });
      expect((await g.admit(tenantId, { limits: l })).reason).toBe('quota');
      await g.record(tenantId, { asks: 4, embeddingTokens: 100, documents: 3, storedBytes: 3_000 });
    });
    setNow(Date.UTC(2026, 1, 1, 0, 0, 0, 0));
    const feb = await inside(async (g) => {
      const admitted = await g.admit(tenantId, { limits: l });
      return { admitted, usage: await g.usage(tenantId) };
    });
    expect(feb.admitted.allowed).toBe(true);
    expect(feb.usage).toEqual({
      period: '2026-02', requests: 1, asks: 0, embeddingTokens: 0, completionTokens: 0, promptTokens: 0,
      documents: 3, storedBytes: 3_000, rateLimited: 0,
    });
    // The closed month is flushed to D1 in full and then dropped from the object.
    await inside((g) => g.flush());
    expect(await usageRow(tenantId, '2026-01')).toMatchObject({ requests: 2, rate_limited: 1, asks: 4, embedding_tokens: 100, documents: 3, stored_bytes: 3_000 });
    expect(await usageRow(tenantId, '2026-02')).toMatchObject({ requests: 1, asks: 0, documents: 3, stored_bytes: 3_000 });
    const rows = await inside((_g, state) => state.storage.sql.exec('SELECT period FROM periods').toArray());
    expect(rows).toEqual([{ period: '2026-02' }]);
  });

  it('is reached through guardClient: ensureQuota/consume throw QUOTA_EXCEEDED with retryAfter', async () => {
    const { tenantId, inside } = await freshGuard();
    await inside(() => undefined); // freeze the clock
    const guard = guardClient(env.TENANT_GUARD, tenantId);
    const l = limits({ monthlyCompletionTokens: 100, documents: 1 });
    await guard.ensureQuota(l, 'completionTokens', 100);
    await guard.record({ completionTokens: 60 });
    const err = await guard.ensureQuota(l, 'completionTokens', 41).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'QUOTA_EXCEEDED', extensions: { quota: 'completionTokens', limit: 100, used: 60, retryAfter: 16 * 86_400 + 12 * 3_600 } });
    await guard.consume(l, 'documents', 1);
    const doc = await guard.consume(l, 'documents', 1).catch((e: unknown) => e);
    expect(doc).toMatchObject({ code: 'QUOTA_EXCEEDED', extensions: { quota: 'documents', retryAfter: 3_600 } });
    expect(await guard.usage()).toMatchObject({ completionTokens: 60, documents: 1 });
    await expect(guard.record({ asks: Number.POSITIVE_INFINITY })).rejects.toThrow(TypeError);
  });
});

describe('persistence and flushing', () => {
  it('keeps buckets and counters across eviction (SQLite storage)', async () => {
    const { tenantId, stub, inside } = await freshGuard();
    const l = limits({ requestsPerMinute: 3 });
    await inside(async (g) => {
      await g.admit(tenantId, { limits: l });
      await g.admit(tenantId, { limits: l });
      await g.record(tenantId, { documents: 2 });
    });
    await evictDurableObject(stub);
    const r = await inside(async (g) => ({ admit: await g.admit(tenantId, { limits: l }), usage: await g.usage(tenantId) }));
    expect(r.admit.remaining).toBe(0);
    expect(r.usage).toMatchObject({ requests: 3, documents: 2 });
  });

  it('flushes on the alarm with absolute values: running it again, or after a crash, never double-counts', async () => {
    const { tenantId, stub, inside } = await freshGuard();
    await inside(async (g) => {
      for (let i = 0; i < 3; i++) await g.admit(tenantId, { limits: limits() });
      await g.record(tenantId, { embeddingTokens: 42, documents: 2 });
    });
    expect(await usageRow(tenantId, '2026-01')).toBeNull();
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const expected = { tenant_id: tenantId, period: '2026-01', requests: 3, embedding_tokens: 42, documents: 2, rate_limited: 0 };
    expect(await usageRow(tenantId, '2026-01')).toMatchObject(expected);

    // Clean: no alarm left, and a forced run writes the same figures.
    expect(await runDurableObjectAlarm(stub)).toBe(false);
    await inside((g) => g.alarm());
    expect(await usageRow(tenantId, '2026-01')).toMatchObject(expected);

    // Crash after D1 accepted the write but before the object noted it: the retry rewrites, not adds.
    await inside((_g, state) => state.storage.sql.exec('UPDATE periods SET flushed = 0'));
    await evictDurableObject(stub);
    // Reloading (with the clock frozen again) finds dirty figures with no alarm and schedules one.
    expect(await inside((_g, state) => state.storage.getAlarm())).not.toBeNull();
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await usageRow(tenantId, '2026-01')).toMatchObject(expected);

    // New usage after a flush is flushed on the next alarm, as the new absolute value.
    await inside((g) => g.record(tenantId, { embeddingTokens: 8 }));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await usageRow(tenantId, '2026-01')).toMatchObject({ ...expected, embedding_tokens: 50 });
  });

  it('schedules the flush within a minute of the first change', async () => {
    const { tenantId, stub, inside } = await freshGuard();
    expect(await inside((_g, state) => state.storage.getAlarm())).toBeNull();
    const before = Date.now();
    await inside((g) => g.record(tenantId, { asks: 1 }));
    const at = await inside((_g, state) => state.storage.getAlarm());
    expect(at).not.toBeNull();
    expect(at! - before).toBeLessThanOrEqual(60_000);
    await runDurableObjectAlarm(stub);
  });

  it("writes only its own tenant's row", async () => {
    const a = await freshGuard();
    const b = await freshGuard();
    await a.inside((g) => g.record(a.tenantId, { asks: 5 }));
    await b.inside((g) => g.record(b.tenantId, { asks: 1 }));
    await runDurableObjectAlarm(a.stub);
    await runDurableObjectAlarm(b.stub);
    expect(await usageRow(a.tenantId, '2026-01')).toMatchObject({ asks: 5 });
    expect(await usageRow(b.tenantId, '2026-01')).toMatchObject({ asks: 1 });
  });
});
