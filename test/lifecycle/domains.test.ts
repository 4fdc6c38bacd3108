/**
 * Verified custom domains (issue 15): addDomain → TXT token, verifyDomain over DNS over HTTPS
 * (a fake resolver at DNS_RESOLVER_URL) or the development stand-in (DOMAIN_VERIFIER=local),
 * routing by verified domains only, removal on the next request with warm isolate caches,
 * one tenant per domain under concurrency, and BAD_USER_INPUT naming the field.
 */
import { applyD1Migrations, env, SELF } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { directory, resetIsolateDirectory } from '../../src/auth/directory';
import { databaseFor } from '../../src/db/client';
import { PlatformStore } from '../../src/db/platform-store';
import { loadConfig } from '../../src/env';
import { codeOf, createApiKey, createTenant, gql, signToken, twoTenants, type GqlResult } from '../helpers';
import { workerWith } from '../foundation/worker-with';
import { installFakeDoh, type FakeDoh } from './fake-doh';

const FIELDS = 'domain status failureReason checkedAt verifiedAt verificationRecord { type name value }';
const ADD = `mutation($d: String!) { addDomain(domain: $d) { ${FIELDS} } }`;
const VERIFY = `mutation($d: String!) { verifyDomain(domain: $d) { ${FIELDS} } }`;
const REMOVE = 'mutation($d: String!) { removeDomain(domain: $d) }';
const DOMAINS = `{ domains { ${FIELDS} } }`;
const VIEWER = '{ viewer { tenant { id } } }';

let n = 0;
const fresh = () => `docs-${Date.now().toString(36)}${(n++).toString(36)}.example.org`;

function data<T = any>(r: GqlResult): T {
  if (r.body.errors) throw new Error(JSON.stringify(r.body.errors));
  return r.body.data;
}

/**
 * The tenant a host names, as a platform operator (no tenant claim) sees it there: the host's
 * tenant id, or null when the host names none (the operator is then tenantless: FORBIDDEN).
 */
async function routedTo(host: string): Promise<string | null> {
  const r = await gql('{ tenant { id } }', {}, { token: await signToken({ platform_admin: true, role: 'owner' }, { sub: 'operator' }), host });
  if (r.body.data?.tenant) return r.body.data.tenant.id;
  expect(r.body.errors?.[0]?.message).toMatch(/needs a tenant/);
  return null;
}

/** Publishes the TXT record addDomain asked for (quoted, as Cloudflare's resolver answers). */
const publish = (doh: FakeDoh, record: { name: string; value: string }) => doh.records.set(record.name, [`"${record.value}"`]);

/** Runs `check` with this isolate's directory as it is (warm), then emptied (a fresh isolate). */
async function inBothIsolates(check: () => Promise<void>): Promise<void> {
  await check();
  resetIsolateDirectory();
  await check();
}

/** Puts another isolate's view into this one: the directory maps `domain` to `tenantId` (as it did when it last asked D1). */
async function staleEntry(domain: string, tenantId: string): Promise<void> {
  directory.forgetDomain(domain);
  await directory.tenantIdOfDomain({ tenantIdByDomain: async () => tenantId } as unknown as PlatformStore, domain);
}

let doh: FakeDoh;
beforeEach(() => {
  doh = installFakeDoh();
});
afterEach(() => doh.restore());

describe('addDomain and verifyDomain', () => {
  it('pending → failed (with a reason) → verified; only the verified domain routes, also in a warm isolate', async () => {
    const [a, b] = await twoTenants();
    const domain = fresh();
    const added = data(await gql(ADD, { d: domain }, { token: a.token })).addDomain;
    expect(added).toMatchObject({ domain, status: 'PENDING', failureReason: null, checkedAt: null, verifiedAt: null });
    expect(added.verificationRecord).toEqual({ type: 'TXT', name: `_edgerag-challenge.${domain}`, value: expect.stringMatching(/^edgerag-verification=[A-Za-z0-9_-]{20,}$/) });

    // Pending: the host names no tenant (and this isolate now remembers it as unknown), so a
    // credential acts in its own tenant there, as on any unknown host.
    expect(await routedTo(domain)).toBeNull();
    expect((await gql(VIEWER, {}, { token: b.token, host: domain })).body.data.viewer.tenant.id).toBe(b.id);

    const missing = data(await gql(VERIFY, { d: domain }, { token: a.token })).verifyDomain;
    expect(missing).toMatchObject({ status: 'FAILED', failureReason: `no TXT record at _edgerag-challenge.${domain} (the name does not exist)` });
    expect(missing.checkedAt).not.toBeNull();
    doh.records.set(added.verificationRecord.name, ['"edgerag-verification=someone-else"']);
    expect(data(await gql(VERIFY, { d: domain }, { token: a.token })).verifyDomain.failureReason).toMatch(/do not hold edgerag-verification=/);
    doh.records.set(added.verificationRecord.name, { rcode: 2 });
    expect(data(await gql(VERIFY, { d: domain }, { token: a.token })).verifyDomain.failureReason).toMatch(/SERVFAIL/);
    expect(await routedTo(domain)).toBeNull();

    // The resolver down: nothing is recorded, the client is told to retry.
    doh.records.set(added.verificationRecord.name, { httpStatus: 502 });
    const down = await gql(VERIFY, { d: domain }, { token: a.token });
    expect(codeOf(down)).toBe('UPSTREAM_UNAVAILABLE');
    expect(data(await gql(DOMAINS, {}, { token: a.token })).domains[0]).toMatchObject({ status: 'FAILED', failureReason: expect.stringMatching(/SERVFAIL/) });

    // The token among other TXT records, split in two character-strings (RFC 7208 §3.3 joins them).
    const value: string = added.verificationRecord.value;
    doh.records.set(added.verificationRecord.name, ['"v=spf1 -all"', `"${value.slice(0, 10)}" "${value.slice(10)}"`]);
    const verified = data(await gql(VERIFY, { d: domain }, { token: a.token })).verifyDomain;
    expect(verified).toMatchObject({ domain, status: 'VERIFIED', failureReason: null });
    expect(verified.verifiedAt).not.toBeNull();

    await inBothIsolates(async () => {
      expect(await routedTo(domain)).toBe(a.id);
      const r = await gql(VIEWER, {}, { token: a.token, host: domain });
      expect(r.status).toBe(200);
      expect(r.body.data.viewer.tenant.id).toBe(a.id);
      // The neighbour's credential on a's domain.
      expect(codeOf(await gql(VIEWER, {}, { token: b.token, host: domain }))).toBe('FORBIDDEN');
    });

    // Verified stays verified: the record may be cleaned up, a new check looks nothing up.
    doh.records.delete(added.verificationRecord.name);
    const asked = doh.queries.length;
    expect(data(await gql(VERIFY, { d: domain }, { token: a.token })).verifyDomain.status).toBe('VERIFIED');
    expect(doh.queries.length).toBe(asked);
    expect(data(await gql(DOMAINS, {}, { token: b.token })).domains).toEqual([]);
  });

  it('normalises IDN names to punycode and lower case; adding the same domain again returns it unchanged', async () => {
    const t = await createTenant();
    const label = `bücher${Date.now().toString(36)}`;
    const added = data(await gql(ADD, { d: ` ${label.toUpperCase().replace('Ü', 'ü')}.Example.ORG. ` }, { token: t.token })).addDomain;
    const puny = new URL(`http://${label}.example.org`).hostname;
    expect(puny.startsWith('xn--')).toBe(true);
    expect(added.domain).toBe(puny);
    const again = data(await gql(ADD, { d: puny }, { token: t.token })).addDomain;
    expect(again.verificationRecord).toEqual(added.verificationRecord);
    expect(data(await gql(DOMAINS, {}, { token: t.token })).domains).toHaveLength(1);
  });

  it.each([
    ['empty', '   '],
    ['a URL', 'https://docs.example.org'],
    ['a port', 'docs.example.org:8443'],
    ['a path', 'docs.example.org/help'],
    ['a user', 'me@docs.example.org'],
    ['a wildcard', '*.example.org'],
    ['a space', 'docs example.org'],
    ['an IPv4 address', '203.0.113.7'],
    ['an IPv4 address in another notation', '0x7f.1'],
    ['an IPv6 address', '[2001:db8::1]'],
    ['one label', 'intranet'],
    ['localhost', 'localhost'],
    ['a name under localhost', 'app.localhost'],
    ['the BASE_DOMAIN itself (localhost in tests)', 'LOCALHOST.'],
    ['a workers.dev name', 'edgerag.someone.workers.dev'],
    ['a label over 63 characters', `${'a'.repeat(64)}.example.org`],
    ['a name over 253 characters', `${Array.from({ length: 8 }, () => 'a'.repeat(40)).join('.')}.org`],
    ['a label with an underscore', 'my_docs.example.org'],
    ['a numeric top-level label', 'docs.example.123'],
  ])('refuses %s with BAD_USER_INPUT naming the field', async (_case, domain) => {
    const t = await createTenant();
    const r = await gql(ADD, { d: domain }, { token: t.token });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.body.errors?.[0]?.extensions?.field).toBe('domain');
    expect(data(await gql(DOMAINS, {}, { token: t.token })).domains).toEqual([]);
  });

  it('refuses a BASE_DOMAIN subdomain when BASE_DOMAIN is a real domain', async () => {
    const fetchProd = workerWith({ BASE_DOMAIN: 'edgerag.example.com' });
    const t = await createTenant();
    const r = await fetchProd('http://localhost/graphql', {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.token}` },
      body: JSON.stringify({ query: ADD, variables: { d: 'acme.edgerag.example.com' } }),
    });
    const body = (await r.json()) as { errors: { extensions: Record<string, unknown> }[] };
    expect(body.errors[0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'domain' });
  });
});

describe('one tenant per domain', () => {
  it('two tenants adding the same domain at once: one wins, the other gets BAD_USER_INPUT naming the field', async () => {
    const tenants = await Promise.all(Array.from({ length: 5 }, () => createTenant()));
    const domain = fresh();
    const rs = await Promise.all(tenants.map((t) => gql(ADD, { d: domain }, { token: t.token })));
    const won = rs.filter((r) => !r.body.errors);
    expect(won).toHaveLength(1);
    for (const r of rs.filter((x) => x.body.errors)) {
      expect(codeOf(r)).toBe('BAD_USER_INPUT');
      expect(r.body.errors?.[0]?.extensions?.field).toBe('domain');
      expect(r.body.errors?.[0]?.message).toMatch(/another tenant/);
    }
    const rows = await env.DB.prepare('SELECT tenant_id FROM tenant_domains WHERE domain = ?').bind(domain).all();
    expect(rows.results).toHaveLength(1);
    // Exactly one domain.add audit row, by the winner.
    const audits = await env.DB.prepare("SELECT tenant_id FROM audit_log WHERE action = 'domain.add' AND target_id = ?").bind(domain).all<{ tenant_id: string }>();
    expect(audits.results.map((a) => a.tenant_id)).toEqual([rows.results[0]!.tenant_id]);
  });

  it('a claim never verified for 7 days can be taken over by another tenant; a verified one never', async () => {
    const [a, b] = await twoTenants();
    const stale = fresh();
    const kept = fresh();
    data(await gql(ADD, { d: stale }, { token: a.token }));
    const keptRecord = data(await gql(ADD, { d: kept }, { token: a.token })).addDomain.verificationRecord;
    publish(doh, keptRecord);
    data(await gql(VERIFY, { d: kept }, { token: a.token }));
    const old = new Date(Date.now() - 8 * 24 * 60 * 60_000).toISOString();
    await env.DB.prepare('UPDATE tenant_domains SET created_at = ? WHERE domain IN (?, ?)').bind(old, stale, kept).run();

    expect(data(await gql(ADD, { d: stale }, { token: b.token })).addDomain.status).toBe('PENDING');
    expect(codeOf(await gql(ADD, { d: kept }, { token: b.token }))).toBe('BAD_USER_INPUT');
    expect(data(await gql(DOMAINS, {}, { token: a.token })).domains.map((d: { domain: string }) => d.domain)).toEqual([kept]);
    expect(data(await gql(DOMAINS, {}, { token: b.token })).domains.map((d: { domain: string }) => d.domain)).toEqual([stale]);
  });

  it('removal: the domain stops routing on the next request (warm and fresh isolate); another tenant can then verify it and is routed', async () => {
    const [a, b] = await twoTenants();
    const domain = fresh();
    publish(doh, data(await gql(ADD, { d: domain }, { token: a.token })).addDomain.verificationRecord);
    data(await gql(VERIFY, { d: domain }, { token: a.token }));
    // Warm this isolate: it now maps the domain to a.
    expect((await gql(VIEWER, {}, { token: a.token, host: domain })).status).toBe(200);
    expect(codeOf(await gql(VIEWER, {}, { token: b.token, host: domain }))).toBe('FORBIDDEN');

    // b cannot remove or verify a's domain: it looks like an unknown one.
    expect(codeOf(await gql(REMOVE, { d: domain }, { token: b.token }))).toBe('NOT_FOUND');
    expect(codeOf(await gql(VERIFY, { d: domain }, { token: b.token }))).toBe('NOT_FOUND');

    expect(data(await gql(REMOVE, { d: domain }, { token: a.token })).removeDomain).toBe(true);
    expect(codeOf(await gql(REMOVE, { d: domain }, { token: a.token }))).toBe('NOT_FOUND');
    expect(data(await gql(DOMAINS, {}, { token: a.token })).domains).toEqual([]);

    // Another isolate that saw the domain as a's keeps that entry (positive entries are kept):
    // the guard's record no longer lists the domain, so the host is resolved again and names
    // nobody, there exactly as in a fresh isolate.
    const check = async () => {
      expect(await routedTo(domain)).toBeNull();
      expect((await gql(VIEWER, {}, { token: b.token, host: domain })).body.data.viewer.tenant.id).toBe(b.id);
      expect((await gql(VIEWER, {}, { token: a.token, host: domain })).body.data.viewer.tenant.id).toBe(a.id);
    };
    await staleEntry(domain, a.id);
    await check();
    resetIsolateDirectory();
    await check();

    // The domain changes hands: b adds and verifies it, and is routed by an isolate that still
    // knows the domain as a's (the entry is looked up again when it disagrees).
    publish(doh, data(await gql(ADD, { d: domain }, { token: b.token })).addDomain.verificationRecord);
    data(await gql(VERIFY, { d: domain }, { token: b.token }));
    for (const who of ['b', 'operator', 'a'] as const) {
      await staleEntry(domain, a.id);
      if (who === 'b') expect((await gql(VIEWER, {}, { token: b.token, host: domain })).body.data?.viewer.tenant.id).toBe(b.id);
      if (who === 'operator') expect(await routedTo(domain)).toBe(b.id);
      if (who === 'a') expect(codeOf(await gql(VIEWER, {}, { token: a.token, host: domain }))).toBe('FORBIDDEN');
    }
    resetIsolateDirectory();
    expect(await routedTo(domain)).toBe(b.id);
    expect(codeOf(await gql(VIEWER, {}, { token: a.token, host: domain }))).toBe('FORBIDDEN');

    const actions = await env.DB.prepare("SELECT tenant_id, action FROM audit_log WHERE target_id = ? AND action LIKE 'domain.%' ORDER BY created_at, rowid")
      .bind(domain).all<{ tenant_id: string; action: string }>();
    expect(actions.results).toEqual([
      { tenant_id: a.id, action: 'domain.add' }, { tenant_id: a.id, action: 'domain.verify' }, { tenant_id: a.id, action: 'domain.remove' },
      { tenant_id: b.id, action: 'domain.add' }, { tenant_id: b.id, action: 'domain.verify' },
    ]);
  });
});

describe('CORS preflights on a custom domain', () => {
  it("follow the domain's tenant, also in an isolate that still maps it to the previous one", async () => {
    const [a, b] = await twoTenants();
    const domain = fresh();
    const origins = { a: 'https://app-a.customer.example', b: 'https://app-b.customer.example' };
    for (const [t, o] of [[a, origins.a], [b, origins.b]] as const) {
      data(await gql('mutation($o: [String!]) { updateTenantSettings(input: { allowedOrigins: $o }) { id } }', { o: [o] }, { token: t.token }));
    }
    const preflight = (origin: string) =>
      SELF.fetch(`http://${domain}/graphql`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } }).then((r) => r.status);
    publish(doh, data(await gql(ADD, { d: domain }, { token: a.token })).addDomain.verificationRecord);
    data(await gql(VERIFY, { d: domain }, { token: a.token }));
    expect(await preflight(origins.a)).toBe(204);
    expect(await preflight(origins.b)).toBe(403);

    data(await gql(REMOVE, { d: domain }, { token: a.token }));
    publish(doh, data(await gql(ADD, { d: domain }, { token: b.token })).addDomain.verificationRecord);
    data(await gql(VERIFY, { d: domain }, { token: b.token }));
    for (const stale of [true, false]) {
      if (stale) await staleEntry(domain, a.id);
      else resetIsolateDirectory();
      expect(await preflight(origins.b)).toBe(204);
      expect(await preflight(origins.a)).toBe(403);
    }
  });
});

describe('who may manage domains', () => {
  it('owners and admins (and ADMIN keys); members, viewers and other scopes get FORBIDDEN', async () => {
    const t = await createTenant();
    for (const role of ['member', 'viewer'] as const) {
      const token = await t.tokenFor(role);
      expect(codeOf(await gql(ADD, { d: fresh() }, { token }))).toBe('FORBIDDEN');
      expect(codeOf(await gql(DOMAINS, {}, { token }))).toBe('FORBIDDEN');
    }
    const search = await createApiKey(t, ['SEARCH']);
    expect(codeOf(await gql(ADD, { d: fresh() }, { token: search.secret }))).toBe('FORBIDDEN');
    const admin = await createApiKey(t, ['ADMIN']);
    expect(data(await gql(ADD, { d: fresh() }, { token: admin.secret })).addDomain.status).toBe('PENDING');
    expect(data(await gql(ADD, { d: fresh() }, { token: await t.tokenFor('owner') })).addDomain.status).toBe('PENDING');
    expect(codeOf(await gql(DOMAINS, {}))).toBe('UNAUTHENTICATED');
  });

  it('migration 0014 keeps the domains registered before it: verified, with a token, still routing', async () => {
    const db = env.STEPWISE_DB;
    await applyD1Migrations(db, env.TEST_MIGRATIONS.filter((m) => m.name < '0014'));
    await db.prepare("INSERT INTO tenants (id, slug, name) VALUES ('t-old', 'old', 'Old')").run();
    await db.prepare("INSERT INTO tenant_domains (domain, tenant_id, created_at) VALUES ('docs.old.example', 't-old', '2025-01-01T00:00:00.000Z')").run();
    await applyD1Migrations(db, env.TEST_MIGRATIONS);
    const row = await db.prepare("SELECT status, verification_token, verified_at FROM tenant_domains WHERE domain = 'docs.old.example'").first<Record<string, string>>();
    expect(row).toEqual({ status: 'verified', verification_token: expect.stringMatching(/^[0-9a-f]{32}$/), verified_at: '2025-01-01T00:00:00.000Z' });
    expect(await new PlatformStore(databaseFor(db)).tenantIdByDomain('docs.old.example')).toBe('t-old');
  });

  it('a hand-registered row (SQL, as before verification existed) is verified, routes and is listed', async () => {
    const t = await createTenant();
    const domain = fresh();
    await env.DB.prepare('INSERT INTO tenant_domains (domain, tenant_id) VALUES (?, ?)').bind(domain, t.id).run();
    expect((await gql(VIEWER, {}, { token: t.token, host: domain })).status).toBe(200);
    expect(data(await gql(DOMAINS, {}, { token: t.token })).domains).toEqual([expect.objectContaining({ domain, status: 'VERIFIED', verificationRecord: null })]);
    // Verifying it again changes nothing; removing it works as for any domain.
    expect(data(await gql(VERIFY, { d: domain }, { token: t.token })).verifyDomain.status).toBe('VERIFIED');
    expect(data(await gql(REMOVE, { d: domain }, { token: t.token })).removeDomain).toBe(true);
  });
});

describe('the development stand-in and the guard switched off', () => {
  const post = (f: ReturnType<typeof workerWith>, query: string, variables: Record<string, unknown>, token: string, host = 'localhost') =>
    f(`http://${host}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) })
      .then(async (r) => ({ status: r.status, body: (await r.json()) as { data?: any; errors?: { extensions: Record<string, unknown> }[] } }));

  it('DOMAIN_VERIFIER=local reads local_dns_records with the same states, and never asks DNS', async () => {
    const local = workerWith({ DOMAIN_VERIFIER: 'local' });
    const t = await createTenant();
    const domain = fresh();
    const added = (await post(local, ADD, { d: domain }, t.token)).body.data.addDomain;
    expect((await post(local, VERIFY, { d: domain }, t.token)).body.data.verifyDomain).toMatchObject({ status: 'FAILED', failureReason: expect.stringMatching(/no TXT record/) });
    await env.DB.prepare('INSERT INTO local_dns_records (name, value) VALUES (?, ?)').bind(added.verificationRecord.name, 'edgerag-verification=wrong').run();
    expect((await post(local, VERIFY, { d: domain }, t.token)).body.data.verifyDomain.failureReason).toMatch(/do not hold/);
    await env.DB.prepare('INSERT INTO local_dns_records (name, value) VALUES (?, ?)').bind(added.verificationRecord.name, added.verificationRecord.value).run();
    expect((await post(local, VERIFY, { d: domain }, t.token)).body.data.verifyDomain.status).toBe('VERIFIED');
    expect((await post(local, VIEWER, {}, t.token, domain)).status).toBe(200);
    expect(doh.queries).toEqual([]);
  });

  it('DOMAIN_VERIFIER=local is a configuration error in production; an unknown verifier too', () => {
    expect(() => loadConfig({ ...env, ENVIRONMENT: 'production', DOMAIN_VERIFIER: 'local' } as never)).toThrow(/DOMAIN_VERIFIER=local .* refused in production/);
    expect(() => loadConfig({ ...env, DOMAIN_VERIFIER: 'trust-me' } as never)).toThrow(/DOMAIN_VERIFIER must be dns or local/);
  });

  it('GUARD_ENABLED=false: routing still uses verified domains only, and removal applies on the next request', async () => {
    const off = workerWith({ GUARD_ENABLED: 'false' });
    const t = await createTenant();
    const domain = fresh();
    const other = await createTenant();
    const record = (await post(off, ADD, { d: domain }, t.token)).body.data.addDomain.verificationRecord;
    expect((await post(off, VIEWER, {}, other.token, domain)).status).toBe(200);
    publish(doh, record);
    expect((await post(off, VERIFY, { d: domain }, t.token)).body.data.verifyDomain.status).toBe('VERIFIED');
    expect((await post(off, VIEWER, {}, t.token, domain)).status).toBe(200);
    expect((await post(off, VIEWER, {}, other.token, domain)).status).toBe(403);
    expect((await post(off, REMOVE, { d: domain }, t.token)).body.data.removeDomain).toBe(true);
    expect((await post(off, VIEWER, {}, other.token, domain)).status).toBe(200);
  });
});
