/** Tenant fields set by platform admins (issue 15): trialEndsAt and limit overrides, both audited. */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { codeOf, gql, signToken, twoTenants } from '../helpers';

const UPDATE = 'mutation($id: ID!, $input: UpdateTenantInput!) { updateTenant(id: $id, input: $input) { id status trialEndsAt } }';
const TENANT = '{ tenant { id status trialEndsAt } }';
const platformToken = () => signToken({ platform_admin: true, role: 'owner' }, { sub: 'operator' });
const HOUR = 3_600_000;

async function audits(tenantId: string): Promise<Record<string, unknown>[]> {
  const rows = await env.DB.prepare("SELECT actor, details FROM audit_log WHERE tenant_id = ? AND action = 'tenant.update' ORDER BY created_at, id")
    .bind(tenantId).all<{ actor: string; details: string }>();
  return rows.results.map((r) => ({ actor: r.actor, ...JSON.parse(r.details) }));
}

describe('updateTenant: trialEndsAt', () => {
  it('a trial answers until its end, then TENANT_SUSPENDED; null clears it; the neighbour is untouched; audited', async () => {
    const [a, b] = await twoTenants();
    const token = await platformToken();
    const future = new Date(Date.now() + 24 * HOUR).toISOString();
    const set = await gql(UPDATE, { id: a.id, input: { status: 'TRIAL', trialEndsAt: future } }, { token });
    expect(set.body.data.updateTenant).toEqual({ id: a.id, status: 'TRIAL', trialEndsAt: future });
    expect((await gql(TENANT, {}, { token: a.token })).body.data.tenant).toEqual({ id: a.id, status: 'TRIAL', trialEndsAt: future });

    const past = new Date(Date.now() - HOUR).toISOString();
    await gql(UPDATE, { id: a.id, input: { trialEndsAt: past } }, { token });
    const refused = await gql(TENANT, {}, { token: a.token });
    expect(refused.status).toBe(403);
    expect(codeOf(refused)).toBe('TENANT_SUSPENDED');
    expect((await gql(TENANT, {}, { token: b.token })).body.data.tenant).toMatchObject({ status: 'ACTIVE', trialEndsAt: null });

    // Omitting the field keeps it; null clears it (an open-ended trial).
    expect((await gql(UPDATE, { id: a.id, input: { name: 'Still trial' } }, { token })).body.data.updateTenant.trialEndsAt).toBe(past);
    expect((await gql(UPDATE, { id: a.id, input: { trialEndsAt: null } }, { token })).body.data.updateTenant.trialEndsAt).toBeNull();
    expect((await gql(TENANT, {}, { token: a.token })).body.data.tenant.status).toBe('TRIAL');

    const trail = await audits(a.id);
    expect(trail.map((d) => d.trialEndsAt)).toEqual([future, past, undefined, null]);
    expect(trail.every((d) => d.actor === 'platform:operator')).toBe(true);
    expect(await audits(b.id)).toEqual([]);
  });

  it('refuses non-platform callers, bad dates and unknown tenants', async () => {
    const [a, b] = await twoTenants();
    const input = { trialEndsAt: new Date(Date.now() - HOUR).toISOString() };
    expect(codeOf(await gql(UPDATE, { id: a.id, input }, { token: await a.tokenFor('owner') }))).toBe('FORBIDDEN');
    expect(codeOf(await gql(UPDATE, { id: b.id, input }, { token: await a.tokenFor('owner') }))).toBe('FORBIDDEN');
    const token = await platformToken();
    expect(codeOf(await gql(UPDATE, { id: a.id, input: { trialEndsAt: 'next tuesday' } }, { token }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(UPDATE, { id: crypto.randomUUID(), input }, { token }))).toBe('NOT_FOUND');
    expect((await gql(TENANT, {}, { token: a.token })).body.data.tenant.trialEndsAt).toBeNull();
  });
});

describe('updateTenant: limit overrides', () => {
  it('apply to that tenant only, from the next request, and are audited', async () => {
    const [a, b] = await twoTenants({ plan: 'starter' });
    const token = await platformToken();
    const r = await gql(UPDATE, { id: a.id, input: { limits: { monthlyAsks: 5, documents: null } } }, { token });
    expect(r.body.errors).toBeUndefined();
    const q = '{ usage { askLimit documentLimit } }';
    expect((await gql(q, {}, { token: a.token })).body.data.usage).toEqual({ askLimit: 5, documentLimit: null });
    expect((await gql(q, {}, { token: b.token })).body.data.usage).toEqual({ askLimit: 2_000, documentLimit: 500 });
    expect((await audits(a.id)).at(-1)).toMatchObject({ actor: 'platform:operator', limits: { monthlyAsks: 5, documents: null } });
    const bad = await gql(UPDATE, { id: a.id, input: { limits: { requestsPerMinute: null } } }, { token });
    expect(codeOf(bad)).toBe('BAD_USER_INPUT');
    expect(bad.body.errors![0]!.extensions!.field).toBe('limits.requestsPerMinute');
  });
});
