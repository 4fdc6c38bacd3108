/**
 * Admission through the real Worker: token buckets per tenant, API key and user, the
 * monthly request quota, headers and extensions, isolation between tenants, fail-closed.
 * The guard's clock is frozen (setClock) so bursts see no refill and refill is exact.
 */
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { TenantGuard } from '../../src/objects/tenant-guard';
import { codeOf, createApiKey, createTenant, gql, type GqlResult } from '../helpers';
import { guardStub, MID_JANUARY, setClock, VIEWER } from './guard-helpers';

const burst = (n: number, token: string, query = VIEWER) => Promise.all(Array.from({ length: n }, () => gql(query, {}, { token })));
const admitted = (rs: GqlResult[]) => rs.filter((r) => r.status === 200 && !r.body.errors);
const refused = (rs: GqlResult[]) => rs.filter((r) => r.status === 429);

describe('tenant bucket', () => {
  it('admits exactly L of N concurrent requests and refuses N-L with Retry-After', async () => {
    const t = await createTenant({ limits: { requestsPerMinute: 5 } });
    await setClock(t.id, MID_JANUARY);
    const rs = await burst(23, t.token);
    expect(admitted(rs)).toHaveLength(5);
    const no = refused(rs);
    expect(no).toHaveLength(18);
    for (const r of no) {
      expect(codeOf(r)).toBe('RATE_LIMITED');
      // Empty bucket of 5/min: the next token is 12 s away.
      expect(r.headers.get('retry-after')).toBe('12');
      expect(r.body.errors![0]!.extensions!.retryAfter).toBe(12);
      expect(r.body.data).toBeUndefined();
      expect(r.body.extensions?.rateLimit).toMatchObject({ policy: 'tenant', limit: 5, remaining: 0, retryAfter: 12 });
    }
    // The admitted ones saw the bucket drain one by one.
    expect(admitted(rs).map((r) => r.body.extensions!.rateLimit.remaining).sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('refills with time (injected clock): one token per 60/L seconds, never above L', async () => {
    const t = await createTenant({ limits: { requestsPerMinute: 5 } });
    await setClock(t.id, MID_JANUARY);
    expect(admitted(await burst(5, t.token))).toHaveLength(5);
    expect((await gql(VIEWER, {}, { token: t.token })).status).toBe(429);

    await setClock(t.id, MID_JANUARY + 11_999);
    const early = await gql(VIEWER, {}, { token: t.token });
    expect(early.status).toBe(429);
    expect(early.headers.get('retry-after')).toBe('1');

    await setClock(t.id, MID_JANUARY + 12_000);
    expect(admitted(await burst(3, t.token))).toHaveLength(1);

    // A long pause refills to the capacity, not beyond it.
    await setClock(t.id, MID_JANUARY + 60 * 60_000);
    expect(admitted(await burst(8, t.token))).toHaveLength(5);
  });

  it("one tenant's burst never limits another tenant", async () => {
    const a = await createTenant({ limits: { requestsPerMinute: 3 } });
    const b = await createTenant({ limits: { requestsPerMinute: 3 } });
    await setClock(a.id, MID_JANUARY);
    await setClock(b.id, MID_JANUARY);
    const [ra, rb] = await Promise.all([burst(20, a.token), burst(3, b.token)]);
    expect(admitted(ra)).toHaveLength(3);
    expect(admitted(rb)).toHaveLength(3);
    expect(rb.map((r) => r.body.extensions!.rateLimit.limit)).toEqual([3, 3, 3]);
  });
});

describe('per-key and per-user buckets', () => {
  it('limits an API key by its rateLimitPerMinute without touching other keys or users', async () => {
    const t = await createTenant({ limits: { requestsPerMinute: 100 } });
    await setClock(t.id, MID_JANUARY);
    const slow = await createApiKey(t, ['SEARCH'], { rateLimitPerMinute: 2 });
    const other = await createApiKey(t, ['SEARCH'], { rateLimitPerMinute: 2 });
    const rs = await burst(6, slow.secret);
    expect(admitted(rs)).toHaveLength(2);
    for (const r of refused(rs)) {
      expect(codeOf(r)).toBe('RATE_LIMITED');
      expect(r.headers.get('retry-after')).toBe('30');
      expect(r.body.errors![0]!.extensions!.policy).toBe('key');
      expect(r.headers.get('ratelimit')).toMatch(/^"key";r=0;t=60/);
    }
    expect(admitted(await burst(2, other.secret))).toHaveLength(2);
    expect((await gql(VIEWER, {}, { token: t.token })).status).toBe(200);
  });

  it('limits each user by userRequestsPerMinute; other users of the tenant keep going', async () => {
    const t = await createTenant({ limits: { requestsPerMinute: 100, userRequestsPerMinute: 2 } });
    await setClock(t.id, MID_JANUARY);
    const alice = await t.tokenFor('member', 'alice');
    const bob = await t.tokenFor('member', 'bob');
    const rs = await burst(5, alice);
    expect(admitted(rs)).toHaveLength(2);
    expect(refused(rs).map((r) => r.body.errors![0]!.extensions!.policy)).toEqual(['user', 'user', 'user']);
    expect(admitted(await burst(2, bob))).toHaveLength(2);
    // Refusals consume nothing: the tenant bucket lost only the 4 admitted requests.
    const next = await gql(VIEWER, {}, { token: await t.tokenFor('member', 'carol') });
    expect(next.body.extensions!.rateLimit.policies.find((p: { policy: string }) => p.policy === 'tenant').remaining).toBe(95);
  });
});

describe('monthly request quota', () => {
  it('refuses with QUOTA_EXCEEDED 429 once the month is used up, until the next month', async () => {
    const t = await createTenant({ limits: { monthlyRequests: 3 } });
    const lastSecond = Date.UTC(2026, 0, 31, 23, 59, 59);
    await setClock(t.id, lastSecond);
    const rs = await burst(5, t.token);
    expect(admitted(rs)).toHaveLength(3);
    for (const r of refused(rs)) {
      expect(codeOf(r)).toBe('QUOTA_EXCEEDED');
      expect(r.body.errors![0]!.extensions!.quota).toBe('requests');
      expect(r.headers.get('retry-after')).toBe('1');
      expect(r.body.extensions!.rateLimit).toMatchObject({ policy: 'monthly', limit: 3, remaining: 0 });
    }
    await setClock(t.id, Date.UTC(2026, 1, 1, 0, 0, 0));
    expect(admitted(await burst(3, t.token))).toHaveLength(3);
  });
});

describe('headers and extensions', () => {
  it('puts RateLimit-Policy / RateLimit on every response and the same figures in extensions.rateLimit', async () => {
    const t = await createTenant({ limits: { requestsPerMinute: 10, monthlyRequests: 500 } });
    await setClock(t.id, MID_JANUARY);
    const ok = await gql(VIEWER, {}, { token: t.token });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('ratelimit-policy')).toBe(`"tenant";q=10;w=60, "user";q=1200;w=60, "monthly";q=500;w=${31 * 86_400}`);
    expect(ok.headers.get('ratelimit')).toBe(`"tenant";r=9;t=6, "user";r=1199;t=1, "monthly";r=499;t=${16 * 86_400 + 12 * 3_600}`);
    expect(ok.headers.get('retry-after')).toBeNull();
    expect(ok.body.extensions!.rateLimit).toEqual({
      policy: 'tenant', limit: 10, remaining: 9, resetSeconds: 6,
      policies: [
        { policy: 'tenant', limit: 10, remaining: 9, resetSeconds: 6, windowSeconds: 60 },
        { policy: 'user', limit: 1200, remaining: 1199, resetSeconds: 1, windowSeconds: 60 },
        { policy: 'monthly', limit: 500, remaining: 499, resetSeconds: 16 * 86_400 + 12 * 3_600, windowSeconds: 31 * 86_400 },
      ],
    });

    // A resolver error (members needs admin) and a validation error both carry them too.
    const forbidden = await gql('{ members { userId } }', {}, { token: await t.tokenFor('viewer') });
    expect(codeOf(forbidden)).toBe('FORBIDDEN');
    expect(forbidden.headers.get('ratelimit')).toMatch(/^"tenant";r=8;/);
    expect(forbidden.body.extensions!.rateLimit.remaining).toBe(8);
    const invalid = await gql('{ noSuchField }', {}, { token: t.token });
    expect(codeOf(invalid)).toBe('BAD_USER_INPUT');
    expect(invalid.headers.get('ratelimit')).toMatch(/^"tenant";r=7;/);
    expect(invalid.body.extensions!.rateLimit.remaining).toBe(7);
  });

  it('gives a QUOTA_EXCEEDED raised inside a resolver a Retry-After header', async () => {
    // createCollection enforces the plan's collection count (free: 1) in its repository.
    const t = await createTenant({ plan: 'free' });
    const create = 'mutation($n: String!) { createCollection(input: { name: $n }) { id } }';
    expect((await gql(create, { n: 'one' }, { token: t.token })).status).toBe(200);
    const over = await gql(create, { n: 'two' }, { token: t.token });
    expect(over.status).toBe(429);
    expect(codeOf(over)).toBe('QUOTA_EXCEEDED');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(over.headers.get('ratelimit-policy')).toContain('"tenant";q=60;w=60');
  });
});

describe('fail closed', () => {
  it('refuses with UPSTREAM_UNAVAILABLE 503 when the guard throws, and admits again once it recovers', async () => {
    const t = await createTenant();
    await runInDurableObject(guardStub(t.id), (g: TenantGuard) => {
      g.clock = () => {
        throw new Error('clock failure inside the guard');
      };
    });
    const r = await gql(VIEWER, {}, { token: t.token });
    expect(r.status).toBe(503);
    expect(codeOf(r)).toBe('UPSTREAM_UNAVAILABLE');
    expect(r.body.data).toBeUndefined();
    expect(r.headers.get('ratelimit')).toBeNull();
    await setClock(t.id, MID_JANUARY);
    expect((await gql(VIEWER, {}, { token: t.token })).status).toBe(200);
  });

  it('refuses every request of a tenant whose limits are malformed instead of guessing a limit', async () => {
    const t = await createTenant({ limits: { requestsPerMinute: 'lots' } });
    const rs = await burst(3, t.token);
    expect(rs.map((r) => [r.status, codeOf(r)])).toEqual(Array(3).fill([503, 'UPSTREAM_UNAVAILABLE']));
  });
});
