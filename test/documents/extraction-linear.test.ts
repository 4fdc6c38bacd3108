/**
 * Extraction in linear time (issue 9, item 2). The regexes this replaced were quadratic or
 * worse on inputs a tenant controls: "a" + 60,000 spaces + "b" held a request 12 s (and every
 * other tenant's request on the isolate with it), "# a" + 3,500 spaces + "b" held the queue
 * consumer 6 s. The inputs below are 15–250× longer than those: quadratic (or cubic) code
 * would need hours, far past the test timeout (20 s), while linear code takes milliseconds.
 * No timings are asserted: the timeout is the budget.
 *
 * Then the per-document budget and per-message settling: a document that overruns its
 * budget fails alone, and a message whose earlier deliveries died mid-work runs after the
 * others of its batch (and is failed on its third such delivery).
 */
import { createMessageBatch, env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { atxHeading, htmlToMarkdown, markdownBlocks, MAX_HEADING_CHARS, normaliseText } from '../../src/rag/extract';
import { ExtractionBudget, ExtractionLimitError } from '../../src/rag/extract-budget';
import { consumeIngestBatch, INTERRUPTED_DELIVERY_LIMIT } from '../../src/rag/ingest-consumer';
import { ingestConsumerDeps } from '../../src/services';
import { gql, twoTenants } from '../helpers';
import { deliver, getDocument, hits, ingest, ingestProcessed, messageFor } from './doc-helpers';

/** The normalisation the content hash has always used (the old, quadratic spelling): the new one must agree with it. */
const referenceNormalise = (text: string) =>
  text.normalize('NFC').replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n').replace(/[ \t\u00a0]+$/gm, '').replace(/\n{3,}/g, '\n\n').trim();

/** Deterministic pseudo-random strings (mulberry32). */
function randomStrings(count: number, alphabet: string[], maxLength: number, seed = 9): string[] {
  let s = seed;
  const next = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: count }, () => Array.from({ length: Math.floor(next() * maxLength) }, () => alphabet[Math.floor(next() * alphabet.length)]).join(''));
}

const MB = 1_000_000;

describe('normaliseText', () => {
  it('is linear: a million spaces inside a line', () => {
    const text = `a${' '.repeat(MB)}b`;
    expect(normaliseText(text)).toBe(text);
    expect(normaliseText(`a${' \t\u00a0'.repeat(MB / 3)}\nb`)).toBe('a\nb');
  });

  it('gives exactly the output of the old expression, so content hashes do not change', () => {
    const alphabet = [' ', ' ', '\t', '\u00a0', '\n', '\n', '\r', '\u2028', '\u2029', 'a', 'b', 'e\u0301', '\uFEFF', '\u2003'];
    for (const s of randomStrings(3_000, alphabet, 24)) expect(normaliseText(s), JSON.stringify(s)).toBe(referenceNormalise(s));
  });
});

describe('Markdown headings', () => {
  it.each([
    ['# Title', 1, 'Title'],
    ['## Title ##', 2, 'Title'],
    ['###   spaced out   ', 3, 'spaced out'],
    ['  #### indented by two', 4, 'indented by two'],
    ['# #', 1, ''],
    ['#\ttab', 1, 'tab'],
    ['# C#', 1, 'C#'], // the closing sequence needs a space before it (CommonMark)
    ['# a ### b', 1, 'a ### b'],
  ])('%j is a level-%i heading %j', (line, level, title) => {
    expect(atxHeading(line)).toEqual({ level, title });
  });

  it.each(['#nospace', '####### seven', '    # four spaces is code', 'plain # text', ''])('%j is not a heading', (line) => {
    expect(atxHeading(line)).toBeNull();
  });

  it('are linear in the line and capped in length: "# a" + 200,000 spaces + "b"', () => {
    const blocks = markdownBlocks(`# a${' '.repeat(200_000)}b\n\nThe body.`);
    expect(blocks).toEqual([{ text: 'The body.', heading: 'a…', page: null, kind: 'paragraph' }]);
    const long = markdownBlocks(`# ${'word '.repeat(10_000)}\n\nBody.`);
    expect(Array.from(long[0]!.heading!).length).toBeLessThanOrEqual(MAX_HEADING_CHARS);
  });

  it('setext underlines and fences stay linear on long lines', () => {
    expect(markdownBlocks(`Title\n${'='.repeat(MB)}x\n\nBody.`).map((b) => b.heading)).toEqual([null, null]);
    expect(markdownBlocks(`Title\n=${' '.repeat(MB)}\n\nBody.`)).toEqual([{ text: 'Body.', heading: 'Title', page: null, kind: 'paragraph' }]);
    expect(markdownBlocks(`${' '.repeat(MB)}\`\`\`js\ncode\n\`\`\``)[0]).toMatchObject({ kind: 'code' });
  });
});

describe('HTML', () => {
  it.each([
    ['unterminated comments', '<!--'.repeat(MB / 4)],
    ['unterminated scripts', '<script>'.repeat(MB / 8)],
    ['unterminated tags', '<a'.repeat(MB / 2)],
    ['unterminated headings', '<h1>'.repeat(MB / 4)],
    ['unterminated pre', '<pre>'.repeat(MB / 5)],
    ['a script whose close never comes', `<script>${'</x'.repeat(MB / 3)}`],
    ['entities that never end', `&${'a'.repeat(MB)}`],
  ])('%s (1 MB) are handled in one pass', (_name, html) => {
    expect(typeof htmlToMarkdown(`<p>Before.</p>${html}`)).toBe('string');
  });

  it('keeps the structure the old converter produced (and a lone "<" stays text: the old one ate "< 4</body>" as a tag)', () => {
    const md = htmlToMarkdown(
      '<!DOCTYPE html><html><head><title>x</title><style>p{}</style></head><body><nav>menu</nav>' +
        '<h2 class="t">Title &amp; <em>more</em></h2><script>x()</SCRIPT ><p>Hello <b>world</b>&#33; a &lt; b</p>' +
        '<ul><li>one</li><li>two</li></ul><pre><code>let x = 1;</code></pre><table><tr><td>a</td><td>b</td></tr></table>' +
        '<header>kept</header><footer>dropped</footer><!-- note --> 3 < 4</body></html>',
    );
    expect(md).toBe('## Title & more\n\nHello world ! a < b\n\n- one\n- two\n\n```\nlet x = 1;\n```\n\n| a | | b |\n\nkept\n\n3 < 4');
  });

  it('an unterminated comment or script hides the rest of the file, as in a browser', () => {
    expect(htmlToMarkdown('<p>Seen.</p><!-- never closed <p>hidden</p>')).toBe('Seen.');
    expect(htmlToMarkdown('<p>Seen.</p><script>var hidden = 1;')).toBe('Seen.');
  });
});

describe('through the Worker', () => {
  it('an inline text with a million spaces in one line is accepted at once, and another tenant is served meanwhile', async () => {
    const [a, b] = await twoTenants();
    const text = `a${' '.repeat(MB)}b`;
    const [r, viewer] = await Promise.all([ingest(a, { name: 'spaces.txt', text }), gql('{ viewer { role } }', {}, { token: b.token })]);
    expect(r.body.errors).toBeUndefined();
    expect(viewer.body.data).toEqual({ viewer: { role: 'ADMIN' } });
    await deliver(r.body.data.ingestDocument.id);
    expect(await getDocument(a, r.body.data.ingestDocument.id)).toMatchObject({ status: 'COMPLETED' });
  });

  it('a Markdown file with a 200,000-character heading line is processed, its heading capped', async () => {
    const [a] = await twoTenants();
    const doc = await ingestProcessed(a, { name: 'long.md', text: `# a${' '.repeat(200_000)}b\n\nRefunds take fourteen days.` });
    expect(doc.status).toBe('COMPLETED');
    expect((await hits(a, { query: 'refunds fourteen', mode: 'KEYWORD' }))[0]).toMatchObject({ heading: 'a…', text: 'Refunds take fourteen days.' });
  });

  it('an HTML file of a million unterminated tags completes (with no text) instead of blocking the consumer', async () => {
    const [a] = await twoTenants();
    const doc = await ingestProcessed(a, { name: 'tags.html', text: `<p>Opening hours are nine to five.</p>${'<a'.repeat(MB / 2)}` });
    expect(doc).toMatchObject({ status: 'COMPLETED', chunkCount: 1 });
  });
});

describe('the processing budget', () => {
  it('throws a clear ExtractionLimitError once its units are spent', () => {
    const budget = new ExtractionBudget(100);
    budget.charge(60);
    expect(() => budget.charge(60)).toThrow(ExtractionLimitError);
    expect(() => new ExtractionBudget(10).charge(11)).toThrow(/needed more processing than a document of this size may use/);
  });

  it('also stops on its deadline (a clock that moves)', () => {
    let now = 0;
    const budget = new ExtractionBudget(Number.POSITIVE_INFINITY, 1_000, () => now);
    budget.charge(1);
    now = 1_001;
    expect(() => budget.charge(1)).toThrow(ExtractionLimitError);
  });

  it('fails only the document that overruns it; the other tenant’s message in the same batch completes', async () => {
    const [a, b] = await twoTenants();
    const heavy = (await ingest(a, { name: 'heavy.txt', text: 'x '.repeat(50_000) })).body.data.ingestDocument.id as string;
    const light = (await ingest(b, { name: 'light.txt', text: 'The library opens at nine.' })).body.data.ingestDocument.id as string;
    const messages = [await messageFor(heavy), await messageFor(light)].map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body }));
    const batch = createMessageBatch('edgerag-ingest', messages);
    const acked: string[] = [];
    for (const m of batch.messages) m.ack = () => void acked.push(m.id);
    // A budget that lets 1 KB through and not 100 KB: the work is proportional, the budget is not.
    await consumeIngestBatch(batch as MessageBatch<unknown>, { ...ingestConsumerDeps(env as never), extractionBudget: () => new ExtractionBudget(20_000) }, false);
    expect(acked).toEqual(['m0', 'm1']);
    expect(await getDocument(a, heavy)).toMatchObject({ status: 'FAILED', chunkCount: 0 });
    expect((await getDocument(a, heavy)).error).toMatch(/^Extracting the text needed more processing/);
    expect(await getDocument(b, light)).toMatchObject({ status: 'COMPLETED', chunkCount: 1 });
  });
});

describe('messages whose earlier delivery died mid-work', () => {
  const markInterrupted = (id: string) => env.DB.prepare("UPDATE documents SET status = 'processing', attempts = attempts + 1 WHERE id = ?").bind(id).run();

  it('run after every other message of the batch, which are settled first', async () => {
    const [a, b] = await twoTenants();
    const suspect = (await ingest(a, { name: 's.txt', text: 'Suspect text about parking.' })).body.data.ingestDocument.id as string;
    const fresh = (await ingest(b, { name: 'f.txt', text: 'Fresh text about lunch.' })).body.data.ingestDocument.id as string;
    await markInterrupted(suspect);
    const bodies = [await messageFor(suspect), await messageFor(fresh)];
    const batch = createMessageBatch('edgerag-ingest', bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 2, body })));
    const events: string[] = [];
    for (const m of batch.messages) m.ack = () => void events.push(`ack ${m.id}`);
    const deps = ingestConsumerDeps(env as never);
    // The bucket comes with each message's tenant session (its placement's bucket).
    const spied = (real: R2Bucket) => ({
      get: (key: string) => (events.push(`read ${key === bodies[0]!.objectKey ? 'suspect' : 'fresh'}`), real.get(key)),
      list: (o: R2ListOptions) => real.list(o),
      delete: (keys: string[]) => real.delete(keys),
    }) as unknown as R2Bucket;
    const tenant: typeof deps.tenant = async (id) => {
      const t = await deps.tenant(id);
      return t && { ...t, blobs: spied(t.blobs) };
    };
    await consumeIngestBatch(batch as MessageBatch<unknown>, { ...deps, tenant }, false);
    expect(events).toEqual(['read fresh', 'ack m1', 'read suspect', 'ack m0']);
    expect(await getDocument(a, suspect)).toMatchObject({ status: 'COMPLETED' });
    expect(await getDocument(b, fresh)).toMatchObject({ status: 'COMPLETED' });
  });

  it(`fail their document without running again on delivery ${INTERRUPTED_DELIVERY_LIMIT}`, async () => {
    const [a] = await twoTenants();
    const id = (await ingest(a, { name: 'dies.txt', text: 'A document whose processing keeps dying.' })).body.data.ingestDocument.id as string;
    await markInterrupted(id);
    const result = await deliver(id, { attempts: INTERRUPTED_DELIVERY_LIMIT });
    expect(result).toMatchObject({ explicitAcks: [expect.any(String)], retryMessages: [] });
    expect(await getDocument(a, id)).toMatchObject({
      status: 'FAILED', chunkCount: 0,
      error: 'Processing stopped without finishing on 2 deliveries (the document needs more processing time than a Worker may use), so it was not tried again.',
    });
  });

  it('an unexpected failure of one message retries that message only, logged with its tenant and document', async () => {
    const [a, b] = await twoTenants();
    const broken = (await ingest(a, { name: 'b.txt', text: 'Text of tenant A.' })).body.data.ingestDocument.id as string;
    const fine = (await ingest(b, { name: 'f.txt', text: 'Text of tenant B.' })).body.data.ingestDocument.id as string;
    const bodies = [await messageFor(broken), await messageFor(fine)];
    const batch = createMessageBatch('edgerag-ingest', bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })));
    const events: string[] = [];
    for (const m of batch.messages) {
      m.ack = () => void events.push(`ack ${m.id}`);
      m.retry = () => void events.push(`retry ${m.id}`);
    }
    const deps = ingestConsumerDeps(env as never);
    const lines: Record<string, unknown>[] = [];
    const log = { info: () => undefined, warn: () => undefined, error: (msg: string, data?: Record<string, unknown>) => void lines.push({ msg, ...data }) };
    await consumeIngestBatch(batch as MessageBatch<unknown>, {
      ...deps,
      log,
      tenant: async (id) => {
        if (id === a.id) throw new Error('D1 unreachable for this tenant');
        return deps.tenant(id);
      },
    }, false);
    expect(events).toEqual(['retry m0', 'ack m1']);
    expect(lines).toEqual([expect.objectContaining({ msg: 'ingest: message handling failed', tenantId: a.id, documentId: broken, messageId: 'm0' })]);
    expect(await getDocument(b, fine)).toMatchObject({ status: 'COMPLETED' });
    expect(await getDocument(a, broken)).toMatchObject({ status: 'PENDING' });
  });
});
