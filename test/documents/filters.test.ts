/** Search filters (collections, documents, tags; ANDed across fields, ORed within) and topK. */
import { describe, expect, it } from 'vitest';
import { createTenant, gql } from '../helpers';
import { hits, ingestProcessed, MODES } from './doc-helpers';

describe('search filters', () => {
  it('restricts every mode by collection, document and tags', async () => {
    const t = await createTenant();
    const mk = async (name: string) => (await gql(`mutation { createCollection(input: { name: "${name}" }) { id } }`, {}, { token: t.token })).body.data.createCollection.id as string;
    const c1 = await mk('one');
    const c2 = await mk('two');
    const d1 = await ingestProcessed(t, { name: 'd1', text: 'Kiwi fruit grows on vines in New Zealand.', collectionId: c1, tags: ['fruit', 'nz'] });
    const d2 = await ingestProcessed(t, { name: 'd2', text: 'Kiwi birds cannot fly and live in New Zealand.', collectionId: c2, tags: ['bird', 'nz'] });
    const d3 = await ingestProcessed(t, { name: 'd3', text: 'A kiwi is also slang for a New Zealander.', tags: [] });
    const ids = async (mode: string, filter: Record<string, unknown> | null) =>
      (await hits(t, { query: 'kiwi New Zealand', mode, topK: 10, filter })).map((h) => h.document.id).sort();
    for (const mode of MODES) {
      expect(await ids(mode, null), mode).toEqual([d1.id, d2.id, d3.id].sort());
      expect(await ids(mode, { collectionIds: [c1] }), mode).toEqual([d1.id]);
      expect(await ids(mode, { collectionIds: [c1, c2] }), mode).toEqual([d1.id, d2.id].sort());
      expect(await ids(mode, { documentIds: [d3.id] }), mode).toEqual([d3.id]);
      expect(await ids(mode, { tags: ['nz'] }), mode).toEqual([d1.id, d2.id].sort());
      expect(await ids(mode, { tags: ['bird', 'fruit'] }), mode).toEqual([d1.id, d2.id].sort());
      expect(await ids(mode, { tags: ['nz'], collectionIds: [c2] }), mode).toEqual([d2.id]);
      expect(await ids(mode, { documentIds: [d1.id], tags: ['bird'] }), mode).toEqual([]);
      expect(await ids(mode, { documentIds: [] }), mode).toEqual([]);
    }
  });

  it('returns at most topK hits, best first', async () => {
    const t = await createTenant();
    const text = Array.from({ length: 30 }, (_, i) => `Section ${i}: the maintenance schedule for pump ${i} is weekly.`).join('\n\n');
    await ingestProcessed(t, { name: 'pumps', text: text.repeat(8) });
    for (const mode of MODES) {
      const found = await hits(t, { query: 'maintenance schedule pump', mode, topK: 2 });
      expect(found, mode).toHaveLength(2);
      expect(found[0]!.score).toBeGreaterThanOrEqual(found[1]!.score);
    }
  });
});

describe('search filters within the vector index’s filter size', () => {
  it('answers VECTOR and HYBRID with 40 document ids and 40 collection ids (a vector filter over 2 KB would be refused)', async () => {
    const [t, other] = [await createTenant(), await createTenant()];
    const c = (await gql('mutation { createCollection(input: { name: "c" }) { id } }', {}, { token: t.token })).body.data.createCollection.id as string;
    const d = await ingestProcessed(t, { name: 'd', text: 'Kiwi fruit grows on vines in New Zealand.', collectionId: c });
    const foreign = await ingestProcessed(other, { name: 'd', text: 'Kiwi fruit grows on vines in New Zealand.' });
    const pad = (real: string[]) => [...real, ...Array.from({ length: 40 - real.length }, () => crypto.randomUUID())];
    const filter = { documentIds: pad([d.id, foreign.id]), collectionIds: pad([c]) };
    for (const mode of MODES) {
      const r = await gql('query($i: SearchInput!) { search(input: $i) { hits { document { id } } } }', { i: { query: 'kiwi fruit', mode, topK: 5, filter } }, { token: t.token });
      expect(r.body.errors, mode).toBeUndefined();
      expect(r.body.data.search.hits.map((h: { document: { id: string } }) => h.document.id), mode).toEqual([d.id]);
    }
  });
});
