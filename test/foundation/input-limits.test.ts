/**
 * Every free-text input has a cap: over it the request is BAD_USER_INPUT naming the field
 * (or 401 for a JWT subject) and nothing is stored.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { codeOf, createTenant, gql, signToken, twoTenants } from '../helpers';

const CREATE_COLLECTION = 'mutation($input: CreateCollectionInput!) { createCollection(input: $input) { id name description } }';
const platformToken = () => signToken({ platform_admin: true, role: 'owner' }, { sub: 'operator' });
const fieldOf = (r: Awaited<ReturnType<typeof gql>>) => r.body.errors?.[0]?.extensions?.field;

describe('collection limits', () => {
  it('takes a name up to 200 and a description up to 2,000 characters, and refuses more', async () => {
    const [a, b] = await twoTenants();
    const ok = await gql(CREATE_COLLECTION, { input: { name: 'n'.repeat(200), description: 'd'.repeat(2_000) } }, { token: a.token });
    expect(ok.body.errors).toBeUndefined();
    expect(ok.body.data.createCollection.description).toHaveLength(2_000);

    const longDescription = await gql(CREATE_COLLECTION, { input: { name: 'x', description: 'd'.repeat(2_001) } }, { token: b.token });
    expect(codeOf(longDescription)).toBe('BAD_USER_INPUT');
    expect(longDescription.status).toBe(400);
    expect(fieldOf(longDescription)).toBe('description');
    expect(longDescription.body.errors![0]!.message).toBe('description must be at most 2000 characters');
    // The 3 MB description of the QA report.
    const huge = await gql(CREATE_COLLECTION, { input: { name: 'y', description: 'd'.repeat(3_000_000) } }, { token: b.token });
    expect(fieldOf(huge)).toBe('description');
    const longName = await gql(CREATE_COLLECTION, { input: { name: 'n'.repeat(201) } }, { token: b.token });
    expect(fieldOf(longName)).toBe('name');
    // Nothing was stored for b; a's collection is untouched.
    expect((await gql('{ collections { edges { node { id } } } }', {}, { token: b.token })).body.data.collections.edges).toEqual([]);
    expect((await gql('{ collections { edges { node { id } } } }', {}, { token: a.token })).body.data.collections.edges).toHaveLength(1);
  });
});

describe('tenant limits (platform admin)', () => {
  it('createTenant refuses a name over 200 and a region over 64 characters', async () => {
    const token = await platformToken();
    const m = 'mutation($input: CreateTenantInput!) { createTenant(input: $input) { id name region } }';
    const slug = `lim${Date.now().toString(36)}`;
    const longName = await gql(m, { input: { slug, name: 'n'.repeat(100_000) } }, { token });
    expect(codeOf(longName)).toBe('BAD_USER_INPUT');
    expect(fieldOf(longName)).toBe('name');
    const longRegion = await gql(m, { input: { slug, name: 'Co', region: 'r'.repeat(65) } }, { token });
    expect(fieldOf(longRegion)).toBe('region');
    expect(await env.DB.prepare('SELECT id FROM tenants WHERE slug = ?').bind(slug).first()).toBeNull();
    const ok = await gql(m, { input: { slug, name: ` ${'n'.repeat(200)} `, region: 'eu-west' } }, { token });
    expect(ok.body.data.createTenant).toMatchObject({ name: 'n'.repeat(200), region: 'eu-west' });
  });

  it('updateTenant refuses a name over 200 characters and keeps the old one', async () => {
    const token = await platformToken();
    const t = await createTenant();
    const m = 'mutation($id: ID!, $name: String!) { updateTenant(id: $id, input: { name: $name }) { name } }';
    const r = await gql(m, { id: t.id, name: 'n'.repeat(100_000) }, { token });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(fieldOf(r)).toBe('name');
    expect((await gql('{ tenant { name } }', {}, { token: t.token })).body.data.tenant.name).toBe(`Tenant ${t.slug}`);
    expect((await gql(m, { id: t.id, name: 'n'.repeat(200) }, { token })).body.data.updateTenant.name).toBe('n'.repeat(200));
  });
});

describe('JWT subject limit', () => {
  it('refuses a sub over 256 characters with 401 and never stores it as a member', async () => {
    const [a, b] = await twoTenants();
    const long = 's'.repeat(5_000);
    const r = await gql('{ viewer { userId } }', {}, { token: await a.tokenFor('member', long) });
    expect(r.status).toBe(401);
    expect(codeOf(r)).toBe('UNAUTHENTICATED');
    expect(r.body.errors![0]!.message).toBe('Token sub is longer than 256 characters');
    const edge = 'u'.repeat(256);
    expect((await gql('{ viewer { userId } }', {}, { token: await b.tokenFor('member', edge) })).body.data.viewer.userId).toBe(edge);
    const stored = await env.DB.prepare('SELECT count(*) AS n FROM memberships WHERE length(user_id) > 256').first<{ n: number }>();
    expect(stored!.n).toBe(0);
  });
});

describe('settings and filter limits', () => {
  it('caps systemPrompt, the number and length of allowedOrigins, and documents(filter: { tag })', async () => {
    const [a] = await twoTenants();
    const m = 'mutation($input: TenantSettingsInput!) { updateTenantSettings(input: $input) { settings { systemPrompt allowedOrigins } } }';
    expect(fieldOf(await gql(m, { input: { systemPrompt: 'p'.repeat(8_001) } }, { token: a.token }))).toBe('systemPrompt');
    const many = Array.from({ length: 51 }, (_, i) => `https://app${i}.example.com`);
    expect(fieldOf(await gql(m, { input: { allowedOrigins: many } }, { token: a.token }))).toBe('allowedOrigins');
    expect(fieldOf(await gql(m, { input: { allowedOrigins: [`https://${'a'.repeat(2_050)}.example.com`] } }, { token: a.token }))).toBe('allowedOrigins');
    const ok = await gql(m, { input: { systemPrompt: 'p'.repeat(8_000), allowedOrigins: many.slice(0, 50) } }, { token: a.token });
    expect(ok.body.data.updateTenantSettings.settings.allowedOrigins).toHaveLength(50);

    const tag = await gql('query($tag: String) { documents(filter: { tag: $tag }) { edges { cursor } } }', { tag: 't'.repeat(65) }, { token: a.token });
    expect(codeOf(tag)).toBe('BAD_USER_INPUT');
    expect(fieldOf(tag)).toBe('filter.tag');
  });

  it('caps an ingest url at 2,048 characters', async () => {
    const t = await createTenant();
    const r = await gql('mutation($url: String!) { ingestDocument(input: { name: "u", url: $url }) { id } }', { url: `https://example.com/${'p'.repeat(2_100)}` }, { token: t.token });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(fieldOf(r)).toBe('url');
    expect(r.body.errors![0]!.message).toBe('url must be at most 2048 characters');
  });
});
