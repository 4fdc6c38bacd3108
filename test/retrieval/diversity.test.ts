/** Per-document cap and grouping (src/rag/diversity.ts): pure functions. */
import { describe, expect, it } from 'vitest';
import { capPerDocument, groupByDocument, topDocuments, validateMaxPerDocument } from '../../src/rag/diversity';

const h = (documentId: string, score: number, tag = `${documentId}${score}`) => ({ documentId, score, tag });
// One long document (A) ranks first with many chunks: the shape that hid the answer (B, C).
const ranked = [h('A', 9), h('A', 8), h('A', 7), h('B', 6), h('A', 5), h('C', 4), h('A', 3), h('B', 2)];
const tags = (xs: { tag: string }[]) => xs.map((x) => x.tag);

describe('capPerDocument', () => {
  it('takes at most N per document, in ranking order, up to topK', () => {
    expect(tags(capPerDocument(ranked, 2, 4))).toEqual(['A9', 'A8', 'B6', 'C4']);
    expect(tags(capPerDocument(ranked, 1, 10))).toEqual(['A9', 'B6', 'C4']);
  });

  it('without a cap is the first topK', () => {
    expect(tags(capPerDocument(ranked, null, 4))).toEqual(['A9', 'A8', 'A7', 'B6']);
  });
});

describe('topDocuments', () => {
  it('counts documents, each with up to N hits', () => {
    expect(tags(topDocuments(ranked, 2, 2))).toEqual(['A9', 'A8', 'B6', 'B2']);
    expect(tags(topDocuments(ranked, 1, 5))).toEqual(['A9', 'B6', 'C4']);
  });
});

describe('groupByDocument', () => {
  it('groups in order of first appearance, best score first', () => {
    const g = groupByDocument(capPerDocument(ranked, 2, 10));
    expect(g.map((x) => [x.documentId, x.score, tags(x.hits)])).toEqual([
      ['A', 9, ['A9', 'A8']],
      ['B', 6, ['B6', 'B2']],
      ['C', 4, ['C4']],
    ]);
  });
});

describe('validateMaxPerDocument', () => {
  it.each([0, 51, 1.5, Number.NaN, '2'])('refuses %j', (n) => {
    expect(() => validateMaxPerDocument(n, 'maxChunksPerDocument')).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', extensions: { field: 'maxChunksPerDocument' } }));
  });
  it('accepts 1 to 50', () => {
    expect(validateMaxPerDocument(1, 'x')).toBe(1);
    expect(validateMaxPerDocument(50, 'x')).toBe(50);
  });
});
