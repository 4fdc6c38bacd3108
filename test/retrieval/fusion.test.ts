/** Weighted RRF and its weights (src/rag/fusion.ts): pure functions. */
import { describe, expect, it } from 'vitest';
import { convexCombination, DEFAULT_WEIGHTS, reciprocalRankFusion, RRF_K, validateWeights, weightedRrf } from '../../src/rag/fusion';

const ids = (r: { id: string }[]) => r.map((x) => x.id);

describe('weightedRrf', () => {
  it('scores Σ w / (k + rank)', () => {
    const r = weightedRrf([{ ids: ['a', 'b'], weight: 1 }, { ids: ['b'], weight: 0.5 }]);
    expect(r).toEqual([
      { id: 'b', score: 1 / (RRF_K + 2) + 0.5 / (RRF_K + 1) },
      { id: 'a', score: 1 / (RRF_K + 1) },
    ]);
  });

  // The order that motivated the change (issue 17): with equal weights a chunk that is
  // middling in both lists beats the keyword list's first hit; the offline default keeps
  // the keyword list's first hit first.
  it('plain RRF lets a middling chunk beat the keyword top hit; the offline weights do not', () => {
    const keyword = ['answer', 'k2', 'k3', 'middling', 'k5'];
    const vector = ['v1', 'v2', 'middling', 'v4', 'v5', 'v6', 'v7', 'v8', 'v9', 'v10', 'answer'];
    expect(ids(reciprocalRankFusion([keyword, vector]))[0]).toBe('middling');
    const w = DEFAULT_WEIGHTS.offline;
    expect(ids(weightedRrf([{ ids: keyword, weight: w.keyword }, { ids: vector, weight: w.vector }]))[0]).toBe('answer');
  });

  it('still lets the vector list break a near-tie of the keyword list', () => {
    const w = DEFAULT_WEIGHTS.offline;
    const r = weightedRrf([{ ids: ['k1', 'k2'], weight: w.keyword }, { ids: ['k2'], weight: w.vector }]);
    expect(ids(r)).toEqual(['k2', 'k1']);
  });

  it('keeps first-seen order on exact ties and ignores a list of weight 0', () => {
    expect(ids(weightedRrf([{ ids: ['a'], weight: 1 }, { ids: ['b'], weight: 1 }]))).toEqual(['a', 'b']);
    expect(ids(weightedRrf([{ ids: ['a', 'b'], weight: 1 }, { ids: ['c', 'b', 'a'], weight: 0 }]))).toEqual(['a', 'b']);
  });

  it('with equal weights is plain RRF', () => {
    const lists = [['a', 'b', 'c'], ['c', 'a']];
    expect(weightedRrf(lists.map((l) => ({ ids: l, weight: 1 })))).toEqual(reciprocalRankFusion(lists));
  });
});

describe('convexCombination', () => {
  const kw = [{ id: 'answer', score: 9 }, { id: 'middling', score: 3 }, { id: 'k3', score: 2.5 }, { id: 'k4', score: 1 }];
  const vec = [{ id: 'v1', score: 0.71 }, { id: 'middling', score: 0.7 }, { id: 'v3', score: 0.69 }, { id: 'answer', score: 0.3 }];

  it('min-max normalises each list and divides by the total weight (scores in [0, 1])', () => {
    const r = convexCombination([{ items: kw, weight: 1 }, { items: vec, weight: 1 }]);
    const by = Object.fromEntries(r.map((x) => [x.id, x.score]));
    expect(by.answer).toBeCloseTo((1 + 0) / 2, 12);
    expect(by.middling).toBeCloseTo(((3 - 1) / 8 + (0.7 - 0.3) / 0.41) / 2, 12);
    expect(by.k4).toBe(0);
    expect(Math.max(...r.map((x) => x.score))).toBeLessThanOrEqual(1);
  });

  // What RRF loses: the keyword list's first hit is far ahead of the rest (9 vs 3), which
  // ranks cannot say. Plain RRF puts the chunk that is middling in both lists first.
  it('keeps a clear keyword winner first where plain RRF does not', () => {
    expect(ids(reciprocalRankFusion([kw.map((x) => x.id), vec.map((x) => x.id)]))[0]).toBe('middling');
    const w = DEFAULT_WEIGHTS.offline;
    expect(ids(convexCombination([{ items: kw, weight: w.keyword }, { items: vec, weight: w.vector }]))[0]).toBe('answer');
  });

  it('lets the vector list break a keyword near-tie', () => {
    const w = DEFAULT_WEIGHTS.offline;
    const tie = [{ id: 'a', score: 5 }, { id: 'b', score: 4.99 }, { id: 'c', score: 1 }];
    expect(ids(convexCombination([{ items: tie, weight: w.keyword }, { items: [{ id: 'b', score: 0.5 }, { id: 'a', score: 0.1 }], weight: w.vector }]))).toEqual(['b', 'a', 'c']);
  });

  it('handles one-item and empty lists, weight 0 and exact ties (first seen wins)', () => {
    expect(convexCombination([{ items: [{ id: 'a', score: 3 }], weight: 1 }, { items: [], weight: 1 }])).toEqual([{ id: 'a', score: 0.5 }]);
    expect(ids(convexCombination([{ items: [{ id: 'a', score: 1 }], weight: 1 }, { items: [{ id: 'b', score: 1 }], weight: 1 }]))).toEqual(['a', 'b']);
    expect(convexCombination([{ items: [{ id: 'a', score: 2 }, { id: 'b', score: 1 }], weight: 1 }, { items: [{ id: 'b', score: 9 }], weight: 0 }])).toEqual([
      { id: 'a', score: 1 },
      { id: 'b', score: 0 },
    ]);
  });
});

describe('validateWeights', () => {
  it('accepts weights from 0 to 10, not both 0', () => {
    expect(validateWeights({ keyword: 1, vector: 0 }, 'weights')).toEqual({ keyword: 1, vector: 0 });
    expect(validateWeights({ keyword: 0, vector: 10 }, 'weights')).toEqual({ keyword: 0, vector: 10 });
  });

  it.each([
    [{ keyword: -1, vector: 1 }, 'weights.keyword'],
    [{ keyword: 1, vector: 11 }, 'weights.vector'],
    [{ keyword: Number.NaN, vector: 1 }, 'weights.keyword'],
    [{ keyword: 1 }, 'weights.vector'],
    [{ keyword: '1', vector: 1 }, 'weights.keyword'],
    [{ keyword: 0, vector: 0 }, 'weights'],
  ])('refuses %j naming %s', (w, field) => {
    expect(() => validateWeights(w as { keyword: number; vector: number }, 'weights')).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', extensions: { field } }));
  });
});
