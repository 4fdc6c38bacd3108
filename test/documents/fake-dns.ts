/**
 * A DNS-over-HTTPS resolver for tests, reached the way production reaches Cloudflare's:
 * through the fetcher that URL ingestion is given. `withDns` answers the JSON API
 * (`?name=…&type=A|AAAA`, `accept: application/dns-json`) at the resolver URL from a
 * table and hands every other request to `next`.
 */
import { DEFAULT_DNS_RESOLVER } from '../../src/rag/url-source';

export type DnsTable = Record<string, string[]>;

export interface DnsFetcher {
  (input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** Every query asked, as "name type". */
  queries: string[];
}

export function withDns(records: DnsTable, next: typeof fetch = () => Promise.reject(new TypeError('no network in this test')), resolver = DEFAULT_DNS_RESOLVER): DnsFetcher {
  const queries: string[] = [];
  const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (`${url.origin}${url.pathname}` !== resolver) return next(input, init);
    const name = url.searchParams.get('name')!;
    const type = url.searchParams.get('type')!;
    queries.push(`${name} ${type}`);
    const known = records[name];
    if (!known) return Response.json({ Status: 3, Answer: [] });
    const wanted = known.filter((a) => (type === 'AAAA' ? a.includes(':') : !a.includes(':')));
    // A CNAME first, as real resolvers answer for aliased names: only the addresses count.
    const answer = [{ name, type: 5, TTL: 60, data: `alias.${name}.` }, ...wanted.map((data) => ({ name: `alias.${name}`, type: type === 'AAAA' ? 28 : 1, TTL: 60, data }))];
    return Response.json({ Status: 0, Answer: answer }, { headers: { 'content-type': 'application/dns-json' } });
  }) as DnsFetcher;
  fetcher.queries = queries;
  return fetcher;
}
