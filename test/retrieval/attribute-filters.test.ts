/**
 * Through GraphQL: search and ask filtered by document type, created/updated date ranges and
 * custom metadata (SEARCH_METADATA_KEYS in wrangler.toml: category:string, lang:string,
 * year:number), in every mode, with two tenants: a filter narrows a tenant's results and never
 * reaches another tenant's documents.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ask } from '../chat/chat-helpers';
import { codeOf, twoTenants, type TestTenant } from '../helpers';
import { hits, ingestProcessed, MODES, search } from '../documents/doc-helpers';

const TEXT = 'Kiwi fruit grows on vines in New Zealand.';

async function library(t: TestTenant) {
  const guide = await ingestProcessed(t, { name: 'guide.md', text: `# Guide\n\n${TEXT}`, metadata: { category: 'guide', year: 2021, lang: 'en' } });
  const faq = await ingestProcessed(t, { name: 'faq.txt', text: TEXT, metadata: { category: 'faq', year: 2024 } });
  const page = await ingestProcessed(t, { name: 'page.html', text: `<p>${TEXT}</p>`, metadata: { category: 'guide', year: '2021' } });
  // Backdate one document: dates come from the rows, so a fixture sets them directly.
  await env.DB.prepare('UPDATE documents SET created_at = ?, updated_at = ? WHERE id = ?').bind('2025-03-01T10:00:00.000Z', '2025-06-01T10:00:00.000Z', faq.id).run();
  return { guide, faq, page };
}

const ids = async (t: TestTenant, mode: string, filter: Record<string, unknown>) =>
  (await hits(t, { query: 'kiwi fruit New Zealand', mode, topK: 10, filter })).map((h) => h.document.id).sort();

describe('attribute filters', () => {
  it('filter every mode by type, dates and metadata, within the tenant only', async () => {
    const [a, b] = await twoTenants();
    const { guide, faq, page } = await library(a);
    const foreign = await library(b);
    const sorted = (...xs: { id: string }[]) => xs.map((x) => x.id).sort();
    for (const mode of MODES) {
      expect(await ids(a, mode, {}), mode).toEqual(sorted(guide, faq, page));
      expect(await ids(a, mode, { types: ['text/markdown'] }), mode).toEqual(sorted(guide));
      expect(await ids(a, mode, { types: ['text/plain', 'text/html'] }), mode).toEqual(sorted(faq, page));
      expect(await ids(a, mode, { types: [] }), mode).toEqual([]);
      expect(await ids(a, mode, { created: { before: '2026-01-01T00:00:00Z' } }), mode).toEqual(sorted(faq));
      expect(await ids(a, mode, { created: { from: '2026-01-01T00:00:00Z' } }), mode).toEqual(sorted(guide, page));
      expect(await ids(a, mode, { updated: { from: '2025-06-01T10:00:00Z', before: '2025-06-01T10:00:01Z' } }), mode).toEqual(sorted(faq));
      expect(await ids(a, mode, { metadata: [{ key: 'category', eq: 'guide' }] }), mode).toEqual(sorted(guide, page));
      // Type-strict like Vectorize: the string "2021" of page.html is not the number 2021.
      expect(await ids(a, mode, { metadata: [{ key: 'year', eq: 2021 }] }), mode).toEqual(sorted(guide));
      expect(await ids(a, mode, { metadata: [{ key: 'year', gte: 2022, lt: 2030 }] }), mode).toEqual(sorted(faq));
      expect(await ids(a, mode, { metadata: [{ key: 'category', in: ['faq', 'none'] }] }), mode).toEqual(sorted(faq));
      expect(await ids(a, mode, { metadata: [{ key: 'category', eq: 'guide' }, { key: 'lang', eq: 'en' }] }), mode).toEqual(sorted(guide));
      // Combined with the other filters (ANDed), and with another tenant's ids: nothing of theirs.
      expect(await ids(a, mode, { documentIds: [guide.id, page.id, foreign.guide.id], types: ['text/markdown'] }), mode).toEqual(sorted(guide));
      expect(await ids(a, mode, { documentIds: [foreign.guide.id], metadata: [{ key: 'category', eq: 'guide' }] }), mode).toEqual([]);
      expect(await ids(b, mode, { metadata: [{ key: 'year', eq: 2021 }] }), mode).toEqual(sorted(foreign.guide));
    }
  });

  it('applies to ask’s sources too', async () => {
    const [a] = await twoTenants();
    const { guide } = await library(a);
    const r = await ask(a.token, { question: 'Where does kiwi fruit grow?', filter: { types: ['text/markdown'], metadata: [{ key: 'year', eq: 2021 }] } });
    expect(r.body.errors).toBeUndefined();
    expect(new Set(r.body.data.ask.sources.map((s: { document: { id: string } }) => s.document.id))).toEqual(new Set([guide.id]));
  });

  it.each([
    [{ types: ['image/png'] }, 'filter.types'],
    [{ created: { from: '2026-02-01T00:00:00Z', before: '2026-01-01T00:00:00Z' } }, 'filter.created'],
    [{ metadata: [{ key: 'colour', eq: 'red' }] }, 'filter.metadata[0].key'],
    [{ metadata: [{ key: 'year', eq: 'twenty' }] }, 'filter.metadata[0].eq'],
    [{ metadata: [{ key: 'category', gt: 'a', eq: 'b' }] }, 'filter.metadata[0]'],
    [{ metadata: [{ key: 'lang' }] }, 'filter.metadata[0]'],
  ])('refuses %j with BAD_USER_INPUT naming %s (search and ask)', async (filter, field) => {
    const [a] = await twoTenants();
    const r = await search(a, { query: 'kiwi', filter });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.body.errors![0]!.extensions!.field).toBe(field);
    const q = await ask(a.token, { question: 'kiwi?', filter });
    expect(codeOf(q)).toBe('BAD_USER_INPUT');
    expect(q.body.errors![0]!.extensions!.field).toBe(field);
  });

  it('refuses a malformed date as a GraphQL input error', async () => {
    const [a] = await twoTenants();
    const r = await search(a, { query: 'kiwi', filter: { created: { from: 'yesterday' } } });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
  });
});
