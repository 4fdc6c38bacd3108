/** Attribute filters (src/rag/search-filters.ts): validation, Vectorize translation, vector metadata. */
import { describe, expect, it } from 'vitest';
import { parseMetadataKeys, validateAttributeFilter, vectorFilterEntries, vectorMetadataFor, type MetadataKeySpec } from '../../src/rag/search-filters';
import { compileFilter } from '../../src/vector/filter';

const KEYS: MetadataKeySpec[] = [
  { key: 'category', type: 'string' },
  { key: 'year', type: 'number' },
  { key: 'draft', type: 'boolean' },
];
const refused = (f: Parameters<typeof validateAttributeFilter>[0], field: string) =>
  expect(() => validateAttributeFilter(f, KEYS)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', extensions: expect.objectContaining({ field }) }));

describe('parseMetadataKeys', () => {
  it('reads key:type lists', () => {
    expect(parseMetadataKeys('category:string, year:number')).toEqual([{ key: 'category', type: 'string' }, { key: 'year', type: 'number' }]);
    expect(parseMetadataKeys('')).toEqual([]);
  });
  it.each(['Category:string', 'a:date', 'a:string,a:number', 'a', 'a:string:x', 'a:string,b:string,c:string,d:string,e:string,f:string'])('names the problem in %j', (raw) => {
    expect(typeof parseMetadataKeys(raw)).toBe('string');
  });
});

describe('validateAttributeFilter', () => {
  it('normalises types, dates and metadata conditions', () => {
    expect(
      validateAttributeFilter(
        {
          types: ['TEXT/Markdown', 'text/markdown'],
          created: { from: new Date('2026-01-01T00:00:00Z'), before: '2026-02-01T00:00:00Z' },
          metadata: [{ key: 'year', gte: 2020, lt: 2023 }, { key: 'category', in: ['guide', 'faq', 'guide'] }, { key: 'draft', eq: false }],
        },
        KEYS,
      ),
    ).toEqual({
      types: ['text/markdown'],
      created: { from: '2026-01-01T00:00:00.000Z', before: '2026-02-01T00:00:00.000Z' },
      metadata: [
        { key: 'year', type: 'number', gte: 2020, lt: 2023 },
        { key: 'category', type: 'string', in: ['guide', 'faq'] },
        { key: 'draft', type: 'boolean', eq: false },
      ],
    });
    expect(validateAttributeFilter({}, KEYS)).toBeNull();
    expect(validateAttributeFilter({ types: [] }, KEYS)).toEqual({ types: [] });
  });

  it.each([
    [{ types: ['image/png'] }, 'filter.types'],
    [{ created: { from: 'yesterday' } }, 'filter.created.from'],
    [{ updated: { from: '2026-02-01T00:00:00Z', before: '2026-01-01T00:00:00Z' } }, 'filter.updated'],
    [{ metadata: [{ key: 'colour', eq: 'red' }] }, 'filter.metadata[0].key'],
    [{ metadata: [{ key: 'year', eq: '2021' }] }, 'filter.metadata[0].eq'],
    [{ metadata: [{ key: 'year' }] }, 'filter.metadata[0]'],
    [{ metadata: [{ key: 'year', eq: 2021, gt: 2000 }] }, 'filter.metadata[0]'],
    [{ metadata: [{ key: 'year', gt: 1, gte: 2 }] }, 'filter.metadata[0]'],
    [{ metadata: [{ key: 'draft', gt: true }] }, 'filter.metadata[0].gt'],
    [{ metadata: [{ key: 'category', in: [] }] }, 'filter.metadata[0].in'],
    [{ metadata: [{ key: 'category', eq: 'x'.repeat(65) }] }, 'filter.metadata[0].eq'],
    [{ metadata: [{ key: 'year', gt: 1 }, { key: 'year', lt: 5 }] }, 'filter.metadata'],
    [{ metadata: Array.from({ length: 6 }, () => ({ key: 'year', eq: 1 })) }, 'filter.metadata'],
  ])('refuses %j naming %s', (f, field) => refused(f as Parameters<typeof validateAttributeFilter>[0], field));
});

describe('Vectorize translation agrees with the vector metadata written at ingest', () => {
  const f = validateAttributeFilter({ types: ['text/markdown'], metadata: [{ key: 'year', gte: 2020, lt: 2023 }, { key: 'category', eq: 'guide' }] }, KEYS);

  it('maps types to type and keys to m_<key> with Vectorize operators', () => {
    expect(vectorFilterEntries(f)).toEqual({ type: { $in: ['text/markdown'] }, m_year: { $gte: 2020, $lt: 2023 }, m_category: { $eq: 'guide' } });
    expect(vectorFilterEntries({ created: { from: '2026-01-01T00:00:00.000Z' } })).toEqual({});
  });

  it('matches exactly the documents whose metadata has the declared types', () => {
    const match = compileFilter(vectorFilterEntries(f));
    const meta = (m: Record<string, unknown>) => ({ type: 'text/markdown', ...vectorMetadataFor(m, KEYS) });
    expect(match(meta({ year: 2021, category: 'guide' }))).toBe(true);
    expect(match(meta({ year: '2021', category: 'guide' }))).toBe(false); // a string is not the number 2021
    expect(match(meta({ year: 2023, category: 'guide' }))).toBe(false);
    expect(match(meta({ year: 2021, category: 'guide', extra: 1 }))).toBe(true);
    expect(vectorMetadataFor({ category: 'x'.repeat(65), draft: true, other: 'y' }, KEYS)).toEqual({ m_draft: true });
  });
});
