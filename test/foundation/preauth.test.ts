/**
 * Unauthenticated floods (docs/guard.md "Before authentication"): names the isolate does not
 * know are looked up in D1 at most once per negative-cache window, and a client address may
 * make only PREAUTH_LIMITER's budget of such lookups; known keys and hosts spend nothing.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { resetIsolateDirectory } from '../../src/auth/directory';
import worker from '../../src/index';
import { countingD1 } from '../../src/lib/d1-counter';
import { createApiKey, createTenant } from '../helpers';

const d1 = { queries: 0 };
const countedEnv = { ...env, DB: countingD1(env.DB, d1) } as typeof env;
/** The limit in wrangler.toml `[[ratelimits]]` (per 60 s window, aligned to the wall clock). */
const LIMIT = 60;

async function call(opts: { token?: string; host?: string; ip?: string; method?: string; origin?: string }) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.ip) headers['cf-connecting-ip'] = opts.ip;
  if (opts.origin) headers.origin = opts.origin;
  const method = opts.method ?? 'POST';
  const ctx = createExecutionContext();
  const before = d1.queries;
  const res = await worker.fetch!(
    new Request(`http://${opts.host ?? 'localhost'}/graphql`, { method, headers, body: method === 'POST' ? JSON.stringify({ query: '{ viewer { role } }' }) : undefined }) as Request<unknown, IncomingRequestCfProperties>,
    countedEnv,
    ctx,
  );
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: text ? JSON.parse(text) : null, d1: d1.queries - before };
}

const randomKey = () => `erk_${Array.from({ length: 12 }, () => 'abcdefghijkmnpqrstuvwxyz23456789'[Math.floor(Math.random() * 32)]).join('')}_${'A'.repeat(43)}`;
const randomIp = () => `2001:db8::${crypto.randomUUID().slice(0, 4)}:${crypto.randomUUID().slice(0, 4)}`;

describe('negative cache', () => {
  it('an unknown key prefix or host costs D1 one lookup per window in an isolate, not one per request', async () => {
    resetIsolateDirectory();
    const key = randomKey();
    expect((await call({ token: key })).status).toBe(401);
    const again = await call({ token: key });
    expect(again.status).toBe(401);
    expect(again.body.errors[0].message).toBe('API key is invalid');
    expect(again.d1).toBe(0);

    const t = await createTenant();
    const host = `nosuch${Date.now().toString(36)}.localhost`;
    expect((await call({ token: t.token, host })).status).toBe(403);
    const hostAgain = await call({ token: t.token, host });
    expect(hostAgain.status).toBe(403);
    expect(hostAgain.d1).toBe(0);
  });
});

describe('pre-authentication limit per client address', () => {
  it('refuses a flood of random keys from one address after the budget, before any D1 lookup', async () => {
    const ip = randomIp();
    const n = 2 * LIMIT + 10;
    const rs = [];
    for (let i = 0; i < n; i++) rs.push(await call({ token: randomKey(), ip }));
    const limited = rs.filter((r) => r.status === 429);
    // Exact within one window; a burst that straddles the window boundary may get at most two budgets.
    expect(rs.filter((r) => r.status === 401).length).toBeLessThanOrEqual(2 * LIMIT);
    expect(limited.length).toBeGreaterThanOrEqual(n - 2 * LIMIT);
    for (const r of limited) {
      expect(r.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'preauth', retryAfter: 60 });
      expect(r.d1).toBe(0);
    }
    // Another address is not affected.
    expect((await call({ token: randomKey(), ip: randomIp() })).status).toBe(401);
  });

  it('known keys and hosts spend nothing: a limited address still gets in with a real credential', async () => {
    const t = await createTenant();
    const key = await createApiKey(t, ['SEARCH']);
    const ip = randomIp();
    // Warm the directory for this key and host (from another address).
    expect((await call({ token: key.secret, host: `${t.slug}.localhost` })).status).toBe(200);
    for (let i = 0; i < 2 * LIMIT + 1; i++) await call({ token: randomKey(), ip });
    expect((await call({ token: randomKey(), ip })).status).toBe(429);
    expect((await call({ token: key.secret, ip, host: `${t.slug}.localhost` })).status).toBe(200);
    expect((await call({ token: t.token, ip })).status).toBe(200);
  });

  it('guessed subdomains in preflights are limited the same way', async () => {
    const ip = randomIp();
    const rs = [];
    for (let i = 0; i < 2 * LIMIT + 5; i++) {
      rs.push(await call({ method: 'OPTIONS', ip, origin: 'https://evil.example', host: `guess${i}x${Date.now().toString(36)}.localhost` }));
    }
    expect(rs.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(5);
    expect(rs.filter((r) => r.status !== 429).every((r) => r.status === 403)).toBe(true);
  });
});
