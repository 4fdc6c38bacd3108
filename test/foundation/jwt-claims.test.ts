/**
 * JWT claims of the wrong type and the optional token lifetime cap (issue 9 item 14).
 * A `role` that is not one of the four strings is refused (401) like a malformed scope,
 * never read as viewer; with JWT_MAX_AGE set, a token that would live longer is refused.
 */
import { env } from 'cloudflare:test';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { verifyJwt } from '../../src/auth/jwt';
import { loadConfig } from '../../src/env';
import { codeOf, createTenant, gql, twoTenants } from '../helpers';

const VIEWER = '{ viewer { role tenant { id } } }';
const secret = () => new TextEncoder().encode(env.JWT_SECRET);

/** Signs a token with exact control over iat and exp (seconds since the epoch; null leaves it out). */
async function tokenWith(claims: Record<string, unknown>, times: { iat: number | null; exp: number }): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('user-1').setExpirationTime(times.exp);
  if (times.iat !== null) jwt.setIssuedAt(times.iat);
  return jwt.sign(secret());
}

describe('JWT role claim', () => {
  it.each([
    ['a list', ['owner']],
    ['a number', 1],
    ['null', null],
    ['an object', { name: 'owner' }],
    ['true', true],
  ])('refuses a role claim that is %s with 401, instead of treating it as viewer', async (_, role) => {
    const [a, b] = await twoTenants();
    const r = await gql(VIEWER, {}, { token: await tokenWith({ tenant_id: a.id, role }, { iat: null, exp: Math.floor(Date.now() / 1000) + 600 }) });
    expect(r.status).toBe(401);
    expect(codeOf(r)).toBe('UNAUTHENTICATED');
    expect(r.body.errors![0]!.message).toMatch(/role/);
    expect(r.body.data).toBeUndefined();
    // B's well-formed token still works, and so does A's with the string form or no role at all.
    expect((await gql(VIEWER, {}, { token: b.token })).body.data.viewer.tenant.id).toBe(b.id);
    expect((await gql(VIEWER, {}, { token: await a.tokenFor('owner') })).body.data.viewer.role).toBe('OWNER');
    const none = await tokenWith({ tenant_id: a.id }, { iat: null, exp: Math.floor(Date.now() / 1000) + 600 });
    expect((await gql(VIEWER, {}, { token: none })).body.data.viewer.role).toBe('VIEWER');
  });

  it('still refuses an unknown role string', async () => {
    const a = await createTenant();
    const r = await gql(VIEWER, {}, { token: await a.tokenFor('superuser' as never) });
    expect(r.status).toBe(401);
  });
});

describe('JWT_MAX_AGE', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const capped = () => loadConfig({ ...env, JWT_MAX_AGE: '3600' } as never);

  it('is validated at start with a message naming it', () => {
    for (const bad of ['0', '-5', '1.5', 'one hour', '1e400']) {
      expect(() => loadConfig({ ...env, JWT_MAX_AGE: bad } as never), bad).toThrow(/JWT_MAX_AGE/);
    }
    expect(loadConfig({ ...env, JWT_MAX_AGE: '' } as never).jwt.maxAgeSeconds).toBeNull();
    expect(capped().jwt.maxAgeSeconds).toBe(3600);
  });

  it('accepts a token within the cap and refuses one that lives longer (exp - iat or exp - now)', async () => {
    const a = await createTenant();
    const claims = { tenant_id: a.id, role: 'admin' };
    const t = now();
    await expect(verifyJwt(await tokenWith(claims, { iat: t, exp: t + 3600 }), capped())).resolves.toMatchObject({ tenantRef: a.id, role: 'admin' });
    await expect(verifyJwt(await tokenWith(claims, { iat: null, exp: t + 1800 }), capped())).resolves.toMatchObject({ role: 'admin' });
    // Minted an hour ago for two hours: one hour left, but its lifetime is two.
    const long = await tokenWith(claims, { iat: t - 3600, exp: t + 3600 });
    await expect(verifyJwt(long, capped())).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/3600 seconds/) });
    // No iat, valid for a day: what is left of it is over the cap.
    await expect(verifyJwt(await tokenWith(claims, { iat: null, exp: t + 86_400 }), capped())).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    // A back-dated iat cannot hide a year-long token either.
    await expect(verifyJwt(await tokenWith(claims, { iat: t + 365 * 86_400 - 60, exp: t + 365 * 86_400 }), capped())).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    // Without the cap (the default) the same tokens pass.
    const open = loadConfig({ ...env, JWT_MAX_AGE: '' } as never);
    await expect(verifyJwt(long, open)).resolves.toMatchObject({ role: 'admin' });
    await expect(verifyJwt(await tokenWith(claims, { iat: null, exp: t + 86_400 }), open)).resolves.toMatchObject({ role: 'admin' });
  });

  it('allows the 30 s clock tolerance for an issuer whose clock runs ahead', async () => {
    const a = await createTenant();
    const t = now();
    // Issued "20 s in the future" for exactly the cap.
    const ahead = await tokenWith({ tenant_id: a.id, role: 'member' }, { iat: t + 20, exp: t + 20 + 3600 });
    await expect(verifyJwt(ahead, capped())).resolves.toMatchObject({ role: 'member' });
  });
});
