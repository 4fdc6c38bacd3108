/**
 * SSRF by name (issue 9 item 3). Where private hosts are refused (production), a URL
 * source may use only the allowed ports (80/443 unless URL_FETCH_PORTS says otherwise),
 * and a host name is resolved with DNS over HTTPS before every hop: a name that answers a
 * private, loopback, link-local, CGNAT or reserved address (IPv4 or IPv6) is refused and
 * never fetched. The resolver is the fake in fake-dns.ts, reached through the injected
 * fetcher exactly as production reaches DNS_RESOLVER_URL. Development keeps fetching
 * private URLs without asking DNS.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/env';
import { guardClient } from '../../src/objects/guard-client';
import { createRoot, openTenantSession } from '../../src/tenant-session';
import { fetchUrlSource, isPublicAddress } from '../../src/rag/url-source';
import { twoTenants } from '../helpers';
import { withDns, type DnsTable } from './fake-dns';
import { scopeOf } from './keyword-helpers';

const PUBLIC = '93.184.216.34';
const INTERNAL = 'the internal admin page';

/** A web where `vm` is a hosts-file style name for this machine and everything answers INTERNAL. */
function web(records: DnsTable = {}) {
  const fetched: string[] = [];
  const fetcher = withDns({ 'docs.example': [PUBLIC, '2606:2800:220:1:248:1893:25c8:1946'], ...records }, (async (input: RequestInfo | URL) => {
    const url = String(input);
    fetched.push(url);
    if (url.startsWith('https://docs.example/redirect-to-vm')) return new Response(null, { status: 302, headers: { location: 'http://vm/admin' } });
    if (url.startsWith('https://docs.example/redirect-to-port')) return new Response(null, { status: 301, headers: { location: 'https://docs.example:8443/x' } });
    if (url.startsWith('https://docs.example/redirect-to-public')) return new Response(null, { status: 302, headers: { location: 'https://cdn.example/doc.txt' } });
    if (url.startsWith('https://cdn.example/') || url.startsWith('https://docs.example/')) return new Response('public text', { headers: { 'content-type': 'text/plain' } });
    return new Response(INTERNAL, { headers: { 'content-type': 'text/plain' } });
  }) as typeof fetch);
  return { fetcher, fetched };
}

const prod = (fetcher: typeof fetch, extra: { allowedPorts?: number[] } = {}) => ({ maxBytes: 10_000, allowPrivateHosts: false, fetcher, ...extra });

describe('URL sources: names are resolved and judged by their addresses (production)', () => {
  it.each([
    ['loopback', ['127.0.0.1']],
    ['loopback (IPv6)', ['::1']],
    ['private 10/8', ['10.1.2.3']],
    ['private 172.16/12', ['172.20.0.5']],
    ['private 192.168/16', ['192.168.1.10']],
    ['link-local (cloud metadata)', ['169.254.169.254']],
    ['CGNAT 100.64/10', ['100.100.1.1']],
    ['this network 0/8', ['0.0.0.0']],
    ['benchmarking 198.18/15', ['198.18.0.1']],
    ['documentation 203.0.113/24', ['203.0.113.9']],
    ['reserved 240/4', ['240.0.0.1']],
    ['multicast', ['239.1.1.1']],
    ['unique local fc00::/7', ['fd12:3456::1']],
    ['link-local fe80::/10', ['fe80::1']],
    ['IPv4-mapped private', ['::ffff:10.0.0.1']],
    ['NAT64 of loopback', ['64:ff9b::7f00:1']],
    ['documentation 2001:db8::/32', ['2001:db8::1']],
    ['Teredo 2001::/32', ['2001:0:4136:e378::1']],
    ['one private among public ones', [PUBLIC, '10.0.0.7']],
    ['one private AAAA beside a public A', [PUBLIC, 'fd00::7']],
    ['an answer that is not an address', ['not-an-ip']],
  ])('refuses a name that resolves to %s, and never fetches it', async (_, addresses) => {
    const { fetcher, fetched } = web({ vm: addresses });
    const err = await fetchUrlSource('http://vm/admin', prod(fetcher)).catch((e) => e);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', message: 'url must name a public host', extensions: { field: 'url' } });
    expect(fetched).toEqual([]);
    expect(fetcher.queries).toEqual(expect.arrayContaining(['vm A', 'vm AAAA']));
  });

  it('fetches a name whose every address is public', async () => {
    const { fetcher, fetched } = web();
    const r = await fetchUrlSource('https://docs.example/guide.txt', prod(fetcher));
    expect(new TextDecoder().decode(r.bytes)).toBe('public text');
    expect(fetched).toEqual(['https://docs.example/guide.txt']);
    expect(fetcher.queries.sort()).toEqual(['docs.example A', 'docs.example AAAA']);
  });

  it('re-checks every redirect hop: a redirect to a private name is refused before it is fetched', async () => {
    const { fetcher, fetched } = web({ vm: ['127.0.0.1'] });
    const err = await fetchUrlSource('https://docs.example/redirect-to-vm', prod(fetcher)).catch((e) => e);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', message: 'url must name a public host' });
    expect(fetched).toEqual(['https://docs.example/redirect-to-vm']);
    expect(fetcher.queries).toContain('vm A');
    // A redirect to another public name is resolved too, then followed.
    const ok = web({ 'cdn.example': ['151.101.1.1'] });
    const r = await fetchUrlSource('https://docs.example/redirect-to-public', prod(ok.fetcher));
    expect(r.finalUrl).toBe('https://cdn.example/doc.txt');
    expect(ok.fetcher.queries).toEqual(expect.arrayContaining(['docs.example A', 'cdn.example A', 'cdn.example AAAA']));
  });

  it('allows only ports 80 and 443 by default, on the first URL and on redirects; URL_FETCH_PORTS widens the list', async () => {
    const { fetcher, fetched } = web({ vm: [PUBLIC] });
    for (const url of ['http://vm:31500/x', 'https://docs.example:8443/x', 'http://docs.example:22/', `http://${PUBLIC}:6379/`]) {
      const err = await fetchUrlSource(url, prod(fetcher)).catch((e) => e);
      expect(err, url).toMatchObject({ code: 'BAD_USER_INPUT', message: 'url may only use port 80 or 443', extensions: { field: 'url', reason: 'port' } });
    }
    expect(fetched).toEqual([]);
    const hop = await fetchUrlSource('https://docs.example/redirect-to-port', prod(fetcher)).catch((e) => e);
    expect(hop).toMatchObject({ message: 'url may only use port 80 or 443' });
    // Explicit default ports are the same port.
    await expect(fetchUrlSource('https://docs.example:443/a', prod(fetcher))).resolves.toMatchObject({ finalUrl: 'https://docs.example/a' });
    await expect(fetchUrlSource('https://docs.example:8443/a', prod(fetcher, { allowedPorts: [443, 8443] }))).resolves.toMatchObject({ finalUrl: 'https://docs.example:8443/a' });
  });

  it('refuses a name that does not resolve, and says the resolver is unavailable when it is', async () => {
    const { fetcher, fetched } = web();
    await expect(fetchUrlSource('https://nowhere.example/x', prod(fetcher))).rejects.toMatchObject({
      code: 'BAD_USER_INPUT', message: 'could not resolve nowhere.example', extensions: { field: 'url', reason: 'dns' },
    });
    // A resolver that fails (502) refuses the URL; it is never waved through.
    const down = (async () => new Response('bad gateway', { status: 502 })) as typeof fetch;
    const err = await fetchUrlSource('https://docs.example/x', prod(down)).catch((e) => e);
    expect(err).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', message: 'could not resolve docs.example: the DNS resolver is unavailable, try again' });
    expect(JSON.stringify(err.extensions)).not.toMatch(/502|bad gateway/);
    expect(fetched).toEqual([]);
  });

  it('asks the configured resolver', async () => {
    const custom = 'https://dns.google/resolve';
    const fetcher = withDns({ 'docs.example': [PUBLIC] }, (async () => new Response('public text', { headers: { 'content-type': 'text/plain' } })) as typeof fetch, custom);
    await expect(fetchUrlSource('https://docs.example/a', { ...prod(fetcher), resolverUrl: custom })).resolves.toMatchObject({ contentType: 'text/plain' });
    expect(fetcher.queries).toHaveLength(2);
  });

  it('development (private hosts allowed) fetches private names and ports without asking DNS, as before', async () => {
    const { fetcher, fetched } = web({ vm: ['127.0.0.1'] });
    const r = await fetchUrlSource('http://vm:31500/admin', { maxBytes: 10_000, allowPrivateHosts: true, fetcher });
    expect(new TextDecoder().decode(r.bytes)).toBe(INTERNAL);
    expect(fetched).toEqual(['http://vm:31500/admin']);
    expect(fetcher.queries).toEqual([]);
  });

  it('judges resolver answers strictly', () => {
    for (const a of [PUBLIC, '8.8.8.8', '2606:4700::1111', '2a00:1450:4001:82b::200e', '::ffff:8.8.8.8']) expect(isPublicAddress(a), a).toBe(true);
    for (const a of ['127.0.0.1', '256.1.1.1', '1.2.3', '', 'fe80::1%eth0', '::', 'example.com', '3fff::1', '100::1', '64:ff9b:1::1']) expect(isPublicAddress(a), a).toBe(false);
  });
});

describe('URL ingestion wired with the production configuration', () => {
  it('refuses a hosts-file name for this machine and a redirect to it; stores nothing; the other tenant is untouched', async () => {
    const [a, b] = await twoTenants();
    const config = loadConfig({ ...env, ENVIRONMENT: 'production', URL_FETCH_PORTS: '', DNS_RESOLVER_URL: '' } as never);
    expect(config.urlFetch).toEqual({ ports: [80, 443], resolverUrl: 'https://cloudflare-dns.com/dns-query' });
    const { fetcher, fetched } = web({ vm: ['127.0.0.1'] });
    const scope = await scopeOf(a);
    const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const prodEnv = { ...env, ENVIRONMENT: 'production', URL_FETCH_PORTS: '', DNS_RESOLVER_URL: '' } as never;
    const root = createRoot(prodEnv, { log: silent });
    const session = await openTenantSession(root, scope.tenant, scope.principal, 'test', {
      guard: guardClient(env.TENANT_GUARD, a.id, silent),
      fetcher,
    });
    const { ingestion } = session.services;
    for (const url of ['http://vm/admin', 'http://vm:31500/admin', 'https://docs.example/redirect-to-vm']) {
      await expect(ingestion!.ingest({ name: `from ${url}`, url }), url).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    }
    expect(fetched.filter((u) => new URL(u).hostname === 'vm')).toEqual([]);
    expect(fetched).toEqual(['https://docs.example/redirect-to-vm']);
    for (const t of [a, b]) {
      const n = await env.DB.prepare('SELECT count(*) AS n FROM documents WHERE tenant_id = ?').bind(t.id).first<{ n: number }>();
      expect(n!.n).toBe(0);
    }
    // A public source is still ingested.
    await expect(ingestion!.ingest({ name: 'guide.txt', url: 'https://docs.example/guide.txt' })).resolves.toMatchObject({ sourceUrl: 'https://docs.example/guide.txt' });
  });

  it('validates URL_FETCH_PORTS and DNS_RESOLVER_URL with messages that name them', () => {
    for (const bad of ['0', '80,', 'http', '70000', '80;443']) expect(() => loadConfig({ ...env, URL_FETCH_PORTS: bad } as never), bad).toThrow(/URL_FETCH_PORTS/);
    for (const bad of ['http://cloudflare-dns.com/dns-query', 'cloudflare-dns.com', 'https://']) expect(() => loadConfig({ ...env, DNS_RESOLVER_URL: bad } as never), bad).toThrow(/DNS_RESOLVER_URL/);
    expect(loadConfig({ ...env, URL_FETCH_PORTS: '443, 8443' } as never).urlFetch.ports).toEqual([443, 8443]);
  });
});
