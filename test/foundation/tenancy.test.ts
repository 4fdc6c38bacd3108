/**
 * Isolation by construction: every tenant-owned listing and lookup, with two tenants.
 * A foreign id behaves exactly like an id that does not exist.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { codeOf, createApiKey, gql, twoTenants } from '../helpers';

const CREATE_COLLECTION = 'mutation($name: String!) { createCollection(input: { name: $name, description: "d" }) { id name } }';

async function insertDocument(tenantId: string, name: string, extra: Record<string, string> = {}) {
  const id = crypto.randomUUID();
  await env.DB.prepare(
    'INSERT INTO documents (id, tenant_id, name, source_type, content_hash, status, tags) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ).bind(id, tenantId, name, 'text', `hash-${id}`, extra.status ?? 'completed', extra.tags ?? '["a"]').run();
  return id;
}

describe('collections', () => {
  it('creates and lists collections; the other tenant sees none of them', async () => {
    const [a, b] = await twoTenants();
    const created = await gql(CREATE_COLLECTION, { name: 'handbook' }, { token: a.token });
    expect(created.body.data.createCollection.name).toBe('handbook');
    const mine = await gql('{ collections { edges { node { id name } } pageInfo { hasNextPage } } }', {}, { token: a.token });
    expect(mine.body.data.collections.edges).toHaveLength(1);
    const theirs = await gql('{ collections { edges { node { id } } } }', {}, { token: b.token });
    expect(theirs.body.data.collections.edges).toHaveLength(0);
  });

  it('lets both tenants use the same collection name', async () => {
    const [a, b] = await twoTenants();
    expect((await gql(CREATE_COLLECTION, { name: 'same' }, { token: a.token })).body.errors).toBeUndefined();
    expect((await gql(CREATE_COLLECTION, { name: 'same' }, { token: b.token })).body.errors).toBeUndefined();
  });

  it('refuses a duplicate name, an empty name, and more collections than the plan allows', async () => {
    const [a] = await twoTenants({ plan: 'free' });
    await gql(CREATE_COLLECTION, { name: 'one' }, { token: a.token });
    expect(codeOf(await gql(CREATE_COLLECTION, { name: 'one' }, { token: a.token }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(CREATE_COLLECTION, { name: '   ' }, { token: a.token }))).toBe('BAD_USER_INPUT');
    const over = await gql(CREATE_COLLECTION, { name: 'two' }, { token: a.token });
    expect(codeOf(over)).toBe('QUOTA_EXCEEDED');
    expect(over.status).toBe(429);
  });

  it('pages with Relay cursors', async () => {
    const [a] = await twoTenants();
    for (const n of ['c1', 'c2', 'c3']) await gql(CREATE_COLLECTION, { name: n }, { token: a.token });
    const q = 'query($after: String) { collections(first: 2, after: $after) { edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }';
    const p1 = await gql(q, {}, { token: a.token });
    expect(p1.body.data.collections.edges.map((e: any) => e.node.name)).toEqual(['c1', 'c2']);
    expect(p1.body.data.collections.pageInfo.hasNextPage).toBe(true);
    const p2 = await gql(q, { after: p1.body.data.collections.pageInfo.endCursor }, { token: a.token });
    expect(p2.body.data.collections.edges.map((e: any) => e.node.name)).toEqual(['c3']);
    expect(p2.body.data.collections.pageInfo.hasNextPage).toBe(false);
    expect(codeOf(await gql(q, { after: 'garbage!!' }, { token: a.token }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql('{ collections(first: 1000) { edges { cursor } } }', {}, { token: a.token }))).toBe('BAD_USER_INPUT');
  });
});

describe('documents (read side)', () => {
  it('lists and reads only the tenant’s own documents; a foreign id is null like a missing one', async () => {
    const [a, b] = await twoTenants();
    const docA = await insertDocument(a.id, 'a.md');
    await insertDocument(b.id, 'b.md');
    const list = await gql('{ documents { edges { node { id name status tags chunkCount contentHash createdAt } } } }', {}, { token: a.token });
    expect(list.body.data.documents.edges.map((e: any) => e.node.name)).toEqual(['a.md']);
    expect(list.body.data.documents.edges[0].node).toMatchObject({ status: 'COMPLETED', tags: ['a'] });

    const q = 'query($id: ID!) { document(id: $id) { id name } }';
    expect((await gql(q, { id: docA }, { token: a.token })).body.data.document.name).toBe('a.md');
    const foreign = await gql(q, { id: docA }, { token: b.token });
    const missing = await gql(q, { id: crypto.randomUUID() }, { token: b.token });
    expect(foreign.status).toBe(missing.status);
    expect(foreign.body.data).toEqual(missing.body.data);
    expect(foreign.body.errors).toEqual(missing.body.errors);
    expect(foreign.body.data.document).toBeNull();
  });

  it('filters by status and tag', async () => {
    const [a] = await twoTenants();
    await insertDocument(a.id, 'done.md', { status: 'completed', tags: '["x"]' });
    await insertDocument(a.id, 'pending.md', { status: 'pending', tags: '["y"]' });
    const byStatus = await gql('{ documents(filter: { status: PENDING }) { edges { node { name } } } }', {}, { token: a.token });
    expect(byStatus.body.data.documents.edges.map((e: any) => e.node.name)).toEqual(['pending.md']);
    const byTag = await gql('{ documents(filter: { tag: "x" }) { edges { node { name } } } }', {}, { token: a.token });
    expect(byTag.body.data.documents.edges.map((e: any) => e.node.name)).toEqual(['done.md']);
  });
});

describe('API keys management', () => {
  it('shows the secret once, lists keys without it, and isolates tenants', async () => {
    const [a, b] = await twoTenants();
    const key = await createApiKey(a, ['SEARCH', 'CHAT'], { rateLimitPerMinute: 30 });
    expect(key.secret).toMatch(/^erk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    // The secret part is base64url and may itself contain '_', so cut at a fixed offset
    // ('erk_' + 12-char prefix + '_'), never split on '_'.
    const secretPart = key.secret.slice('erk_'.length + 12 + 1);
    expect(secretPart).toHaveLength(43);
    const listed = await gql('{ apiKeys { id name scopes prefix rateLimitPerMinute revoked } }', {}, { token: a.token });
    expect(listed.body.data.apiKeys).toHaveLength(1);
    expect(JSON.stringify(listed.body)).not.toContain(secretPart);
    expect(listed.body.data.apiKeys[0]).toMatchObject({ scopes: ['SEARCH', 'CHAT'], rateLimitPerMinute: 30, revoked: false });
    expect((await gql('{ apiKeys { id } }', {}, { token: b.token })).body.data.apiKeys).toEqual([]);

    const stored = await env.DB.prepare('SELECT secret_hash FROM api_keys WHERE id = ?').bind(key.id).first<{ secret_hash: string }>();
    expect(stored!.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored!.secret_hash).not.toContain(secretPart);
  });

  it('cannot revoke another tenant’s key (NOT_FOUND, key keeps working)', async () => {
    const [a, b] = await twoTenants();
    const key = await createApiKey(a, ['SEARCH']);
    const r = await gql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: key.id }, { token: b.token });
    expect(codeOf(r)).toBe('NOT_FOUND');
    expect((await gql('{ viewer { role } }', {}, { token: key.secret })).status).toBe(200);
  });

  it('validates input', async () => {
    const [a] = await twoTenants();
    const m = 'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }';
    expect(codeOf(await gql(m, { input: { name: 'k', scopes: [] } }, { token: a.token }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(m, { input: { name: 'k', scopes: ['NOPE'] } }, { token: a.token }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(m, { input: { name: 'k', scopes: ['SEARCH'], expiresAt: '2001-01-01T00:00:00Z' } }, { token: a.token }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(m, { input: { name: 'k', scopes: ['SEARCH'], expiresAt: 'tomorrow' } }, { token: a.token }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(m, { input: { name: 'k', scopes: ['SEARCH'], rateLimitPerMinute: 0 } }, { token: a.token }))).toBe('BAD_USER_INPUT');
  });
});

describe('roles', () => {
  it('viewer reads, member writes content, admin manages keys and settings', async () => {
    const [a] = await twoTenants();
    const viewer = await a.tokenFor('viewer');
    const member = await a.tokenFor('member');
    expect((await gql('{ collections { edges { cursor } } }', {}, { token: viewer })).status).toBe(200);
    expect(codeOf(await gql(CREATE_COLLECTION, { name: 'v' }, { token: viewer }))).toBe('FORBIDDEN');
    expect((await gql(CREATE_COLLECTION, { name: 'm' }, { token: member })).body.errors).toBeUndefined();
    expect(codeOf(await gql('{ apiKeys { id } }', {}, { token: member }))).toBe('FORBIDDEN');
    expect(codeOf(await gql('{ members { userId } }', {}, { token: member }))).toBe('FORBIDDEN');
    expect(codeOf(await gql('mutation { updateTenantSettings(input: { systemPrompt: "x" }) { id } }', {}, { token: member }))).toBe('FORBIDDEN');
  });

  it('a JWT with a scope claim is held to it', async () => {
    const [a] = await twoTenants();
    const token = await a.tokenFor('admin', 'scoped', { scope: 'search' });
    expect(codeOf(await gql('{ apiKeys { id } }', {}, { token }))).toBe('FORBIDDEN');
    expect((await gql('{ viewer { scopes } }', {}, { token })).body.data.viewer.scopes).toEqual(['search']);
  });
});

describe('members, settings and audit log', () => {
  it('lists users seen in the tenant with their role, never another tenant’s', async () => {
    const [a, b] = await twoTenants();
    await gql('{ viewer { role } }', {}, { token: await a.tokenFor('member', 'mia') });
    await gql('{ viewer { role } }', {}, { token: await b.tokenFor('member', 'bruno') });
    // Membership bookkeeping runs after the response (waitUntil); poll the row it writes.
    const members = async () => (await gql('{ members { userId role } }', {}, { token: a.token })).body.data.members as { userId: string; role: string }[];
    let list = await members();
    for (let i = 0; i < 50 && !list.some((m) => m.userId === 'mia'); i++) list = await members();
    expect(list).toContainEqual({ userId: 'mia', role: 'MEMBER' });
    expect(list.map((m) => m.userId)).not.toContain('bruno');
  });

  it('updates settings with validation and writes an audit row in the same transaction', async () => {
    const [a, b] = await twoTenants();
    const m = 'mutation($input: TenantSettingsInput!) { updateTenantSettings(input: $input) { settings { systemPrompt allowedOrigins temperature } } }';
    const ok = await gql(m, { input: { systemPrompt: 'Be brief.', allowedOrigins: ['https://app.example.com'], temperature: 0.2 } }, { token: a.token });
    expect(ok.body.data.updateTenantSettings.settings).toEqual({ systemPrompt: 'Be brief.', allowedOrigins: ['https://app.example.com'], temperature: 0.2 });
    expect(codeOf(await gql(m, { input: { temperature: 5 } }, { token: a.token }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(m, { input: { allowedOrigins: ['not a url'] } }, { token: a.token }))).toBe('BAD_USER_INPUT');

    const audit = await gql('{ auditLog { edges { node { action actor requestId } } } }', {}, { token: a.token });
    const actions = audit.body.data.auditLog.edges.map((e: any) => e.node.action);
    expect(actions).toContain('tenant.settings.update');
    expect(audit.body.data.auditLog.edges[0].node.requestId).toBeTruthy();
    const other = await gql('{ auditLog { edges { node { action } } } }', {}, { token: b.token });
    expect(other.body.data.auditLog.edges).toEqual([]);
    // b's settings are untouched.
    expect((await gql('{ tenant { settings { systemPrompt } } }', {}, { token: b.token })).body.data.tenant.settings.systemPrompt).toBeNull();
  });
});
