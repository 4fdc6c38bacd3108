/**
 * Configuration errors are loud and specific (issue 10): a missing or bad secret or var, or
 * a database whose migrations are not applied, answers 503 naming the setting and the fix
 * on /healthz and on /graphql, never a masked 500; the log keeps the driver's cause and the
 * tenant id. The Worker runs with a changed env (worker-with.ts), as it would start.
 */
import { env, SELF } from 'cloudflare:test';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger, errorDetail } from '../../src/lib/log';
import { createTenant, signToken } from '../helpers';
import { workerWith, type Fetch } from './worker-with';

const post = (fetchFn: Fetch, query: string, token?: string) =>
  fetchFn('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
  });
const healthz = (fetchFn: Fetch, token?: string) =>
  fetchFn('http://localhost/healthz', token ? { headers: { authorization: `Bearer ${token}` } } : {});

/** JSON log lines written while `run` runs (console.* are the Workers Logs sink). */
async function logsOf<T>(run: () => Promise<T>): Promise<{ result: T; lines: Record<string, any>[] }> {
  const lines: Record<string, any>[] = [];
  const keep = (...args: unknown[]) => {
    try {
      lines.push(JSON.parse(String(args[0])));
    } catch {
      // not one of ours
    }
  };
  for (const level of ['log', 'warn', 'error'] as const) vi.spyOn(console, level).mockImplementation(keep);
  try {
    return { result: await run(), lines };
  } finally {
    vi.restoreAllMocks();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('a missing JWT_SECRET', () => {
  const noSecret = workerWith({ JWT_SECRET: '', JWKS_URL: '' });

  it('/healthz answers 503 naming it and how to fix it', async () => {
    const res = await healthz(noSecret);
    expect(res.status).toBe(503);
    const body = await res.json<any>();
    expect(body).toMatchObject({ status: 'misconfigured', setting: 'JWT_SECRET', problem: expect.stringMatching(/^JWT_SECRET is not set/) });
    expect(body.fix).toContain('copy .dev.vars.example to .dev.vars (or run npm run dev)');
    expect(body.fix).toContain('wrangler secret put JWT_SECRET');
  });

  it('/graphql answers 503 UPSTREAM_UNAVAILABLE with the setting and the fix, and logs it with the request id', async () => {
    const t = await createTenant();
    const { result: res, lines } = await logsOf(() => post(noSecret, '{ viewer { role } }', t.token));
    expect(res.status).toBe(503);
    const requestId = res.headers.get('x-request-id');
    const [error] = (await res.json<any>()).errors;
    expect(error.message).toMatch(/^The service is misconfigured: JWT_SECRET is not set .*Fix: locally, copy \.dev\.vars\.example to \.dev\.vars/);
    expect(error.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', reason: 'misconfigured', setting: 'JWT_SECRET', requestId });
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', msg: 'configuration error', setting: 'JWT_SECRET', requestId }));
  });

  it('in production GraphQL only says the service is misconfigured, with the request id; /healthz still names it', async () => {
    const prod = workerWith({ JWT_SECRET: '', JWKS_URL: '', ENVIRONMENT: 'production' });
    const res = await post(prod, '{ viewer { role } }');
    expect(res.status).toBe(503);
    const requestId = res.headers.get('x-request-id')!;
    const text = await res.text();
    const [error] = JSON.parse(text).errors;
    expect(error.message).toContain('The service is misconfigured');
    expect(error.message).toContain(requestId);
    expect(error.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', reason: 'misconfigured', requestId });
    expect(text).not.toContain('JWT_SECRET');
    expect(await (await healthz(prod)).json()).toMatchObject({ status: 'misconfigured', setting: 'JWT_SECRET' });
  });

  it('a browser opening GraphiQL gets the same 503 instead of a page or a 500', async () => {
    const res = await noSecret('http://localhost/graphql', { headers: { accept: 'text/html' } });
    expect(res.status).toBe(503);
    expect((await res.json<any>()).errors[0].extensions.setting).toBe('JWT_SECRET');
  });
});

describe('other bad settings', () => {
  it.each([
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET', /at least 32 bytes/, /wrangler secret put JWT_SECRET/],
    [{ EMBEDDING_DIMENSIONS: 'abc' }, 'EMBEDDING_DIMENSIONS', /EMBEDDING_DIMENSIONS must be an integer/, /wrangler\.toml \[vars\]/],
    [{ ENVIRONMENT: 'staging' }, 'ENVIRONMENT', /development, test or production/, /wrangler\.toml \[vars\]/],
    [{ VECTOR_BACKEND: 'vectorize' }, 'VECTORIZE', /needs the VECTORIZE binding/, /VECTOR_BACKEND=local/],
  ])('%o: /healthz and /graphql name %s', async (overrides, setting, problem, fix) => {
    const fetchFn = workerWith(overrides);
    const health = await healthz(fetchFn);
    expect(health.status).toBe(503);
    const body = await health.json<any>();
    expect(body).toMatchObject({ status: 'misconfigured', setting });
    expect(body.problem).toMatch(problem);
    expect(body.fix).toMatch(fix);
    const { result: res } = await logsOf(() => post(fetchFn, '{ viewer { role } }'));
    expect(res.status).toBe(503);
    // ENVIRONMENT=staging is not development or test, so GraphQL answers it the production way (no setting named).
    expect((await res.json<any>()).errors[0].extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', reason: 'misconfigured' });
  });

  it('a missing binding is named too', async () => {
    const res = await healthz(workerWith({ INGEST_QUEUE: undefined }));
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'misconfigured', setting: 'INGEST_QUEUE', problem: 'the INGEST_QUEUE binding is missing' });
  });
});

describe('local migrations not applied', () => {
  const unmigrated = workerWith({ DB: env.UNMIGRATED_DB });

  it('/healthz says so and gives the command', async () => {
    const res = await healthz(unmigrated);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: 'misconfigured',
      setting: 'DB',
      problem: 'the database has no migrations applied',
      fix: expect.stringContaining('npx wrangler d1 migrations apply DB --local'),
    });
  });

  it('/graphql says so with the command, and the log keeps the driver error drizzle wrapped', async () => {
    const t = await createTenant();
    const { result: res, lines } = await logsOf(() => post(unmigrated, '{ viewer { role } }', t.token));
    expect(res.status).toBe(503);
    const [error] = (await res.json<any>()).errors;
    expect(error.message).toContain('no such table: tenants');
    expect(error.message).toContain('npx wrangler d1 migrations apply DB --local');
    expect(error.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', reason: 'misconfigured', setting: 'DB' });
    const logged = lines.find((l) => l.msg === 'configuration error');
    expect(logged?.error).toMatch(/^Failed query: select/);
    expect(logged?.causes?.join(' ')).toContain('no such table: tenants');
  });
});

/** Runs these migrations' statements (minus `skip`) on `db` and records them as applied, as wrangler does. */
async function migrate(db: D1Database, migrations: typeof env.TEST_MIGRATIONS, skip?: RegExp) {
  if (await db.prepare("SELECT name FROM sqlite_master WHERE name = 'd1_migrations'").first()) return;
  const queries = migrations.flatMap((m) => m.queries).filter((q) => !skip?.test(q));
  await db.batch([
    ...queries.map((q) => db.prepare(q)),
    db.prepare('CREATE TABLE d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)'),
    ...migrations.map((m) => db.prepare('INSERT INTO d1_migrations (name) VALUES (?)').bind(m.name)),
  ]);
}

describe('a database whose later migrations are not applied', () => {
  const behind = workerWith({ DB: env.BEHIND_DB });
  beforeAll(() => migrate(env.BEHIND_DB, env.TEST_MIGRATIONS.slice(0, 1)));

  it('/healthz names the schema version it is at, the one the code needs, and the command', async () => {
    const res = await healthz(behind);
    expect(res.status).toBe(503);
    const body = await res.json<any>();
    expect(body).toMatchObject({ status: 'misconfigured', setting: 'DB', fix: expect.stringContaining('npx wrangler d1 migrations apply DB --local') });
    expect(body.problem).toMatch(/^the database is at schema version 1 \(0001_init\.sql\) and this code needs \d+: later migrations are not applied$/);
  });
});

describe('a table missing although its migration is recorded (dropped by hand, a half-applied migration)', () => {
  let tenantId: string;
  beforeAll(async () => {
    // Every migration but the collections table: the request authenticates, is admitted and
    // passes the placement's schema-version check, then a resolver reads a missing table.
    await migrate(env.PARTLY_MIGRATED_DB, env.TEST_MIGRATIONS, /CREATE TABLE collections\b|\bON collections\b/i);
    tenantId = crypto.randomUUID();
    await env.PARTLY_MIGRATED_DB.prepare("INSERT INTO tenants (id, slug, name, plan, status) VALUES (?, ?, 'Partly', 'pro', 'active')")
      .bind(tenantId, `partly${tenantId.slice(0, 8)}`)
      .run();
  });

  it.each([
    ['test', true],
    ['production', false],
  ])('a resolver hitting a missing table answers 503 (%s), and every log line of the request names the tenant', async (environment, detailed) => {
    const fetchFn = workerWith({ DB: env.PARTLY_MIGRATED_DB, GUARD_ENABLED: 'false', ENVIRONMENT: environment });
    const token = await signToken({ tenant_id: tenantId, role: 'admin' });
    const { result: res, lines } = await logsOf(() => post(fetchFn, '{ collections(first: 1) { edges { node { id } } } }', token));
    expect(res.status).toBe(503);
    const requestId = res.headers.get('x-request-id');
    const [error] = (await res.json<any>()).errors;
    expect(error.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', reason: 'misconfigured', requestId });
    if (detailed) expect(error.message).toMatch(/the database schema is behind the code \(no such table: collections\).*npx wrangler d1 migrations apply DB --local/);
    else expect(error.message).not.toMatch(/no such table/);
    const mine = lines.filter((l) => l.requestId === requestId);
    expect(mine.length).toBeGreaterThan(0);
    for (const line of mine) expect(line.tenantId, JSON.stringify(line)).toBe(tenantId);
    expect(mine.some((l) => (l.causes ?? []).join(' ').includes('no such table'))).toBe(true);
  });
});

describe('/healthz', () => {
  it('tells an unauthenticated caller only the status', async () => {
    const res = await SELF.fetch('http://localhost/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('gives details for HEALTHZ_TOKEN and platform admins only', async () => {
    const t = await createTenant();
    const platform = await signToken({ platform_admin: true, role: 'owner' }, { sub: 'operator' });
    for (const token of [env.HEALTHZ_TOKEN, platform]) {
      const body = await (await SELF.fetch('http://localhost/healthz', { headers: { authorization: `Bearer ${token}` } })).json<any>();
      expect(body).toMatchObject({ status: 'ok', environment: 'test', d1: { reachable: true, latestMigration: expect.stringMatching(/^\d{4}_\w+\.sql$/) } });
      expect(Object.values(body.bindings).every(Boolean)).toBe(true);
    }
    for (const token of [t.token, `${env.HEALTHZ_TOKEN}x`, 'not-a-token']) {
      expect(await (await SELF.fetch('http://localhost/healthz', { headers: { authorization: `Bearer ${token}` } })).json()).toEqual({ status: 'ok' });
    }
  });
});

describe('logs', () => {
  it('carry the cause chain and the fields a request adds', () => {
    const err = new Error('Failed query: select 1', { cause: new Error('D1_ERROR: no such table: x', { cause: 'SQLITE_ERROR' }) });
    expect(errorDetail(err)).toMatchObject({ error: 'Failed query: select 1', causes: ['Error: D1_ERROR: no such table: x', 'SQLITE_ERROR'] });
    expect(errorDetail(new Error('alone'))).not.toHaveProperty('causes');
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((l: string) => void lines.push(l));
    createLogger('req-1').with({ tenantId: 't-1' }).info('hello', { n: 1 });
    expect(JSON.parse(lines[0]!)).toEqual({ level: 'info', msg: 'hello', requestId: 'req-1', tenantId: 't-1', n: 1 });
  });
});
