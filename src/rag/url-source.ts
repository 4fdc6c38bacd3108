/**
 * Fetching a document from a URL for ingestion: http(s) only, private and loopback
 * hosts refused in production (SSRF), redirects followed by hand (at most 3, each
 * re-checked), a timeout, and a byte cap enforced while streaming — a lying or absent
 * Content-Length cannot make the Worker buffer more than the plan allows.
 */
import { AppError } from '../lib/errors';
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
    if (h === '::' || h === '::1') return true;
    if (/^f[cd][0-9a-f]{2}:/.test(h) || /^fe[89ab][0-9a-f]:/.test(h)) return true;
    const mapped = h.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/);
    if (mapped) return isPrivateHost(mapped[1]!);
  }
  return false;
}

function checkUrl(raw: string, allowPrivate: boolean): URL {
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
  const signal = AbortSignal.timeout(opts.timeoutMs ?? 15_000);
  for (let hop = 0; ; hop++) {
    let res: Response;
    try {
      res = await opts.fetcher(url.toString(), { redirect: 'manual', signal, headers: { accept: 'text/html, text/markdown, text/plain, application/pdf;q=0.9, */*;q=0.1' } });
    } catch {
      throw new AppError('BAD_USER_INPUT', `could not fetch ${url.host}`, { field: 'url' });
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
    const bytes = await readCapped(res.body, opts.maxBytes, () =>
      new AppError('PAYLOAD_TOO_LARGE', `document is larger than ${opts.maxBytes} bytes`, { limit: opts.maxBytes }),
    );
    return { bytes, contentType: res.headers.get('content-type'), finalUrl: url.toString() };
  }
}
