/**
 * Declared content types are read case-insensitively and with parameters (RFC 9110 §8.3.1:
 * type and subtype are case-insensitive), for uploads and URLs; a URL that does not answer
 * in time says that it timed out, and after how long.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import worker from '../../src/index';
import { detectMime } from '../../src/rag/extract';
import { fetchUrlSource } from '../../src/rag/url-source';
import { withDns } from './fake-dns';
import { codeOf, createTenant, type GqlResult, type TestTenant } from '../helpers';
import { ingest } from './doc-helpers';

describe('detectMime', () => {
  it('ignores case, surrounding space and parameters of the declared type', () => {
    const cases: [string, string | null, string | null][] = [
      ['TEXT/PLAIN', 'notes', 'text/plain'],
      ['text/plain; charset=utf-8', 'notes', 'text/plain'],
      ['Text/Plain;Charset="UTF-8"', null, 'text/plain'],
      ['  TEXT/HTML ; charset=ISO-8859-1', 'page', 'text/html'],
      ['Text/Markdown; variant=GFM', 'readme', 'text/markdown'],
      ['TEXT/X-MARKDOWN', null, 'text/markdown'],
      ['APPLICATION/PDF', 'scan', 'application/pdf'],
      ['Application/XHTML+XML; charset=utf-8', null, 'text/html'],
      // A generic declared type defers to the name, whatever its case.
      ['TEXT/PLAIN; charset=utf-8', 'Guide.MD', 'text/markdown'],
      ['Application/Octet-Stream', 'guide.md', 'text/markdown'],
      ['IMAGE/PNG', 'a.png', null],
    ];
    for (const [declared, name, expected] of cases) expect(detectMime(declared, name), `${declared} ${name}`).toBe(expected);
  });
});

/** A multipart upload written by hand, so the part's Content-Type goes on the wire exactly as given. */
async function rawUpload(t: TestTenant, filename: string, contentType: string, content: string): Promise<GqlResult> {
  const boundary = `b${crypto.randomUUID()}`;
  const operations = JSON.stringify({
    query: 'mutation($input: IngestDocumentInput!) { ingestDocument(input: $input) { id status mimeType } }',
    variables: { input: { name: `upload-${crypto.randomUUID()}`, file: null } },
  });
  const body = [
    `--${boundary}`, 'Content-Disposition: form-data; name="operations"', '', operations,
    `--${boundary}`, 'Content-Disposition: form-data; name="map"', '', JSON.stringify({ 0: ['variables.input.file'] }),
    `--${boundary}`, `Content-Disposition: form-data; name="0"; filename="${filename}"`, `Content-Type: ${contentType}`, '', content,
    `--${boundary}--`, '',
  ].join('\r\n');
  const request = new Request('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, authorization: `Bearer ${t.token}` },
    body,
  });
  // The ingest queue is held (a producer that drops): only acceptance is under test here.
  const held = { send: async () => undefined, sendBatch: async () => undefined } as unknown as Env['INGEST_QUEUE'];
  const ctx = createExecutionContext();
  const res = await (worker as ExportedHandler<Env>).fetch!(request as Request<unknown, IncomingRequestCfProperties>, { ...env, INGEST_QUEUE: held } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, body: await res.json() };
}

describe('uploads with upper-case or parameterised part types', () => {
  it('accepts TEXT/PLAIN, text/plain; charset=utf-8 and TEXT/HTML parts without a telling file name', async () => {
    const t = await createTenant();
    for (const [filename, type, expected] of [
      ['notes', 'TEXT/PLAIN', 'text/plain'],
      ['notes', 'text/plain; charset=utf-8', 'text/plain'],
      ['page', 'TEXT/HTML; Charset=UTF-8', 'text/html'],
      ['readme', 'Text/Markdown', 'text/markdown'],
    ]) {
      const r = await rawUpload(t, filename!, type!, '# Title\n\nSome words to keep.');
      expect(r.body.errors, type).toBeUndefined();
      expect(r.body.data.ingestDocument).toMatchObject({ status: 'PENDING', mimeType: expected });
    }
    const png = await rawUpload(t, 'image', 'IMAGE/PNG', 'not text');
    expect(codeOf(png)).toBe('BAD_USER_INPUT');
    expect(png.body.errors![0]!.extensions!.field).toBe('file');
  });
});

describe('URL sources', () => {
  afterEach(() => vi.restoreAllMocks());

  it('reads an upper-case Content-Type with parameters from the server', async () => {
    const t = await createTenant();
    const url = `https://docs-${crypto.randomUUID()}.example.org/page`;
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      if (String(input instanceof Request ? input.url : input) === url) {
        return new Response('<h1>Refunds</h1><p>Paid within 14 days.</p>', { headers: { 'content-type': 'TEXT/HTML; Charset=UTF-8' } });
      }
      return realFetch(input, init);
    });
    const r = await ingest(t, { name: 'page', url });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.ingestDocument).toMatchObject({ mimeType: 'text/html', sourceType: 'url' });
  });

  const neverAnswers = (async (_input: RequestInfo | URL, init?: RequestInit) =>
    new Promise<Response>((_resolve, reject) => {
      if (init?.signal?.aborted) reject(init.signal.reason);
      init?.signal?.addEventListener('abort', () => reject(init.signal!.reason));
    })) as typeof fetch;

  it('says that a source timed out, and after how many seconds', async () => {
    const err = await fetchUrlSource('http://127.0.0.1:8898/slow', { maxBytes: 1000, allowPrivateHosts: true, fetcher: neverAnswers, timeoutMs: 50 }).catch((e) => e);
    expect(err).toMatchObject({
      code: 'BAD_USER_INPUT',
      message: 'could not fetch 127.0.0.1:8898: timed out after 0.05 seconds',
      extensions: { field: 'url', reason: 'timeout', timeoutSeconds: 0.05 },
    });
    // The default is 15 seconds, and the message says so.
    const started = new AbortController();
    const stub = vi.spyOn(AbortSignal, 'timeout').mockImplementation(() => {
      started.abort(new DOMException('The operation timed out.', 'TimeoutError'));
      return started.signal;
    });
    const slow = await fetchUrlSource('http://127.0.0.1:8898/slow', { maxBytes: 1000, allowPrivateHosts: true, fetcher: neverAnswers }).catch((e) => e);
    expect(stub).toHaveBeenCalledWith(15_000);
    expect(slow.message).toBe('could not fetch 127.0.0.1:8898: timed out after 15 seconds');
  });

  it('times out a body that stalls after the headers, even from a stream that ignores the abort', async () => {
    const trickle = (async () =>
      new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('partial ')); } }), { headers: { 'content-type': 'text/plain' } })) as unknown as typeof fetch;
    const fetcher = withDns({ 'example.com': ['93.184.216.34'] }, trickle);
    const err = await fetchUrlSource('https://example.com/stall', { maxBytes: 1000, allowPrivateHosts: false, fetcher, timeoutMs: 50 }).catch((e) => e);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', message: 'could not read the document from example.com: timed out after 0.05 seconds' });
  });

  it('keeps “could not fetch” without a timeout for a source that refuses the connection', async () => {
    const refused = (async () => {
      throw new TypeError('connection refused');
    }) as unknown as typeof fetch;
    const err = await fetchUrlSource('https://example.com/x', { maxBytes: 1000, allowPrivateHosts: false, fetcher: withDns({ 'example.com': ['93.184.216.34'] }, refused) }).catch((e) => e);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', message: 'could not fetch example.com', extensions: { field: 'url' } });
    expect(err.extensions.reason).toBeUndefined();
  });
});
