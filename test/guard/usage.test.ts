/**
 * The `usage` query (live from the guard, with effective limits), `tenantUsage` for
 * platform admins, and per-tenant limit overrides through updateTenant.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { guardClient } from '../../src/objects/guard-client';
import { codeOf, createApiKey, createTenant, gql, signToken, twoTenants } from '../helpers';
import { MID_JANUARY, setClock, VIEWER } from './guard-helpers';

const USAGE = `{ usage { period resetsAt requests requestLimit rateLimited asks askLimit embeddingTokens embeddingTokenLimit
  promptTokens completionTokens completionTokenLimit documents documentLimit storedBytes storedBytesLimit requestsPerMinute userRequestsPerMinute } }`;
const TENANT_USAGE = 'query($id: ID!) { tenantUsage(tenantId: $id) { period requests asks documents requestLimit requestsPerMinute } }';
const UPDATE = 'mutation($id: ID!, $limits: TenantLimitsInput!) { updateTenant(id: $id, input: { limits: $limits }) { id } }';
const platformToken = () => signToken({ platform_admin: true, role: 'owner' }, { sub: 'operator' });

describe('usage', () => {
  it("returns this month's live figures with the effective limits; the other tenant's stay apart", async () => {
    const [a, b] = await twoTenants({ plan: 'starter', limits: { monthlyAsks: 7, storedBytes: null } });
    await setClock(a.id, MID_JANUARY);
    await setClock(b.id, MID_JANUARY);
    for (let i = 0; i < 3; i++) await gql(VIEWER, {}, { token: a.token });
    // Consumption reported by other features (ingestion, answers) through the same client.
    await guardClient(env.TENANT_GUARD, a.id).record({ asks: 2, embeddingTokens: 1_500, promptTokens: 300, completionTokens: 120, documents: 4, storedBytes: 5_000_000_000 });

    const ua = await gql(USAGE, {}, { token: a.token });
    expect(ua.body.errors).toBeUndefined();
    expect(ua.body.data.usage).toEqual({
      period: '2026-01', resetsAt: '2026-02-01T00:00:00.000Z',
      requests: 4, requestLimit: 10_000, rateLimited: 0,
      asks: 2, askLimit: 7,
      embeddingTokens: 1_500, embeddingTokenLimit: 10_000_000,
      promptTokens: 300, completionTokens: 120, completionTokenLimit: 2_000_000,
      documents: 4, documentLimit: 500,
      storedBytes: 5_000_000_000, storedBytesLimit: null,
      requestsPerMinute: 300, userRequestsPerMinute: 300,
    });
    const ub = await gql(USAGE, {}, { token: b.token });
    expect(ub.body.data.usage).toMatchObject({ requests: 1, asks: 0, embeddingTokens: 0, documents: 0, storedBytes: 0 });
  });

  it('counts refused requests in rateLimited', async () => {
    const t = await createTenant({ limits: { requestsPerMinute: 2 } });
    await setClock(t.id, MID_JANUARY);
    await Promise.all(Array.from({ length: 5 }, () => gql(VIEWER, {}, { token: t.token })));
    await setClock(t.id, MID_JANUARY + 60_000);
    expect((await gql(USAGE, {}, { token: t.token })).body.data.usage).toMatchObject({ requests: 3, rateLimited: 3 });
  });

  it('is for tenant admins and admin-scoped keys only', async () => {
    const t = await createTenant();
    expect(codeOf(await gql(USAGE, {}, { token: await t.tokenFor('member') }))).toBe('FORBIDDEN');
    const search = await createApiKey(t, ['SEARCH']);
    expect(codeOf(await gql(USAGE, {}, { token: search.secret }))).toBe('FORBIDDEN');
    const admin = await createApiKey(t, ['ADMIN']);
    expect((await gql(USAGE, {}, { token: admin.secret })).body.data.usage.requests).toBeGreaterThan(0);
    // A tenantless platform admin must name the tenant (tenantUsage).
    expect(codeOf(await gql(USAGE, {}, { token: await platformToken() }))).toBe('FORBIDDEN');
  });
});

describe('tenantUsage (platform admin)', () => {
  it("reads any tenant's live usage and effective limits", async () => {
    const [a, b] = await twoTenants({ plan: 'free' });
    await setClock(a.id, MID_JANUARY);
    await gql(VIEWER, {}, { token: a.token });
    await guardClient(env.TENANT_GUARD, a.id).record({ documents: 9 });
    const token = await platformToken();
    const ra = await gql(TENANT_USAGE, { id: a.id }, { token });
    expect(ra.body.data.tenantUsage).toEqual({ period: '2026-01', requests: 1, asks: 0, documents: 9, requestLimit: 1_000, requestsPerMinute: 60 });
    const rb = await gql(TENANT_USAGE, { id: b.id }, { token });
    expect(rb.body.data.tenantUsage).toMatchObject({ requests: 0, documents: 0 });
    // Reading usage is not a request of that tenant.
    expect((await gql(TENANT_USAGE, { id: a.id }, { token })).body.data.tenantUsage.requests).toBe(1);
  });

  it('is refused to tenant owners and API keys, and answers NOT_FOUND for an unknown tenant', async () => {
    const [a, b] = await twoTenants();
    expect(codeOf(await gql(TENANT_USAGE, { id: b.id }, { token: await a.tokenFor('owner') }))).toBe('FORBIDDEN');
    const key = await createApiKey(a, ['ADMIN']);
    expect(codeOf(await gql(TENANT_USAGE, { id: a.id }, { token: key.secret }))).toBe('FORBIDDEN');
    expect(codeOf(await gql(TENANT_USAGE, { id: crypto.randomUUID() }, { token: await platformToken() }))).toBe('NOT_FOUND');
  });
});

describe('per-tenant overrides (updateTenant limits)', () => {
  it('change the buckets and quotas of that tenant only, from its next request on', async () => {
    const [a, b] = await twoTenants({ plan: 'pro' });
    await setClock(a.id, MID_JANUARY);
    await setClock(b.id, MID_JANUARY);
    const token = await platformToken();
    const set = await gql(UPDATE, { id: a.id, limits: { requestsPerMinute: 2, monthlyRequests: null, monthlyAsks: 5 } }, { token });
    expect(set.body.errors).toBeUndefined();

    const rs = await Promise.all(Array.from({ length: 4 }, () => gql(VIEWER, {}, { token: a.token })));
    expect(rs.filter((r) => r.status === 200)).toHaveLength(2);
    expect(rs.filter((r) => codeOf(r) === 'RATE_LIMITED')).toHaveLength(2);
    expect(rs.find((r) => r.status === 200)!.headers.get('ratelimit-policy')).toBe('"tenant";q=2;w=60, "user";q=1200;w=60');

    const rb = await Promise.all(Array.from({ length: 4 }, () => gql(VIEWER, {}, { token: b.token })));
    expect(rb.every((r) => r.status === 200)).toBe(true);

    const view = await gql(TENANT_USAGE, { id: a.id }, { token });
    expect(view.body.data.tenantUsage).toMatchObject({ requestLimit: null, requestsPerMinute: 2 });
    // A later override merges with the earlier ones.
    await gql(UPDATE, { id: a.id, limits: { monthlyRequests: 50 } }, { token });
    expect((await gql(TENANT_USAGE, { id: a.id }, { token })).body.data.tenantUsage).toMatchObject({ requestLimit: 50, requestsPerMinute: 2 });

    const audit = await env.DB.prepare("SELECT actor, details FROM audit_log WHERE tenant_id = ? AND action = 'tenant.update'").bind(a.id).all();
    expect(audit.results).toHaveLength(2);
    expect(audit.results[0]!.actor).toBe('platform:operator');
  });

  it('refuses limits that would break admission', async () => {
    const t = await createTenant();
    const token = await platformToken();
    for (const limits of [{ requestsPerMinute: 0 }, { requestsPerMinute: null }, { userRequestsPerMinute: -5 }, { storedBytes: 1.5 }, { monthlyAsks: -1 }]) {
      const r = await gql(UPDATE, { id: t.id, limits }, { token });
      expect(codeOf(r), JSON.stringify(limits)).toBe('BAD_USER_INPUT');
    }
    const row = await env.DB.prepare('SELECT limits FROM tenants WHERE id = ?').bind(t.id).first<{ limits: string }>();
    expect(JSON.parse(row!.limits)).toEqual({});
    expect((await gql(VIEWER, {}, { token: t.token })).status).toBe(200);
  });
});
