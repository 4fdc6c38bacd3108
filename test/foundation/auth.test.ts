/**
 * The authentication matrix (DESIGN §4): every way a credential can be wrong is
 * refused with UNAUTHENTICATED (401) — or FORBIDDEN / TENANT_SUSPENDED where the
 * credential is fine but the request is not allowed.
 */
import { env } from 'cloudflare:test';
import { SignJWT, base64url, exportJWK, generateKeyPair } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { codeOf, createApiKey, createTenant, gql, signToken } from '../helpers';

const VIEWER = '{ viewer { role userId tenant { id slug } } }';

describe('JWT authentication', () => {
  it('accepts a valid HS256 token and maps its claims', async () => {
    const t = await createTenant();
    const token = await t.tokenFor('member', 'alice');
    const r = await gql(VIEWER, {}, { token });
    expect(r.status).toBe(200);
    expect(r.body.data.viewer).toEqual({ role: 'MEMBER', userId: 'alice', tenant: { id: t.id, slug: t.slug } });
  });

  it('accepts the tenant slug in the tenant claim', async () => {
    const t = await createTenant();
    const r = await gql(VIEWER, {}, { token: await signToken({ tenant_id: t.slug, role: 'viewer' }) });
    expect(r.body.data.viewer.tenant.id).toBe(t.id);
  });

  it('refuses a request with no credential', async () => {
    const r = await gql(VIEWER);
    expect(r.status).toBe(401);
    expect(codeOf(r)).toBe('UNAUTHENTICATED');
  });

  it('refuses a malformed Authorization header', async () => {
    const r = await gql(VIEWER, {}, { headers: { authorization: 'Token abc' } });
    expect(r.status).toBe(401);
    expect(codeOf(r)).toBe('UNAUTHENTICATED');
  });

  it('refuses alg: none', async () => {
    const t = await createTenant();
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
    const payload = base64url.encode(JSON.stringify({ sub: 'x', tenant_id: t.id, role: 'owner', exp: Math.floor(Date.now() / 1000) + 600 }));
    const r = await gql(VIEWER, {}, { token: `${header}.${payload}.` });
    expect(r.status).toBe(401);
    expect(codeOf(r)).toBe('UNAUTHENTICATED');
  });

  it('refuses a token signed with the wrong key', async () => {
    const t = await createTenant();
    const token = await signToken({ tenant_id: t.id, role: 'owner' }, { secret: 'another-secret-that-is-long-enough-000000' });
    const r = await gql(VIEWER, {}, { token });
    expect(r.status).toBe(401);
  });

  it('refuses an expired token (beyond the 30 s tolerance)', async () => {
    const t = await createTenant();
    const token = await signToken({ tenant_id: t.id, role: 'owner' }, { exp: Math.floor(Date.now() / 1000) - 120 });
    const r = await gql(VIEWER, {}, { token });
    expect(r.status).toBe(401);
    expect(r.body.errors?.[0]?.message).toMatch(/expired/i);
  });

  it('accepts a token expired by less than the clock tolerance', async () => {
    const t = await createTenant();
    const token = await signToken({ tenant_id: t.id, role: 'owner' }, { exp: Math.floor(Date.now() / 1000) - 5 });
    expect((await gql(VIEWER, {}, { token })).status).toBe(200);
  });

  it('refuses a token without exp', async () => {
    const t = await createTenant();
    const token = await signToken({ tenant_id: t.id, role: 'owner' }, { exp: null });
    const r = await gql(VIEWER, {}, { token });
    expect(r.status).toBe(401);
  });

  it('refuses a token whose nbf is in the future', async () => {
    const t = await createTenant();
    const token = await signToken({ tenant_id: t.id, role: 'owner', nbf: Math.floor(Date.now() / 1000) + 600 });
    const r = await gql(VIEWER, {}, { token });
    expect(r.status).toBe(401);
  });

  it('refuses a tampered payload', async () => {
    const t = await createTenant();
    const other = await createTenant();
    const token = await t.tokenFor('viewer');
    const [h, , s] = token.split('.');
    const forged = base64url.encode(JSON.stringify({ sub: 'x', tenant_id: other.id, role: 'owner', exp: Math.floor(Date.now() / 1000) + 600 }));
    const r = await gql(VIEWER, {}, { token: `${h}.${forged}.${s}` });
    expect(r.status).toBe(401);
  });

  it('refuses an unknown tenant and a token without tenant or sub', async () => {
    expect((await gql(VIEWER, {}, { token: await signToken({ tenant_id: crypto.randomUUID(), role: 'owner' }) })).status).toBe(401);
    expect((await gql(VIEWER, {}, { token: await signToken({ role: 'owner' }) })).status).toBe(401);
    const t = await createTenant();
    const noSub = await new SignJWT({ tenant_id: t.id, role: 'owner' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(env.JWT_SECRET));
    expect((await gql(VIEWER, {}, { token: noSub })).status).toBe(401);
  });

  it('refuses a role outside owner/admin/member/viewer', async () => {
    const t = await createTenant();
    const r = await gql(VIEWER, {}, { token: await signToken({ tenant_id: t.id, role: 'superuser' }) });
    expect(r.status).toBe(401);
  });

  it('refuses an HS256 token presented as RS256 (algorithm confusion)', async () => {
    const t = await createTenant();
    const good = await t.tokenFor('owner');
    const [, p, s] = good.split('.');
    const h = base64url.encode(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
    const r = await gql(VIEWER, {}, { token: `${h}.${p}.${s}` });
    expect(r.status).toBe(401);
  });

  it('refuses suspended and cancelled tenants with TENANT_SUSPENDED', async () => {
    for (const status of ['suspended', 'cancelled']) {
      const t = await createTenant({ status });
      const r = await gql(VIEWER, {}, { token: t.token });
      expect(r.status).toBe(403);
      expect(codeOf(r)).toBe('TENANT_SUSPENDED');
    }
  });

  it('refuses a trial tenant whose trial has ended', async () => {
    const t = await createTenant({ status: 'trial' });
    await env.DB.prepare('UPDATE tenants SET trial_ends_at = ? WHERE id = ?').bind('2020-01-01T00:00:00.000Z', t.id).run();
    const r = await gql(VIEWER, {}, { token: t.token });
    expect(codeOf(r)).toBe('TENANT_SUSPENDED');
  });
});

describe('host and credential tenant', () => {
  it('serves a tenant on its own subdomain', async () => {
    const t = await createTenant();
    const r = await gql(VIEWER, {}, { token: t.token, host: `${t.slug}.localhost` });
    expect(r.status).toBe(200);
    expect(r.body.data.viewer.tenant.slug).toBe(t.slug);
  });

  it('refuses a credential of one tenant on another tenant host with FORBIDDEN', async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    const r = await gql(VIEWER, {}, { token: a.token, host: `${b.slug}.localhost` });
    expect(r.status).toBe(403);
    expect(codeOf(r)).toBe('FORBIDDEN');
  });

  it('answers an unknown tenant host exactly like a foreign one (no existence probe)', async () => {
    const a = await createTenant();
    const b = await createTenant();
    const unknown = await gql(VIEWER, {}, { token: a.token, host: `nosuchtenant${Date.now()}.localhost` });
    const foreign = await gql(VIEWER, {}, { token: a.token, host: `${b.slug}.localhost` });
    expect(unknown.status).toBe(foreign.status);
    expect(unknown.body.errors?.[0]?.message).toBe(foreign.body.errors?.[0]?.message);
  });

  it('names tenants on hosts by slug only, never by id', async () => {
    const t = await createTenant();
    const r = await gql(VIEWER, {}, { token: t.token, host: `${t.id}.localhost` });
    expect(r.status).toBe(403);
    expect(codeOf(r)).toBe('FORBIDDEN');
  });

  it('resolves a registered custom domain to its tenant', async () => {
    const t = await createTenant();
    const other = await createTenant();
    const domain = `docs-${t.slug}.example.org`;
    await env.DB.prepare('INSERT INTO tenant_domains (domain, tenant_id) VALUES (?, ?)').bind(domain, t.id).run();
    expect((await gql(VIEWER, {}, { token: t.token, host: domain })).status).toBe(200);
    expect(codeOf(await gql(VIEWER, {}, { token: other.token, host: domain }))).toBe('FORBIDDEN');
  });
});

describe('API keys as credentials', () => {
  it('authenticates with Bearer and with X-API-Key', async () => {
    const t = await createTenant();
    const key = await createApiKey(t, ['SEARCH']);
    const bearer = await gql('{ viewer { role scopes apiKey { id } tenant { id } } }', {}, { token: key.secret });
    expect(bearer.body.data.viewer).toEqual({ role: 'MEMBER', scopes: ['search'], apiKey: { id: key.id }, tenant: { id: t.id } });
    const header = await gql('{ viewer { role } }', {}, { headers: { 'x-api-key': key.secret } });
    expect(header.status).toBe(200);
  });

  it('refuses a wrong secret, a revoked key and an expired key', async () => {
    const t = await createTenant();
    const key = await createApiKey(t, ['SEARCH']);
    const wrong = key.secret.slice(0, -4) + (key.secret.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect((await gql(VIEWER, {}, { token: wrong })).status).toBe(401);

    await gql('mutation($id: ID!) { revokeApiKey(id: $id) { revoked } }', { id: key.id }, { token: t.token });
    const revoked = await gql(VIEWER, {}, { token: key.secret });
    expect(revoked.status).toBe(401);
    expect(revoked.body.errors?.[0]?.message).toMatch(/revoked/);

    const soon = await createApiKey(t, ['SEARCH']);
    await env.DB.prepare('UPDATE api_keys SET expires_at = ? WHERE id = ?').bind('2020-01-01T00:00:00.000Z', soon.id).run();
    const expired = await gql(VIEWER, {}, { token: soon.secret });
    expect(expired.status).toBe(401);
    expect(expired.body.errors?.[0]?.message).toMatch(/expired/);
  });

  it('refuses an operation outside the key scopes with FORBIDDEN', async () => {
    const t = await createTenant();
    const key = await createApiKey(t, ['SEARCH']);
    const r = await gql('mutation { createCollection(input: { name: "x" }) { id } }', {}, { token: key.secret });
    expect(codeOf(r)).toBe('FORBIDDEN');
    expect(r.status).toBe(403);
    const adminOnly = await gql('{ apiKeys { id } }', {}, { token: key.secret });
    expect(codeOf(adminOnly)).toBe('FORBIDDEN');
  });

  it('refuses a key of one tenant on another tenant host', async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    const key = await createApiKey(a, ['SEARCH']);
    expect(codeOf(await gql(VIEWER, {}, { token: key.secret, host: `${b.slug}.localhost` }))).toBe('FORBIDDEN');
  });

  it('records last_used_at', async () => {
    const t = await createTenant();
    const key = await createApiKey(t, ['SEARCH']);
    await gql(VIEWER, {}, { token: key.secret });
    const r = await gql('{ apiKeys { id lastUsedAt } }', {}, { token: t.token });
    const row = r.body.data.apiKeys.find((k: { id: string }) => k.id === key.id);
    expect(row.lastUsedAt).not.toBeNull();
  });
});

describe('JWKS (RS256 / ES256)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('verifies an ES256 token against the configured JWKS and refuses a token signed by another key', async () => {
    const { verifyJwt } = await import('../../src/auth/jwt');
    const { loadConfig } = await import('../../src/env');
    const good = await generateKeyPair('ES256');
    const bad = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(good.publicKey)), kid: 'k1', alg: 'ES256' };
    const jwksUrl = `https://issuer.test/${crypto.randomUUID()}/jwks.json`;
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url === jwksUrl) return Response.json({ keys: [jwk] });
      return realFetch(input, init);
    });
    const config = loadConfig({ ...env, JWKS_URL: jwksUrl, JWT_ISSUER: 'https://issuer.test', JWT_AUDIENCE: 'edgerag' } as never);
    const sign = (key: CryptoKey, claims: Record<string, unknown> = {}) =>
      new SignJWT({ tenant_id: 'acme', role: 'member', ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setSubject('u1')
        .setIssuer('https://issuer.test')
        .setAudience('edgerag')
        .setExpirationTime('5m')
        .sign(key);
    const p = await verifyJwt(await sign(good.privateKey), config);
    expect(p).toMatchObject({ userId: 'u1', tenantRef: 'acme', role: 'member' });
    await expect(verifyJwt(await sign(bad.privateKey), config)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const wrongAud = await new SignJWT({ tenant_id: 'acme' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setSubject('u1')
      .setIssuer('https://issuer.test').setAudience('other').setExpirationTime('5m').sign(good.privateKey);
    await expect(verifyJwt(wrongAud, config)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const wrongIss = await new SignJWT({ tenant_id: 'acme' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setSubject('u1')
      .setIssuer('https://evil.test').setAudience('edgerag').setExpirationTime('5m').sign(good.privateKey);
    await expect(verifyJwt(wrongIss, config)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('enforces JWT_ISSUER and JWT_AUDIENCE for HS256 tokens', async () => {
    const { verifyJwt } = await import('../../src/auth/jwt');
    const { loadConfig } = await import('../../src/env');
    const config = loadConfig({ ...env, JWT_ISSUER: 'https://auth.example', JWT_AUDIENCE: 'edgerag' } as never);
    const key = new TextEncoder().encode(env.JWT_SECRET);
    const base = () => new SignJWT({ tenant_id: 't', role: 'viewer' }).setProtectedHeader({ alg: 'HS256' }).setSubject('u').setExpirationTime('5m');
    await expect(verifyJwt(await base().setIssuer('https://auth.example').setAudience('edgerag').sign(key), config)).resolves.toMatchObject({ userId: 'u' });
    await expect(verifyJwt(await base().setIssuer('https://other').setAudience('edgerag').sign(key), config)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(verifyJwt(await base().setIssuer('https://auth.example').setAudience('nope').sign(key), config)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('configuration validation', () => {
  it('names the bad value', async () => {
    const { loadConfig } = await import('../../src/env');
    expect(() => loadConfig({ ...env, JWT_SECRET: 'short' } as never)).toThrow(/JWT_SECRET must be at least 32 bytes/);
    expect(() => loadConfig({ ...env, EMBEDDING_DIMENSIONS: 'abc' } as never)).toThrow(/EMBEDDING_DIMENSIONS/);
    expect(() => loadConfig({ ...env, VECTOR_BACKEND: 'vectorize' } as never)).toThrow(/VECTORIZE binding/);
    expect(() => loadConfig({ ...env, PLAN_LIMITS: '{"gold":{}}' } as never)).toThrow(/unknown plan "gold"/);
    expect(() => loadConfig({ ...env, JWT_SECRET: '', JWKS_URL: '' } as never)).toThrow(/JWT_SECRET .* or JWKS_URL/);
  });
});

describe('JWT claim and header shapes (review)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('refuses a token whose scope claim is not a space-separated string, instead of treating it as unrestricted', async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    await createApiKey(a, ['SEARCH']);
    await createApiKey(b, ['SEARCH']);
    // An issuer that sends scope as a list means to restrict the token; ignoring it would grant everything.
    const token = await signToken({ tenant_id: a.id, role: 'admin', scope: ['search'] });
    const r = await gql('{ apiKeys { id } }', {}, { token });
    expect(r.status).toBe(401);
    expect(codeOf(r)).toBe('UNAUTHENTICATED');
    expect(r.body.data?.apiKeys).toBeUndefined();
    // The string form keeps working and is held to its scopes.
    const scoped = await gql('{ apiKeys { id } }', {}, { token: await signToken({ tenant_id: a.id, role: 'admin', scope: 'search' }) });
    expect(codeOf(scoped)).toBe('FORBIDDEN');
    const full = await gql('{ apiKeys { id } }', {}, { token: await signToken({ tenant_id: a.id, role: 'admin', scope: 'search admin' }) });
    expect(full.body.data.apiKeys).toHaveLength(1);
  });

  it('refuses a token whose scope claim is empty or blank, instead of treating it as unrestricted', async () => {
    const a = await createTenant();
    for (const scope of ['', ' ', '   ']) {
      const r = await gql('{ apiKeys { id } }', {}, { token: await signToken({ tenant_id: a.id, role: 'admin', scope }) });
      expect(r.status).toBe(401);
      expect(codeOf(r)).toBe('UNAUTHENTICATED');
      expect(r.body.data?.apiKeys).toBeUndefined();
    }
    // No scope claim at all is the unrestricted form.
    const plain = await gql('{ apiKeys { id } }', {}, { token: await signToken({ tenant_id: a.id, role: 'admin' }) });
    expect(plain.body.data.apiKeys).toEqual([]);
  });

  it('answers a token whose header is not a JSON object with 401, not an upstream error', async () => {
    for (const header of ['null', '1', '"HS256"', '[]']) {
      const r = await gql(VIEWER, {}, { token: `${base64url.encode(header)}.${base64url.encode('{}')}.c2ln` });
      expect(r.status).toBe(401);
      expect(codeOf(r)).toBe('UNAUTHENTICATED');
    }
  });

  it('answers UPSTREAM_UNAVAILABLE when the JWKS endpoint fails, and UNAUTHENTICATED for an unknown kid', async () => {
    const { verifyJwt } = await import('../../src/auth/jwt');
    const { loadConfig } = await import('../../src/env');
    const kp = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(kp.publicKey)), kid: 'k1', alg: 'ES256' };
    const down = `https://issuer.test/${crypto.randomUUID()}/jwks.json`;
    const garbage = `https://issuer.test/${crypto.randomUUID()}/jwks.json`;
    const up = `https://issuer.test/${crypto.randomUUID()}/jwks.json`;
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url === down) return new Response('bad gateway', { status: 502 });
      if (url === garbage) return new Response('<html>maintenance</html>', { status: 200 });
      if (url === up) return Response.json({ keys: [jwk] });
      return realFetch(input, init);
    });
    const token = (kid: string) =>
      new SignJWT({ tenant_id: 'acme', role: 'member' }).setProtectedHeader({ alg: 'ES256', kid }).setSubject('u1').setExpirationTime('5m').sign(kp.privateKey);
    for (const url of [down, garbage]) {
      const config = loadConfig({ ...env, JWKS_URL: url } as never);
      await expect(verifyJwt(await token('k1'), config)).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    }
    const config = loadConfig({ ...env, JWKS_URL: up } as never);
    await expect(verifyJwt(await token('other-kid'), config)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(verifyJwt(await token('k1'), config)).resolves.toMatchObject({ userId: 'u1' });
  });
});
