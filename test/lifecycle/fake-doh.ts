/**
 * A DNS-over-HTTPS resolver (JSON API) for TXT lookups, installed by replacing
 * globalThis.fetch for the resolver URL only: the Worker under test runs in the test's
 * isolate, so verifyDomain reaches it exactly as production reaches DNS_RESOLVER_URL.
 * Answers come from a table the test edits between calls.
 */
import { vi } from 'vitest';
import { DEFAULT_DNS_RESOLVER } from '../../src/rag/url-source';

/** TXT data strings as the resolver sends them (Cloudflare quotes each character-string), an RCODE, or an HTTP failure. */
export type FakeTxt = string[] | { rcode: number } | { httpStatus: number };

export interface FakeDoh {
  records: Map<string, FakeTxt>;
  /** Names asked, in order. */
  queries: string[];
  restore(): void;
}

export function installFakeDoh(): FakeDoh {
  const records = new Map<string, FakeTxt>();
  const queries: string[] = [];
  const real = globalThis.fetch;
  const spy = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (`${url.origin}${url.pathname}` !== DEFAULT_DNS_RESOLVER) return real(input, init);
    const name = url.searchParams.get('name')!;
    if (url.searchParams.get('type') !== 'TXT') return Response.json({ Status: 4 });
    queries.push(name);
    const known = records.get(name);
    if (!known) return Response.json({ Status: 3, Answer: [] });
    if ('httpStatus' in known) return new Response('resolver down', { status: known.httpStatus });
    if ('rcode' in known) return Response.json({ Status: known.rcode });
    // A CNAME first, as real resolvers answer for aliased names: only TXT records count.
    const answer = [{ name, type: 5, TTL: 60, data: `alias.${name}.` }, ...known.map((data) => ({ name, type: 16, TTL: 60, data }))];
    return Response.json({ Status: 0, Answer: answer }, { headers: { 'content-type': 'application/dns-json' } });
  });
  return { records, queries, restore: () => spy.mockRestore() };
}
