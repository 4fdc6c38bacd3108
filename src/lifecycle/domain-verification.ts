/**
 * Ownership check of a custom domain (issue 15): the tenant publishes a TXT record
 * `_edgerag-challenge.<domain>` with the value `edgerag-verification=<token>`, and
 * verifyDomain looks it up. Two resolvers give the same answers, so the states are the same
 * in every environment:
 * - `dns` (production): DNS over HTTPS, the JSON API at DNS_RESOLVER_URL (as URL ingestion
 *   resolves names, src/rag/url-source.ts), https://developers.cloudflare.com/1.1.1.1/encryption/dns-over-https/make-api-requests/dns-json/;
 * - `local` (development and tests only, DOMAIN_VERIFIER=local): the `local_dns_records`
 *   table of the catalogue stands in for DNS, so a developer without internet (or without a
 *   domain) can walk through pending → verified / failed.
 */
import type { PlatformStore } from '../db/platform-store';
import { readCapped } from '../lib/streams';

/** The label the TXT record sits under. */
export const CHALLENGE_LABEL = '_edgerag-challenge';
/** The TXT value is this prefix followed by the domain's token. */
export const TXT_PREFIX = 'edgerag-verification=';

export const challengeName = (domain: string) => `${CHALLENGE_LABEL}.${domain}`;
export const challengeValue = (token: string) => `${TXT_PREFIX}${token}`;

/** What a resolver answered for a TXT query. A resolver that cannot answer throws instead. */
export type TxtAnswer = { kind: 'records'; values: string[] } | { kind: 'nxdomain' } | { kind: 'error'; rcode: number };

export interface TxtResolver {
  /** TXT records at `name`; throws when the resolver is unreachable or answers garbage (UPSTREAM_UNAVAILABLE for the caller). */
  txt(name: string): Promise<TxtAnswer>;
}

/** Outcome of one check: verified, or failed with a reason the tenant can act on. */
export type Verdict = { status: 'verified' } | { status: 'failed'; reason: string };

/** DNS RCODE names (RFC 1035 §4.1.1, RFC 6895) for failure reasons. */
const RCODES: Record<number, string> = { 1: 'FORMERR', 2: 'SERVFAIL', 4: 'NOTIMP', 5: 'REFUSED' };
const MAX_DNS_ANSWER_BYTES = 64 * 1024;
const DOH_TIMEOUT_MS = 10_000;

/** Judges an answer: verified when one TXT value (its strings joined, RFC 7208 §3.3) is exactly the expected one. */
export function judgeAnswer(answer: TxtAnswer, domain: string, token: string): Verdict {
  const name = challengeName(domain);
  if (answer.kind === 'nxdomain') return { status: 'failed', reason: `no TXT record at ${name} (the name does not exist)` };
  if (answer.kind === 'error') return { status: 'failed', reason: `the DNS lookup of ${name} failed (${RCODES[answer.rcode] ?? `RCODE ${answer.rcode}`})` };
  if (answer.values.includes(challengeValue(token))) return { status: 'verified' };
  if (answer.values.length === 0) return { status: 'failed', reason: `no TXT record at ${name}` };
  return { status: 'failed', reason: `the TXT records at ${name} do not hold ${challengeValue(token)}` };
}

/**
 * A TXT record's text from the JSON API's `data`: Cloudflare's resolver quotes each
 * character-string (`"abc" "def"`, with `\"` and `\\` escapes), Google's gives the text bare.
 */
export function txtData(data: string): string {
  if (!data.startsWith('"')) return data;
  let out = '';
  const re = /"((?:[^"\\]|\\.)*)"/g;
  for (const m of data.matchAll(re)) out += m[1]!.replace(/\\(\d{3}|.)/g, (_, e: string) => (e.length === 3 ? String.fromCharCode(Number(e)) : e));
  return out;
}

/** DNS over HTTPS (JSON API) through `fetcher`. */
export function dohTxtResolver(fetcher: typeof fetch, resolverUrl: string): TxtResolver {
  return {
    async txt(name) {
      const q = new URL(resolverUrl);
      q.searchParams.set('name', name);
      q.searchParams.set('type', 'TXT');
      const signal = AbortSignal.timeout(DOH_TIMEOUT_MS);
      const res = await fetcher(q.toString(), { headers: { accept: 'application/dns-json' }, signal });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`DNS resolver answered HTTP ${res.status}`);
      }
      const raw = await readCapped(res.body, MAX_DNS_ANSWER_BYTES, () => new Error('DNS answer too large'), signal);
      const body = JSON.parse(new TextDecoder().decode(raw)) as { Status?: unknown; Answer?: { type?: unknown; data?: unknown }[] };
      if (typeof body.Status !== 'number') throw new Error('DNS answer without a Status');
      if (body.Status === 3) return { kind: 'nxdomain' };
      if (body.Status !== 0) return { kind: 'error', rcode: body.Status };
      // CNAMEs come along in Answer; only TXT records (type 16) count.
      const values = (Array.isArray(body.Answer) ? body.Answer : []).filter((a) => a.type === 16 && typeof a.data === 'string').map((a) => txtData(a.data as string));
      return { kind: 'records', values };
    },
  };
}

/** The development stand-in: TXT records from the catalogue's `local_dns_records` table (no row: NXDOMAIN). */
export function localTxtResolver(platform: Pick<PlatformStore, 'localTxtRecords'>): TxtResolver {
  return {
    async txt(name) {
      const values = await platform.localTxtRecords(name);
      return values.length ? { kind: 'records', values } : { kind: 'nxdomain' };
    },
  };
}
