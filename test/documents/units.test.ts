/** Unit tests: chunking, extraction, FTS5 query escaping, reciprocal rank fusion, URL safety. */
import { describe, expect, it } from 'vitest';
import { estimateTokens } from '../../src/ai/tokens';
import { OfflineEmbeddings } from '../../src/ai/offline-embeddings';
import { chunkBlocks } from '../../src/rag/chunking';
import { detectMime, htmlToMarkdown, markdownBlocks, normaliseText } from '../../src/rag/extract';
import { ftsQuery } from '../../src/rag/fts-query';
import { reciprocalRankFusion } from '../../src/rag/retrieval';
import { fetchUrlSource, isPrivateHost } from '../../src/rag/url-source';
import { withDns } from './fake-dns';

describe('chunking', () => {
  it('starts a new chunk at every heading and page, keeping heading and page', () => {
    const blocks = markdownBlocks('# A\n\nalpha one.\n\n## B\n\nbeta two.\n\n# C\n\ngamma three.');
    const chunks = chunkBlocks(blocks);
    expect(chunks.map((c) => [c.index, c.heading, c.text])).toEqual([[0, 'A', 'alpha one.'], [1, 'A › B', 'beta two.'], [2, 'C', 'gamma three.']]);
    const pages = chunkBlocks([{ text: 'p1', heading: null, page: 1, kind: 'paragraph' }, { text: 'p2', heading: null, page: 2, kind: 'paragraph' }]);
    expect(pages.map((c) => c.page)).toEqual([1, 2]);
  });

  it('packs paragraphs up to the budget, splits long ones at sentences and overlaps', () => {
    const sentences = Array.from({ length: 120 }, (_, i) => `Sentence number ${i} talks about topic ${i}.`);
    const chunks = chunkBlocks([{ text: sentences.join(' '), heading: 'H', page: null, kind: 'paragraph' }], { maxTokens: 100, overlapTokens: 20 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) {
      expect(c.tokenCount).toBeLessThanOrEqual(100);
      expect(estimateTokens(c.text)).toBeLessThanOrEqual(110);
      expect(c.heading).toBe('H');
    }
    // Overlap: each chunk after the first begins with the last sentence(s) of the one before.
    for (let i = 1; i < chunks.length; i++) {
      const first = chunks[i]!.text.split(/(?<=\.) /)[0]!;
      expect(chunks[i - 1]!.text.endsWith(first), `chunk ${i}`).toBe(true);
    }
    // Nothing is lost: every sentence is in some chunk.
    for (const s of sentences) expect(chunks.some((c) => c.text.includes(s))).toBe(true);
    expect(chunks.map((c) => c.index)).toEqual(chunks.map((_, i) => i));
  });

  it('cuts a single giant word instead of failing', () => {
    const chunks = chunkBlocks([{ text: 'x'.repeat(5000), heading: null, page: null, kind: 'paragraph' }], { maxTokens: 100, overlapTokens: 0 });
    expect(chunks.map((c) => c.text).join('')).toBe('x'.repeat(5000));
  });
});

describe('extraction', () => {
  it('detects types from content type and name', () => {
    expect(detectMime('application/pdf', 'x')).toBe('application/pdf');
    expect(detectMime('text/plain; charset=utf-8', 'notes.md')).toBe('text/markdown');
    expect(detectMime('application/octet-stream', 'page.HTML')).toBe('text/html');
    expect(detectMime('image/png', 'a.png')).toBeNull();
    expect(detectMime(null, 'plain')).toBe('text/plain');
  });

  it('normalises text for hashing', () => {
    expect(normaliseText('\uFEFFa  \r\nb\r\n\r\n\r\n\r\nc\t\n')).toBe('a\nb\n\nc');
    expect(normaliseText('e\u0301')).toBe('é');
  });

  it('turns HTML into headed text without scripts or tags', () => {
    const md = htmlToMarkdown('<h2>Title &amp; more</h2><script>x()</script><p>Hello <b>world</b>&#33;</p><ul><li>one</li><li>two</li></ul>');
    expect(md).toBe('## Title & more\n\nHello world !\n\n- one\n- two');
  });
});

describe('FTS5 query escaping', () => {
  it('quotes every term and ORs them; operators and quotes are plain words', () => {
    expect(ftsQuery('vacation days')).toBe('"vacation" OR "days"');
    expect(ftsQuery('"NEAR(a b" col:x AND *')).toBe('"near" OR "b" OR "col" OR "x"'); // a, and: stop words
    expect(ftsQuery('the of a')).toBe('"the" OR "of" OR "a"');
    expect(ftsQuery('!!! ??')).toBeNull();
  });
});

describe('reciprocal rank fusion', () => {
  it('sums 1/(60 + rank) over the lists', () => {
    const fused = reciprocalRankFusion([['a', 'b', 'c'], ['c', 'a']]);
    expect(fused.map((f) => f.id)).toEqual(['a', 'c', 'b']);
    expect(fused[0]!.score).toBeCloseTo(1 / 61 + 1 / 62, 12);
    expect(fused[1]!.score).toBeCloseTo(1 / 63 + 1 / 61, 12);
    expect(fused[2]!.score).toBeCloseTo(1 / 62, 12);
  });
});

describe('offline embeddings', () => {
  it('are deterministic, unit length, and closest for shared words', () => {
    const e = new OfflineEmbeddings(384);
    const v = e.vector('Refund policies for annual plans');
    expect(Array.from(v)).toEqual(Array.from(e.vector('Refund policies for annual plans')));
    expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
    const q = e.vector('refund policy');
    expect(dot(q, v)).toBeGreaterThan(dot(q, e.vector('Holiday schedule for the warehouse team')));
  });
});

describe('URL sources', () => {
  it('recognises private, loopback and link-local hosts', () => {
    for (const h of ['localhost', 'api.localhost', '127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '0.0.0.0', '[::1]', '[fd00::1]', '[fe80::1]', '[::ffff:127.0.0.1]', 'db.internal']) {
      expect(isPrivateHost(h), h).toBe(true);
    }
    for (const h of ['example.com', '8.8.8.8', '172.32.0.1', '[2606:4700::1111]']) expect(isPrivateHost(h), h).toBe(false);
  });

  it('refuses private hosts and redirects to them when not allowed (production)', async () => {
    let fetched = 0;
    const fetcher = (async (input: RequestInfo | URL) => {
      fetched++;
      const url = String(input);
      if (url.startsWith('https://public.example/')) return new Response(null, { status: 302, headers: { location: 'http://127.0.0.1:8080/admin' } });
      return new Response('secret');
    }) as typeof fetch;
    const opts = { maxBytes: 1000, allowPrivateHosts: false, fetcher: withDns({ 'public.example': ['93.184.216.34'] }, fetcher) };
    // WHATWG URL parsing turns 2130706433 into 127.0.0.1.
    for (const url of ['http://localhost/x', 'http://2130706433/', 'http://[::1]/', 'http://10.0.0.1/']) {
      await expect(fetchUrlSource(url, opts), url).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    }
    expect(fetched).toBe(0);
    await expect(fetchUrlSource('https://public.example/doc', opts)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: 'url must name a public host' });
    expect(fetched).toBe(1);
    await expect(fetchUrlSource('https://user:pw@public.example/doc', opts)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('refuses IPv4 addresses embedded in IPv6 literals, in the hex form the URL parser produces', async () => {
    let fetched = 0;
    const fetcher = (async () => {
      fetched++;
      return new Response('secret', { headers: { 'content-type': 'text/plain' } });
    }) as unknown as typeof fetch;
    const opts = { maxBytes: 1000, allowPrivateHosts: false, fetcher };
    // new URL() serialises [::ffff:127.0.0.1] as [::ffff:7f00:1]: the check must see through that.
    for (const url of [
      'http://[::ffff:127.0.0.1]/', 'http://[::ffff:169.254.169.254]/latest/meta-data/', 'http://[0:0:0:0:0:ffff:a00:1]/',
      'http://[::127.0.0.1]/', 'http://[64:ff9b::10.0.0.1]/', 'http://[::ffff:0:127.0.0.1]/', 'http://[2002:7f00:1::]/',
    ]) {
      await expect(fetchUrlSource(url, opts), url).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: 'url must name a public host' });
    }
    expect(fetched).toBe(0);
    for (const h of ['[::ffff:808:808]', '[64:ff9b::808:808]', '[2002:808:808::1]']) expect(isPrivateHost(h), h).toBe(false);
  });

  it('caps the body while reading, whatever Content-Length says', async () => {
    const fetcher = (async () =>
      new Response(new ReadableStream({ pull(c) { c.enqueue(new Uint8Array(400)); } }), { headers: { 'content-type': 'text/plain' } })) as unknown as typeof fetch;
    await expect(fetchUrlSource('https://example.com/a', { maxBytes: 1000, allowPrivateHosts: false, fetcher: withDns({ 'example.com': ['93.184.216.34'] }, fetcher) }))
      .rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });
});
