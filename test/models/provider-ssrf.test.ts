/**
 * A tenant's model-provider base URL under the URL-ingestion SSRF rules in production
 * (issue 16): https, an allowed port (URL_FETCH_PORTS), and a host name whose every
 * DNS-over-HTTPS answer (DNS_RESOLVER_URL) is public — when it is set, and again before
 * testModelProvider sends the key to it. The resolver is test/documents/fake-dns.ts, reached
 * through the session's fetcher as production reaches Cloudflare's.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { guardClient } from '../../src/objects/guard-client';
import { createRoot, openTenantSession } from '../../src/tenant-session';
import { withDns, type DnsTable } from '../documents/fake-dns';
import { scopeOf } from '../documents/keyword-helpers';
import { twoTenants, type TestTenant } from '../helpers';

const PUBLIC = '93.184.216.34';
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const KEY = 'sk-provider-ssrf-secret-1234';

/** The tenant's provider settings in a production session whose fetches go to `records` (DNS) or are recorded. */
async function prodProviders(t: TestTenant, records: DnsTable) {
  const fetched: string[] = [];
  const fetcher = withDns(records, (async (input: RequestInfo | URL) => {
    fetched.push(input instanceof Request ? input.url : String(input));
    return Response.json({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: Array(384).fill(0.1) }], model: 'm' });
  }) as typeof fetch);
  const scope = await scopeOf(t);
  const prodEnv = { ...env, ENVIRONMENT: 'production', URL_FETCH_PORTS: '', DNS_RESOLVER_URL: '' } as never;
  const session = await openTenantSession(createRoot(prodEnv, { log: silent }), scope.tenant, scope.principal, 'test', {
    guard: guardClient(env.TENANT_GUARD, t.id, silent), fetcher,
  });
  return { providers: session.services.providers, fetched, fetcher };
}

const input = (baseUrl: string) => ({ baseUrl, apiKey: KEY, chatModels: ['m'], embeddingModel: 'text-embedding-3-small', embeddingDimensions: 384 });
const stored = async (t: TestTenant) =>
  (await env.DB.prepare('SELECT count(*) AS n FROM tenant_model_providers WHERE tenant_id = ?').bind(t.id).first<{ n: number }>())!.n;

describe('model provider base URL: DNS-based SSRF checks in production', () => {
  it.each([
    ['loopback', ['127.0.0.1']],
    ['cloud metadata', ['169.254.169.254']],
    ['private 10/8', ['10.0.0.8']],
    ['one private among public ones', [PUBLIC, 'fd00::1']],
  ])('refuses a name that resolves to %s, and stores nothing', async (_, addresses) => {
    const [a, b] = await twoTenants();
    const { providers, fetched, fetcher } = await prodProviders(a, { 'llm.internal-alias.example': addresses });
    await expect(providers.set(input('https://llm.internal-alias.example/v1'))).rejects.toMatchObject({
      code: 'BAD_USER_INPUT', message: 'baseUrl must name a public host', extensions: { field: 'baseUrl' },
    });
    expect(fetcher.queries).toEqual(expect.arrayContaining(['llm.internal-alias.example A', 'llm.internal-alias.example AAAA']));
    expect(fetched).toEqual([]);
    expect(await stored(a)).toBe(0);
    expect(await stored(b)).toBe(0);
  });

  it('refuses ports outside URL_FETCH_PORTS, names that do not resolve, and plain http', async () => {
    const [a] = await twoTenants();
    const { providers } = await prodProviders(a, { 'llm.example': [PUBLIC] });
    await expect(providers.set(input('https://llm.example:8443/v1'))).rejects.toMatchObject({
      code: 'BAD_USER_INPUT', message: 'baseUrl may only use port 80 or 443', extensions: { field: 'baseUrl', reason: 'port' },
    });
    await expect(providers.set(input('https://nowhere.example/v1'))).rejects.toMatchObject({
      code: 'BAD_USER_INPUT', message: 'could not resolve nowhere.example', extensions: { field: 'baseUrl', reason: 'dns' },
    });
    await expect(providers.set(input('http://llm.example/v1'))).rejects.toMatchObject({ code: 'BAD_USER_INPUT', extensions: { field: 'baseUrl' } });
    expect(await stored(a)).toBe(0);
  });

  it('accepts a public name; testModelProvider judges it again and never sends the key to a name that turned private', async () => {
    const [a, b] = await twoTenants();
    const records: DnsTable = { 'llm.example': [PUBLIC] };
    const { providers, fetched } = await prodProviders(a, records);
    await expect(providers.set(input('https://llm.example/v1'))).resolves.toMatchObject({ baseUrl: 'https://llm.example/v1', keyLast4: '1234' });
    await expect(providers.test()).resolves.toMatchObject({ ok: true });
    expect(fetched).toEqual(['https://llm.example/v1/embeddings']);
    // The name now answers a private address (DNS changed after the provider was set).
    records['llm.example'] = ['10.1.2.3'];
    await expect(providers.test()).rejects.toMatchObject({ code: 'BAD_USER_INPUT', extensions: { field: 'baseUrl' } });
    expect(fetched).toHaveLength(1);
    expect(await stored(b)).toBe(0);
  });

  it('a resolver that fails refuses the URL (UPSTREAM_UNAVAILABLE), never waves it through', async () => {
    const [a] = await twoTenants();
    const scope = await scopeOf(a);
    const down = (async () => new Response('bad gateway', { status: 502 })) as typeof fetch;
    const prodEnv = { ...env, ENVIRONMENT: 'production' } as never;
    const session = await openTenantSession(createRoot(prodEnv, { log: silent }), scope.tenant, scope.principal, 'test', { guard: null, fetcher: down });
    await expect(session.services.providers.set(input('https://llm.example/v1'))).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', extensions: { field: 'baseUrl' } });
    expect(await stored(a)).toBe(0);
  });
});
