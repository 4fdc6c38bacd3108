/**
 * Fetching a document from a URL for ingestion: http(s) only, private and loopback
 * hosts refused in production (SSRF), redirects followed by hand (at most 3, each
 * re-checked), a timeout, and a byte cap enforced while streaming — a lying or absent
 * Content-Length cannot make the Worker buffer more than the plan allows.
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
  /** Development and tests may ingest from localhost; production never. */
  allowPrivateHosts: boolean;
  fetcher: typeof fetch;
  timeoutMs?: number;
}

const MAX_REDIRECTS = 3;
const DEFAULT_TIMEOUT_MS = 15_000;

/** True for hosts that name this machine or a private network (IPv4/IPv6 literals and local names). */
export function isPrivateHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost') || h.endsWith('.local') || h.endsWith('.internal') || h === '') return true;
  const v4 = h.match(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127) || a >= 224;
  }
  // (WHATWG URL parsing already turns decimal/hex IPv4 spellings like 2130706433 into dotted form.)
  if (h.includes(':')) {
    const g = ipv6Groups(h);
    // Not a literal we can read: refuse rather than guess.
    if (!g) return true;
    if (g.every((x) => x === 0) || (g.slice(0, 7).every((x) => x === 0) && g[7] === 1)) return true;
    if ((g[0]! & 0xfe00) === 0xfc00 || (g[0]! & 0xffc0) === 0xfe80 || (g[0]! & 0xff00) === 0xff00) return true;
    // IPv4 inside IPv6: mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, SIIT ::ffff:0:a.b.c.d,
    // NAT64 64:ff9b::a.b.c.d and 6to4 2002:AABB:CCDD::. new URL() writes them in hex
    // ([::ffff:7f00:1]), so the embedded address is read from the groups, not the text.
    const v4 = (hi: number, lo: number) => isPrivateHost(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
    const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
    if (zeros(0, 5) && (g[5] === 0 || g[5] === 0xffff)) return v4(g[6]!, g[7]!);
    if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return v4(g[6]!, g[7]!);
    if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return v4(g[6]!, g[7]!);
    if (g[0] === 0x2002) return v4(g[1]!, g[2]!);
  }
  return false;
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

function checkUrl(raw: string, allowPrivate: boolean): URL {
  if (raw.length > INPUT_LIMITS.url) throw new AppError('BAD_USER_INPUT', `url must be at most ${INPUT_LIMITS.url} characters`, { field: 'url' });
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError('BAD_USER_INPUT', 'url is not a valid URL', { field: 'url' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AppError('BAD_USER_INPUT', 'url must use http or https', { field: 'url' });
  }
  if (url.username || url.password) throw new AppError('BAD_USER_INPUT', 'url must not carry credentials', { field: 'url' });
  if (!allowPrivate && isPrivateHost(url.hostname)) {
    throw new AppError('BAD_USER_INPUT', 'url must name a public host', { field: 'url' });
  }
  return url;
}

/** Downloads `raw` within the limits; client-facing errors are BAD_USER_INPUT or PAYLOAD_TOO_LARGE. */
export async function fetchUrlSource(raw: string, opts: UrlFetchOptions): Promise<FetchedSource> {
  let url = checkUrl(raw, opts.allowPrivateHosts);
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
    let res: Response;
    try {
      res = await opts.fetcher(url.toString(), { redirect: 'manual', signal, headers: { accept: 'text/html, text/markdown, text/plain, application/pdf;q=0.9, */*;q=0.1' } });
    } catch {
      throw failed(url.host, 'fetch');
    }
    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw new AppError('BAD_USER_INPUT', 'url redirects too many times', { field: 'url' });
      url = checkUrl(new URL(res.headers.get('location')!, url).toString(), opts.allowPrivateHosts);
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
