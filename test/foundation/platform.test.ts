/** Platform administration: tenants, createTenant, updateTenant — platform_admin only. */
import { describe, expect, it } from 'vitest';
import { codeOf, createTenant, gql, signToken } from '../helpers';

const platformToken = () => signToken({ platform_admin: true, role: 'owner' }, { sub: 'operator' });

describe('platform admin', () => {
  it('creates, lists and updates tenants; a new tenant is usable at once', async () => {
    const token = await platformToken();
    const slug = `new${Date.now().toString(36)}`;
    const created = await gql('mutation($input: CreateTenantInput!) { createTenant(input: $input) { id slug plan status } }', { input: { slug, name: 'New Co', plan: 'STARTER', region: 'eu' } }, { token });
    expect(created.body.data.createTenant).toMatchObject({ slug, plan: 'STARTER', status: 'ACTIVE' });
    const id = created.body.data.createTenant.id;

    const listed = await gql('{ tenants(first: 100) { edges { node { slug } } } }', {}, { token });
    expect(listed.body.errors).toBeUndefined();

    const tenantToken = await signToken({ tenant_id: slug, role: 'admin' });
    expect((await gql('{ tenant { name } }', {}, { token: tenantToken })).body.data.tenant.name).toBe('New Co');

    const suspended = await gql('mutation($id: ID!) { updateTenant(id: $id, input: { status: SUSPENDED, name: "Renamed" }) { status name } }', { id }, { token });
    expect(suspended.body.data.updateTenant).toEqual({ status: 'SUSPENDED', name: 'Renamed' });
    expect(codeOf(await gql('{ tenant { name } }', {}, { token: tenantToken }))).toBe('TENANT_SUSPENDED');
  });

  it('overrides a tenant limit and resets it to the plan table', async () => {
    const token = await platformToken();
    const t = await createTenant({ plan: 'free' });
    const m = 'mutation($id: ID!, $input: UpdateTenantInput!) { updateTenant(id: $id, input: $input) { id } }';
    const usage = async () => (await gql('{ usage { requestLimit documentLimit } }', {}, { token: t.token })).body.data.usage;
    expect(await usage()).toEqual({ requestLimit: 1000, documentLimit: 100 });
    await gql(m, { id: t.id, input: { limits: { monthlyRequests: 5000, documents: 7 } } }, { token });
    expect(await usage()).toEqual({ requestLimit: 5000, documentLimit: 7 });
    await gql(m, { id: t.id, input: { resetLimits: true, limits: { documents: 9 } } }, { token });
    expect(await usage()).toEqual({ requestLimit: 1000, documentLimit: 9 });
    await gql(m, { id: t.id, input: { resetLimits: true } }, { token });
    expect(await usage()).toEqual({ requestLimit: 1000, documentLimit: 100 });
  });

  it('refuses bad slugs and duplicates', async () => {
    const token = await platformToken();
    const m = 'mutation($input: CreateTenantInput!) { createTenant(input: $input) { id } }';
    expect(codeOf(await gql(m, { input: { slug: 'Bad Slug!', name: 'x' } }, { token }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(m, { input: { slug: 'www', name: 'x' } }, { token }))).toBe('BAD_USER_INPUT');
    const t = await createTenant();
    expect(codeOf(await gql(m, { input: { slug: t.slug, name: 'x' } }, { token }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql('mutation { updateTenant(id: "nope", input: { name: "x" }) { id } }', {}, { token }))).toBe('NOT_FOUND');
  });

  it('is refused to tenant owners and API keys', async () => {
    const t = await createTenant();
    const owner = await t.tokenFor('owner');
    expect(codeOf(await gql('{ tenants { edges { cursor } } }', {}, { token: owner }))).toBe('FORBIDDEN');
    expect(codeOf(await gql('mutation { createTenant(input: { slug: "zz", name: "z" }) { id } }', {}, { token: owner }))).toBe('FORBIDDEN');
    expect(codeOf(await gql(`mutation { updateTenant(id: "${t.id}", input: { plan: ENTERPRISE }) { id } }`, {}, { token: owner }))).toBe('FORBIDDEN');
  });

  it('a tenantless platform admin must use a tenant host for tenant data', async () => {
    const token = await platformToken();
    expect(codeOf(await gql('{ collections { edges { cursor } } }', {}, { token }))).toBe('FORBIDDEN');
    const t = await createTenant();
    const onHost = await gql('{ tenant { id } }', {}, { token, host: `${t.slug}.localhost` });
    expect(onHost.body.data.tenant.id).toBe(t.id);
  });
});
