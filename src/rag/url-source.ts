/**
 * Fetching a document from a URL for ingestion: http(s) only, a timeout, redirects
 * followed by hand (at most 3), and a byte cap enforced while streaming — a lying or
 * absent Content-Length cannot make the Worker buffer more than the plan allows.
 *
 * SSRF (production, where private hosts are refused): the URL may name only an allowed
 * port (80 and 443 by default), no private host literal, and a name only if every
 * address it resolves to is public. Names are resolved with DNS over HTTPS (the JSON API
 * of Cloudflare's or Google's resolver) because Workers have no resolver API of their
 * own. Every redirect hop is checked the same way before it is fetched. This is the
 * application-level check; `fetch()` resolves the name again, so a name that answers
 * differently the second time (DNS rebinding) is stopped only by the network layer:
 * Cloudflare's egress, or workerd's `internet` service allowing public addresses only
 * (README "Hardening").
 */
import { AppError } from '../lib/errors';
import { INPUT_LIMITS } from '../lib/input';
import { readCapped } from '../lib/streams';

export interface FetchedSource {
  bytes: Uint8Array;
  contentType: string | null;
  finalUrl: string;
}

export interface UrlFetchOptions {
  maxBytes: number;
  /** Development and tests may ingest from localhost and any port, without DNS checks; production never. */
  allowPrivateHosts: boolean;
  /** Fetches the document and, when names are resolved, asks the DNS-over-HTTPS resolver. */
  fetcher: typeof fetch;
  timeoutMs?: number;
  /** Ports a URL may name when private hosts are refused (URL_FETCH_PORTS; default 80 and 443). */
  allowedPorts?: readonly number[];
  /** DNS-over-HTTPS JSON endpoint used when private hosts are refused (DNS_RESOLVER_URL). */
  resolverUrl?: string;
}

/** The ports a production URL source may use unless URL_FETCH_PORTS says otherwise. */
export const DEFAULT_URL_PORTS: readonly number[] = [80, 443];
/** Cloudflare's DNS-over-HTTPS resolver (JSON API, https://developers.cloudflare.com/1.1.1.1/encryption/dns-over-https/make-api-requests/dns-json/). */
export const DEFAULT_DNS_RESOLVER = 'https://cloudflare-dns.com/dns-query';

const MAX_REDIRECTS = 3;
/** A DNS answer is a few hundred bytes; anything near this is not one. */
const MAX_DNS_ANSWER_BYTES = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 15_000;

/**
 * IPv4 blocks that are not globally reachable (IANA special-purpose registry, RFC 6890 and
 * successors): this network, private, CGNAT (RFC 6598), loopback, link-local, IETF protocol
 * assignments, documentation, 6to4 relay, benchmarking, multicast, reserved and broadcast.
 */
const V4_BLOCKS: readonly [string, number][] = [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
];
const v4Number = (a: number[]) => ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0;
const V4_RANGES = V4_BLOCKS.map(([base, bits]) => {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { net: (v4Number(base.split('.').map(Number)) & mask) >>> 0, mask };
});

/** The four octets of a dotted IPv4 literal, or null. */
function v4Octets(h: string): number[] | null {
  const m = h.match(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/);
  if (!m) return null;
  const octets = m.slice(1).map(Number);
  return octets.some((x) => x > 255) ? null : octets;
}

function isSpecialV4(octets: number[]): boolean {
  const n = v4Number(octets);
  return V4_RANGES.some((r) => ((n & r.mask) >>> 0) === r.net);
}

/**
 * True for an IPv6 address that is not globally reachable, or that embeds an IPv4 address
 * that is not: outside 2000::/3 (loopback, unspecified, ULA fc00::/7, link-local, site-local,
 * multicast, discard-only 100::/64, local NAT64 64:ff9b:1::/48 …), IETF protocol assignments
 * 2001::/23 (Teredo, benchmarking, ORCHID), documentation 2001:db8::/32 and 3fff::/20.
 */
function isSpecialV6(g: number[]): boolean {
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 8) || (zeros(0, 7) && g[7] === 1)) return true;
  // IPv4 inside IPv6: mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, SIIT ::ffff:0:a.b.c.d,
  // NAT64 64:ff9b::a.b.c.d and 6to4 2002:AABB:CCDD::. new URL() writes them in hex
  // ([::ffff:7f00:1]), so the embedded address is read from the groups, not the text.
  const v4 = (hi: number, lo: number) => isSpecialV4([hi >> 8, hi & 255, lo >> 8, lo & 255]);
  if (zeros(0, 5) && (g[5] === 0 || g[5] === 0xffff)) return v4(g[6]!, g[7]!);
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return v4(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return v4(g[6]!, g[7]!);
  if (g[0] === 0x2002) return v4(g[1]!, g[2]!);
  if ((g[0]! & 0xe000) !== 0x2000) return true;
  if (g[0] === 0x2001 && (g[1]! < 0x200 || g[1] === 0xdb8)) return true;
  return g[0] === 0x3fff && (g[1]! & 0xf000) === 0;
}

/** True for hosts that name this machine or a private network (IPv4/IPv6 literals and local names). */
export function isPrivateHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost') || h.endsWith('.local') || h.endsWith('.internal') || h === '') return true;
  // (WHATWG URL parsing already turns decimal/hex IPv4 spellings like 2130706433 into dotted form.)
  const v4 = v4Octets(h);
  if (v4) return isSpecialV4(v4);
  if (/^\d+(\.\d+){3}$/.test(h)) return true; // dotted, but not an address (an octet over 255)
  if (h.includes(':')) {
    const g = ipv6Groups(h);
    // Not a literal we can read: refuse rather than guess.
    return g ? isSpecialV6(g) : true;
  }
  return false;
}

/**
 * True only for a well-formed IPv4 or IPv6 address that is globally reachable. What a
 * resolver answers is judged with this: anything unreadable counts as not public.
 */
export function isPublicAddress(text: string): boolean {
  const v4 = v4Octets(text);
  if (v4) return !isSpecialV4(v4);
  const g = text.includes(':') ? ipv6Groups(text.toLowerCase()) : null;
  return g ? !isSpecialV6(g) : false;
}

/** The eight 16-bit groups of an IPv6 literal (with `::` and a dotted IPv4 tail), or null. */
function ipv6Groups(h: string): number[] | null {
  let text = h.split('%')[0]!;
  const tail = text.match(/^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/);
  if (tail) {
    const b = tail.slice(2).map(Number);
    if (b.some((x) => x > 255)) return null;
    text = `${tail[1]}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const part = (s: string) => (s === '' ? [] : s.split(':'));
  const head = part(halves[0]!);
  const rest = halves.length === 2 ? part(halves[1]!) : [];
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  if (fill < 0 || (halves.length === 1 && head.length !== 8)) return null;
  const all = [...head, ...Array<string>(fill).fill('0'), ...rest];
  if (all.length !== 8 || all.some((x) => !/^[0-9a-f]{1,4}$/.test(x))) return null;
  return all.map((x) => parseInt(x, 16));
}

/** The input field a URL came in, named by its errors: `url` for documents, `baseUrl` for providers, `url` for webhooks. */
type Field = string;
const badUrl = (message: string, extra: Record<string, unknown> = {}, field: Field = 'url') => new AppError('BAD_USER_INPUT', message, { field, ...extra });

/** Everything that can be judged from the URL text alone. */
function checkUrl(raw: string, opts: UrlFetchOptions, field: Field = 'url'): URL {
  const bad = (message: string, extra: Record<string, unknown> = {}) => badUrl(`${field} ${message}`, extra, field);
  if (raw.length > INPUT_LIMITS.url) throw bad(`must be at most ${INPUT_LIMITS.url} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad('is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad('must use http or https');
  if (url.username || url.password) throw bad('must not carry credentials');
  if (!opts.allowPrivateHosts) {
    if (isPrivateHost(url.hostname)) throw bad('must name a public host');
    // new URL() drops a port that is the scheme's default, so '' means 80 or 443.
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    const ports = opts.allowedPorts ?? DEFAULT_URL_PORTS;
    if (!ports.includes(port)) throw bad(`may only use port ${ports.join(' or ')}`, { reason: 'port' });
  }
  return url;
}

/** What `checkPublicUrl` needs: the URL-ingestion rules without the download's byte cap. */
export type PublicUrlOptions = Omit<UrlFetchOptions, 'maxBytes'> & {
  /** The input field errors name (default `url`). */
  field?: string;
};

/**
 * The URL-ingestion SSRF rules for a URL the Worker will call later (a tenant's model
 * provider, a webhook): http(s), no credentials, and where private hosts are refused
 * (production) an allowed port, no private literal, and a name whose every DNS-over-HTTPS
 * answer is public. BAD_USER_INPUT names `field`; an unreachable resolver is
 * UPSTREAM_UNAVAILABLE (the URL is refused, never waved through). Returns the parsed URL.
 */
export async function checkPublicUrl(raw: string, opts: PublicUrlOptions): Promise<URL> {
  const field = opts.field ?? 'url';
  const full: UrlFetchOptions = { ...opts, maxBytes: 0 };
  const url = checkUrl(raw, full, field);
  const signal = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  await checkResolved(url, full, signal, (host) => badUrl(`could not resolve ${host}: timed out`, { reason: 'timeout' }, field), field);
  return url;
}

const isIpLiteral = (hostname: string) => hostname.startsWith('[') || v4Octets(hostname) !== null;

interface DohAnswer {
  Status?: number;
  Answer?: { type?: number; data?: unknown }[];
}

/** One DNS-over-HTTPS JSON query; null for NXDOMAIN. Throws on anything a resolver should not answer. */
async function dohQuery(opts: UrlFetchOptions, host: string, type: 'A' | 'AAAA', signal: AbortSignal): Promise<string[] | null> {
  const q = new URL(opts.resolverUrl ?? DEFAULT_DNS_RESOLVER);
  q.searchParams.set('name', host);
  q.searchParams.set('type', type);
  const res = await opts.fetcher(q.toString(), { headers: { accept: 'application/dns-json' }, signal });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`DNS resolver answered HTTP ${res.status}`);
  }
  // Capped and under the deadline like a document: a resolver is a remote party too.
  const raw = await readCapped(res.body, MAX_DNS_ANSWER_BYTES, () => new Error('DNS answer too large'), signal);
  const body = JSON.parse(new TextDecoder().decode(raw)) as DohAnswer;
  if (body.Status === 3) return null; // NXDOMAIN
  if (body.Status !== 0) return []; // SERVFAIL, REFUSED…: no usable answer
  const rr = type === 'A' ? 1 : 28;
  // CNAME records come along in Answer; only the addresses at the end of the chain count.
  return (body.Answer ?? []).filter((a) => a.type === rr).map((a) => String(a.data));
}

/**
 * Resolves a host name (A and AAAA) and refuses it unless it has addresses and every one
 * of them is public: one private answer among public ones is enough for fetch() to pick it.
 */
async function checkResolved(url: URL, opts: UrlFetchOptions, signal: AbortSignal, failed: (host: string) => AppError, field: Field = 'url'): Promise<void> {
  if (opts.allowPrivateHosts || isIpLiteral(url.hostname)) return;
  const host = url.hostname.replace(/\.$/, '');
  let answers: (string[] | null)[];
  try {
    answers = await Promise.all([dohQuery(opts, host, 'A', signal), dohQuery(opts, host, 'AAAA', signal)]);
  } catch (err) {
    if (signal.aborted) throw failed(url.host);
    const unavailable = new AppError('UPSTREAM_UNAVAILABLE', `could not resolve ${host}: the DNS resolver is unavailable, try again`, { field });
    unavailable.cause = err; // for the log, never the client (extensions carry no detail)
    throw unavailable;
  }
  const addresses = answers.flatMap((a) => a ?? []);
  if (addresses.length === 0) throw badUrl(`could not resolve ${host}`, { reason: 'dns' }, field);
  if (!addresses.every(isPublicAddress)) throw badUrl(`${field} must name a public host`, {}, field);
}

/** Downloads `raw` within the limits; client-facing errors are BAD_USER_INPUT or PAYLOAD_TOO_LARGE. */
export async function fetchUrlSource(raw: string, opts: UrlFetchOptions): Promise<FetchedSource> {
  let url = checkUrl(raw, opts);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // One deadline for the whole download: every redirect hop and the body.
  const signal = AbortSignal.timeout(timeoutMs);
  const seconds = timeoutMs / 1000;
  const failed = (host: string, phase: 'fetch' | 'read') => {
    const what = phase === 'fetch' ? host : `the document from ${host}`;
    return signal.aborted
      ? new AppError('BAD_USER_INPUT', `could not ${phase} ${what}: timed out after ${seconds} seconds`, { field: 'url', reason: 'timeout', timeoutSeconds: seconds })
      : new AppError('BAD_USER_INPUT', `could not ${phase} ${what}`, { field: 'url' });
  };
  for (let hop = 0; ; hop++) {
    // Names are resolved for every hop, the first one and each redirect target.
    await checkResolved(url, opts, signal, (host) => failed(host, 'fetch'));
    let res: Response;
    try {
      res = await opts.fetcher(url.toString(), { redirect: 'manual', signal, headers: { accept: 'text/html, text/markdown, text/plain, application/pdf;q=0.9, */*;q=0.1' } });
    } catch {
      throw failed(url.host, 'fetch');
    }
    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw new AppError('BAD_USER_INPUT', 'url redirects too many times', { field: 'url' });
      url = checkUrl(new URL(res.headers.get('location')!, url).toString(), opts);
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new AppError('BAD_USER_INPUT', `url answered HTTP ${res.status}`, { field: 'url' });
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > opts.maxBytes) {
      await res.body?.cancel();
      throw new AppError('PAYLOAD_TOO_LARGE', `document is larger than ${opts.maxBytes} bytes`, { limit: opts.maxBytes });
    }
    let bytes: Uint8Array;
    try {
      bytes = await readCapped(
        res.body,
        opts.maxBytes,
        () => new AppError('PAYLOAD_TOO_LARGE', `document is larger than ${opts.maxBytes} bytes`, { limit: opts.maxBytes }),
        signal,
      );
    } catch (err) {
      if (err instanceof AppError) throw err;
      // A body that stalls or breaks off is the source's failure, not an unexpected one of ours.
      throw failed(url.host, 'read');
    }
    return { bytes, contentType: res.headers.get('content-type'), finalUrl: url.toString() };
  }
}
