/**
 * The edge hot path (DESIGN §5, docs/guard.md "The hot path"): a warm request that reads no
 * tenant data makes no D1 query and one TenantGuard call; everything that can change is
 * answered by the guard and applies on the very next request, whether this isolate's
 * directory is warm ("an isolate that saw the tenant before") or empty ("a fresh isolate");
 * an evicted guard rebuilds from D1 and stays exact.
 *
 * D1 is counted through the binding itself: the Worker runs here with a counted DB
 * (countingD1), and the guard counts its own statements (TenantGuard.d1).
 */
import { createExecutionContext, env, evictDurableObject, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { resetIsolateDirectory } from '../../src/auth/directory';
import worker from '../../src/index';
import { countingD1 } from '../../src/lib/d1-counter';
import type { TenantGuard } from '../../src/objects/tenant-guard';
import { codeOf, createApiKey, createTenant, gql, signToken, type TestTenant } from '../helpers';
import { guardStub, MID_JANUARY, setClock, VIEWER } from './guard-helpers';

const workerD1 = { queries: 0 };
/** Durable Object calls the Worker makes (every RPC method called on a TENANT_GUARD stub). */
const guardCalls = { n: 0 };
const countingGuards = new Proxy(env.TENANT_GUARD, {
  get(ns, prop) {
    const value = Reflect.get(ns, prop, ns) as unknown;
    if (prop !== 'get') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(ns) : value;
    return (...args: unknown[]) => {
      const stub = Reflect.apply(value as (...a: unknown[]) => object, ns, args);
      return new Proxy(stub, {
        get(s, method) {
          const f = Reflect.get(s, method, s) as unknown;
          if (typeof f !== 'function') return f;
          return (...a: unknown[]) => {
            guardCalls.n += 1;
            // Reflect.apply: an RPC method is a proxy, and `.apply` on it would be another RPC name.
            return Reflect.apply(f as (...x: unknown[]) => unknown, s, a);
          };
        },
      });
    };
  },
});
const countedEnv = { ...env, DB: countingD1(env.DB, workerD1), TENANT_GUARD: countingGuards } as typeof env;

interface Call {
  status: number;
  headers: Headers;
  body: { data?: any; errors?: { message: string; extensions?: Record<string, any> }[]; extensions?: Record<string, any> };
  /** D1 statements the Worker (not the guard) prepared for this request, waitUntil work included. */
  d1: number;
  /** Durable Object (TenantGuard) calls the Worker made for this request. */
  guardCalls: number;
}

/** One request through the Worker's fetch handler with the counted D1 binding. */
async function call(query: string, opts: { token?: string; host?: string; headers?: Record<string, string>; method?: string } = {}): Promise<Call> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const before = workerD1.queries;
  const callsBefore = guardCalls.n;
  const ctx = createExecutionContext();
  const method = opts.method ?? 'POST';
  const res = await worker.fetch!(
    new Request(`http://${opts.host ?? 'localhost'}/graphql`, { method, headers, body: method === 'POST' ? JSON.stringify({ query }) : undefined }) as Request<unknown, IncomingRequestCfProperties>,
    countedEnv,
    ctx,
  );
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : {}, d1: workerD1.queries - before, guardCalls: guardCalls.n - callsBefore };
}

const guardQueries = (tenantId: string) => runInDurableObject(guardStub(tenantId), (g: TenantGuard) => g.d1.queries);
const platformToken = () => signToken({ platform_admin: true, role: 'owner' }, { sub: 'operator' });
const updateTenant = async (id: string, input: Record<string, unknown>) => {
  const r = await gql('mutation($id: ID!, $input: UpdateTenantInput!) { updateTenant(id: $id, input: $input) { id } }', { id, input }, { token: await platformToken() });
  expect(r.body.errors).toBeUndefined();
};

/** Runs `check` twice: with this isolate's directory as it is (warm), and emptied (a fresh isolate's). */
async function inBothIsolates(check: () => Promise<void>): Promise<void> {
  await check();
  resetIsolateDirectory();
  await check();
}

describe('warm requests: no D1, one guard call', () => {
  it.each([
    ['JWT', async (t: TestTenant) => ({ token: t.token })],
    ['API key', async (t: TestTenant) => ({ token: (await createApiKey(t, ['SEARCH'])).secret })],
    ['tenant subdomain host', async (t: TestTenant) => ({ token: t.token, host: `${t.slug}.localhost` })],
    // A host that names no tenant (not a verified domain): the credential's tenant, and no lookup per request.
    ['unregistered custom host', async (t: TestTenant) => ({ token: t.token, host: `proxy-${t.slug}.example.net` })],
  ])('%s: { viewer { role } } makes 0 D1 queries once warm', async (_name, credential) => {
    const t = await createTenant();
    const opts = await credential(t);
    const cold = await call(VIEWER, opts);
    expect(cold.status).toBe(200);
    // Warm: the directory knows the names, the guard holds the record, bookkeeping is coalesced.
    const guardBefore = await guardQueries(t.id);
    for (let i = 0; i < 3; i++) {
      const warm = await call(VIEWER, opts);
      expect(warm.status).toBe(200);
      expect(warm.body.data.viewer.role).toBeTruthy();
      expect(warm.d1).toBe(0);
      expect(warm.guardCalls).toBe(1);
    }
    expect(await guardQueries(t.id)).toBe(guardBefore);
  });

  it('usage: 0 D1 queries and one guard call once warm; the figures include this request', async () => {
    const t = await createTenant();
    await call(VIEWER, { token: t.token });
    const guardBefore = await guardQueries(t.id);
    const r = await call('{ usage { requests requestLimit } }', { token: t.token });
    expect(r.body.data.usage).toEqual({ requests: 2, requestLimit: 100_000 });
    expect(r.d1).toBe(0);
    expect(r.guardCalls).toBe(1);
    expect(await guardQueries(t.id)).toBe(guardBefore);
  });

  it('a cold isolate asks D1 once per name, then never again for it', async () => {
    const t = await createTenant();
    const key = await createApiKey(t, ['SEARCH']);
    resetIsolateDirectory();
    expect((await call(VIEWER, { token: key.secret, host: `${t.slug}.localhost` })).d1).toBe(2); // key prefix + host slug
    expect((await call(VIEWER, { token: key.secret, host: `${t.slug}.localhost` })).d1).toBe(0);
  });
});

describe('changes apply on the next request, in a warm and in a fresh isolate', () => {
  it('suspension and cancellation', async () => {
    const t = await createTenant();
    expect((await call(VIEWER, { token: t.token })).status).toBe(200);
    await updateTenant(t.id, { status: 'SUSPENDED' });
    await inBothIsolates(async () => {
      const r = await call(VIEWER, { token: t.token, host: `${t.slug}.localhost` });
      expect(codeOf(r as never)).toBe('TENANT_SUSPENDED');
    });
    await updateTenant(t.id, { status: 'ACTIVE' });
    await inBothIsolates(async () => expect((await call(VIEWER, { token: t.token })).status).toBe(200));
    await updateTenant(t.id, { status: 'CANCELLED' });
    await inBothIsolates(async () => expect(codeOf((await call(VIEWER, { token: t.token })) as never)).toBe('TENANT_SUSPENDED'));
  });

  it('plan and limit changes: the tenant row and the buckets of the next request', async () => {
    const t = await createTenant({ plan: 'free' });
    const q = '{ viewer { tenant { plan } } }';
    expect((await call(q, { token: t.token })).headers.get('ratelimit-policy')).toContain('"tenant";q=60;');
    await updateTenant(t.id, { plan: 'PRO' });
    await inBothIsolates(async () => {
      const r = await call(q, { token: t.token });
      expect(r.body.data.viewer.tenant.plan).toBe('PRO');
      expect(r.headers.get('ratelimit-policy')).toContain('"tenant";q=1200;');
    });
    await updateTenant(t.id, { limits: { requestsPerMinute: 7 } });
    await inBothIsolates(async () => expect((await call(q, { token: t.token })).headers.get('ratelimit-policy')).toContain('"tenant";q=7;'));
  });

  it('key revocation', async () => {
    const [t, other] = [await createTenant(), await createTenant()];
    const key = await createApiKey(t, ['SEARCH']);
    const keep = await createApiKey(t, ['SEARCH']);
    const otherKey = await createApiKey(other, ['SEARCH']);
    for (const k of [key, keep, otherKey]) expect((await call(VIEWER, { token: k.secret })).status).toBe(200);
    const revoked = await gql('mutation($id: ID!) { revokeApiKey(id: $id) { revoked } }', { id: key.id }, { token: t.token });
    expect(revoked.body.data.revokeApiKey.revoked).toBe(true);
    await inBothIsolates(async () => {
      const r = await call(VIEWER, { token: key.secret });
      expect(r.status).toBe(401);
      expect(r.body.errors?.[0]?.message).toMatch(/revoked/);
      // The tenant's other key and the other tenant's key are untouched.
      expect((await call(VIEWER, { token: keep.secret })).status).toBe(200);
      expect((await call(VIEWER, { token: otherKey.secret })).status).toBe(200);
    });
  });

  it('key expiry, at the guard clock, with no D1 read', async () => {
    const t = await createTenant();
    const expiresAt = new Date(Date.now() + 60 * 60_000);
    const key = await createApiKey(t, ['SEARCH'], { expiresAt: expiresAt.toISOString() });
    expect((await call(VIEWER, { token: key.secret })).status).toBe(200);
    await setClock(t.id, expiresAt.getTime() - 1);
    expect((await call(VIEWER, { token: key.secret })).status).toBe(200);
    await setClock(t.id, expiresAt.getTime());
    await inBothIsolates(async () => {
      const r = await call(VIEWER, { token: key.secret });
      expect(r.status).toBe(401);
      expect(r.body.errors?.[0]?.message).toMatch(/expired/);
    });
  });

  it('allowed origin removal: CORS of the next request and the next preflight', async () => {
    const t = await createTenant();
    const origin = 'https://app.customer.example';
    const set = (allowedOrigins: string[]) =>
      gql('mutation($o: [String!]) { updateTenantSettings(input: { allowedOrigins: $o }) { id } }', { o: allowedOrigins }, { token: t.token });
    await set([origin]);
    const host = `${t.slug}.localhost`;
    const preflight = () => call('', { method: 'OPTIONS', host, headers: { origin, 'access-control-request-method': 'POST' } });
    expect((await call(VIEWER, { token: t.token, headers: { origin } })).headers.get('access-control-allow-origin')).toBe(origin);
    expect((await preflight()).status).toBe(204);
    await set([]);
    await inBothIsolates(async () => {
      expect((await call(VIEWER, { token: t.token, headers: { origin } })).headers.get('access-control-allow-origin')).toBeNull();
      expect((await preflight()).status).toBe(403);
    });
  });
});

describe('the guard is authoritative and fails closed', () => {
  it('a change whose commit never came: admission reads D1 for every request until it is committed', async () => {
    const t = await createTenant();
    expect((await call(VIEWER, { token: t.token })).status).toBe(200);
    // A mutation that told the guard, wrote D1, and died before commitChange.
    const token = await runInDurableObject(guardStub(t.id), (g: TenantGuard) => g.beginChange(t.id));
    await env.DB.prepare("UPDATE tenants SET status = 'suspended' WHERE id = ?").bind(t.id).run();
    const before = await guardQueries(t.id);
    expect(codeOf((await call(VIEWER, { token: t.token })) as never)).toBe('TENANT_SUSPENDED');
    expect(await guardQueries(t.id)).toBeGreaterThan(before);
    await env.DB.prepare("UPDATE tenants SET status = 'active' WHERE id = ?").bind(t.id).run();
    await runInDurableObject(guardStub(t.id), (g: TenantGuard) => g.commitChange(t.id, token));
    expect((await call(VIEWER, { token: t.token })).status).toBe(200);
  });

  it('an evicted guard rebuilds its record from D1 and its buckets stay exact', async () => {
    const t = await createTenant({ limits: { requestsPerMinute: 10 } });
    await setClock(t.id, MID_JANUARY);
    const ok = (rs: Call[]) => rs.filter((r) => r.status === 200).length;
    expect(ok(await Promise.all(Array.from({ length: 4 }, () => call(VIEWER, { token: t.token }))))).toBe(4);
    await env.DB.prepare('UPDATE tenants SET name = ? WHERE id = ?').bind('Renamed while evicted', t.id).run();
    await evictDurableObject(guardStub(t.id));
    await setClock(t.id, MID_JANUARY);
    const before = await guardQueries(t.id);
    const rs = await Promise.all(Array.from({ length: 12 }, () => call('{ viewer { tenant { name } } }', { token: t.token })));
    expect(ok(rs)).toBe(6);
    expect(rs.find((r) => r.status === 200)!.body.data.viewer.tenant.name).toBe('Renamed while evicted');
    // One record load for the whole burst (concurrent loads are shared).
    expect(await guardQueries(t.id)).toBe(before + 2);
  });

  it('a burst of 1,000 against a limit of 100 admits exactly 100, and usage counts exactly them', async () => {
    const t = await createTenant({ limits: { requestsPerMinute: 100, monthlyRequests: 100_000 } });
    await setClock(t.id, MID_JANUARY);
    const rs = await Promise.all(Array.from({ length: 1_000 }, () => gql(VIEWER, {}, { token: t.token })));
    expect(rs.filter((r) => r.status === 200 && !r.body.errors)).toHaveLength(100);
    expect(rs.filter((r) => r.status === 429)).toHaveLength(900);
    const usage = await runInDurableObject(guardStub(t.id), (g: TenantGuard) => g.usage(t.id));
    expect(usage).toMatchObject({ requests: 100, rateLimited: 900 });
    // 1,000 requests through workerd on a shared 2-core machine: more time than the default, never a retry.
  }, 90_000);
});

describe('bookkeeping coalesced in the guard', () => {
  it('a user seen once is a member; more requests in the window write nothing more; flushing twice changes nothing', async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    const mia = await a.tokenFor('member', 'mia');
    const row = () => env.DB.prepare('SELECT role, last_seen_at FROM memberships WHERE tenant_id = ? AND user_id = ?').bind(a.id, 'mia').first<{ role: string; last_seen_at: string }>();
    await call(VIEWER, { token: mia });
    // Nothing was written to D1 on the request path.
    expect(await row()).toBeNull();
    await runInDurableObject(guardStub(a.id), (g: TenantGuard) => g.flushActivity(a.id));
    const first = await row();
    expect(first).toMatchObject({ role: 'member' });
    for (let i = 0; i < 5; i++) await call(VIEWER, { token: mia });
    let before = await guardQueries(a.id);
    await runInDurableObject(guardStub(a.id), (g: TenantGuard) => g.flushActivity(a.id));
    // The usage upsert only: no membership statement for a user written within the window.
    expect(await guardQueries(a.id)).toBe(before + 1);
    before = await guardQueries(a.id);
    await runInDurableObject(guardStub(a.id), (g: TenantGuard) => g.flushActivity(a.id));
    expect(await guardQueries(a.id)).toBe(before);
    expect(await row()).toEqual(first);
    // A new role is written at the next flush.
    await call(VIEWER, { token: await a.tokenFor('admin', 'mia') });
    await runInDurableObject(guardStub(a.id), (g: TenantGuard) => g.flushActivity(a.id));
    expect((await row())!.role).toBe('admin');
    // members lists what the guard holds, and nothing of tenant b.
    await call(VIEWER, { token: await b.tokenFor('member', 'bruno') });
    const list = (await gql('{ members { userId role } }', {}, { token: a.token })).body.data.members;
    expect(list).toContainEqual({ userId: 'mia', role: 'ADMIN' });
    expect(list.map((m: { userId: string }) => m.userId)).not.toContain('bruno');
  });

  it('a key’s last use is written at the flush, and apiKeys shows it', async () => {
    const t = await createTenant();
    const key = await createApiKey(t, ['SEARCH']);
    await call(VIEWER, { token: key.secret });
    const stored = await env.DB.prepare('SELECT last_used_at FROM api_keys WHERE id = ?').bind(key.id).first<{ last_used_at: string | null }>();
    expect(stored!.last_used_at).toBeNull();
    const listed = (await gql('{ apiKeys { id lastUsedAt } }', {}, { token: t.token })).body.data.apiKeys;
    expect(listed.find((k: { id: string }) => k.id === key.id).lastUsedAt).not.toBeNull();
  });
});
