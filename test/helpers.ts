/**
 * Test harness: fresh tenants per test (so every feature test can assert isolation
 * against a second tenant), tokens, API keys and a GraphQL client through the Worker.
 */
import { env, SELF } from 'cloudflare:test';
import { SignJWT } from 'jose';

export const BASE = 'http://localhost';

export interface TestTenant {
  id: string;
  slug: string;
  /** Admin JWT for this tenant. */
  token: string;
  tokenFor(role: 'owner' | 'admin' | 'member' | 'viewer', sub?: string, extra?: Record<string, unknown>): Promise<string>;
}

let counter = 0;

export async function signToken(
  claims: Record<string, unknown>,
  opts: { secret?: string; sub?: string; exp?: number | string | null; alg?: 'HS256' } = {},
): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: opts.alg ?? 'HS256' }).setSubject(opts.sub ?? 'user-1').setIssuedAt();
  if (opts.exp !== null) jwt.setExpirationTime(opts.exp ?? '1h');
  return jwt.sign(new TextEncoder().encode(opts.secret ?? env.JWT_SECRET));
}

/** Inserts a fresh tenant directly (platform bootstrap), with a unique slug. */
export async function createTenant(
  opts: { plan?: string; status?: string; limits?: Record<string, unknown>; prefix?: string; placement?: string } = {},
): Promise<TestTenant> {
  const id = crypto.randomUUID();
  const slug = `${opts.prefix ?? 't'}${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const placement = opts.placement ?? 'shared';
  await env.DB.prepare('INSERT INTO tenants (id, slug, name, plan, status, limits, placement, tier) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    .bind(id, slug, `Tenant ${slug}`, opts.plan ?? 'pro', opts.status ?? 'active', JSON.stringify(opts.limits ?? {}), placement,
      placement.startsWith('dedicated:') ? 'dedicated' : 'shared')
    .run();
  // The residence row a placement database needs (src/placement/store.ts writeResidence).
  const placed = ({ 'regional:eu': env.DB_EU, 'dedicated:d1-1': env.DB_DEDICATED_1 } as Record<string, D1Database | undefined>)[placement];
  if (placed) await placed.prepare('INSERT INTO tenants (id, slug, name, placement) VALUES (?, ?, ?, ?)').bind(id, slug, `Tenant ${slug}`, placement).run();
  const tokenFor = (role: 'owner' | 'admin' | 'member' | 'viewer', sub = `${role}-${slug}`, extra: Record<string, unknown> = {}) =>
    signToken({ tenant_id: id, role, ...extra }, { sub });
  return { id, slug, token: await tokenFor('admin'), tokenFor };
}

/** Two fresh tenants: the default shape of every feature test. */
export async function twoTenants(opts: Parameters<typeof createTenant>[0] = {}): Promise<[TestTenant, TestTenant]> {
  return [await createTenant(opts), await createTenant(opts)];
}

export interface GqlResult<T = any> {
  status: number;
  headers: Headers;
  body: { data?: T; errors?: { message: string; extensions?: Record<string, any>; path?: string[] }[]; extensions?: Record<string, any> };
}

export async function gql<T = any>(
  query: string,
  variables: Record<string, unknown> = {},
  opts: { token?: string | null; host?: string; headers?: Record<string, string> } = {},
): Promise<GqlResult<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const url = `http://${opts.host ?? 'localhost'}/graphql`;
  const res = await SELF.fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const text = await res.text();
  let body: GqlResult<T>['body'];
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`non-JSON response ${res.status}: ${text.slice(0, 300)}`);
  }
  return { status: res.status, headers: res.headers, body };
}

export const codeOf = (r: GqlResult) => r.body.errors?.[0]?.extensions?.code;

/** Creates an API key through the API (as the tenant admin) and returns the secret. */
export async function createApiKey(t: TestTenant, scopes: string[], extra: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
  const r = await gql(
    `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id } } }`,
    { input: { name: `key-${Math.random().toString(36).slice(2, 8)}`, scopes, ...extra } },
    { token: t.token },
  );
  if (!r.body.data) throw new Error(JSON.stringify(r.body.errors));
  return { id: r.body.data.createApiKey.apiKey.id, secret: r.body.data.createApiKey.secret };
}
