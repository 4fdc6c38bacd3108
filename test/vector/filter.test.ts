/**
 * The local store's filter semantics against Vectorize's documented operators
 * (https://developers.cloudflare.com/vectorize/reference/metadata-filtering/).
 */
import { describe, expect, it } from 'vitest';
import { compileFilter } from '../../src/vector/filter';
import type { Metadata, VectorFilter } from '../../src/vector/types';

const docs: Record<string, Metadata> = {
  a: { tenant_id: 't1', kind: 'pdf', year: 2020, score: 0.5, public: true },
  b: { tenant_id: 't1', kind: 'html', year: 2022, score: 0.9, public: false },
  c: { tenant_id: 't2', kind: 'pdf', year: 2024, public: true },
  d: { tenant_id: 't1', kind: 'txt', year: '2021' as unknown as number },
};
const nested: Metadata = { author: { name: 'Ada', verified: true } } as unknown as Metadata;

const match = (filter: VectorFilter) => Object.keys(docs).filter((k) => compileFilter(filter)(docs[k]!)).sort();

describe('Vectorize filter operators', () => {
  it('implicit $eq, explicit $eq and $ne (missing = null)', () => {
    expect(match({ kind: 'pdf' })).toEqual(['a', 'c']);
    expect(match({ kind: { $eq: 'pdf' } })).toEqual(['a', 'c']);
    expect(match({ kind: { $ne: 'pdf' } })).toEqual(['b', 'd']);
    expect(match({ public: true })).toEqual(['a', 'c']);
    expect(match({ public: { $ne: true } })).toEqual(['b', 'd']);
    expect(match({ score: null })).toEqual(['c', 'd']);
    expect(match({ score: { $ne: null } })).toEqual(['a', 'b']);
  });

  it('$in and $nin', () => {
    expect(match({ kind: { $in: ['pdf', 'txt'] } })).toEqual(['a', 'c', 'd']);
    expect(match({ kind: { $nin: ['pdf', 'txt'] } })).toEqual(['b']);
    expect(match({ score: { $in: [null, 0.9] } })).toEqual(['b', 'c', 'd']);
    expect(match({ kind: { $in: [] } })).toEqual([]);
  });

  it('ranges: one lower and one upper bound, type-strict, never matching a missing value', () => {
    expect(match({ year: { $gte: 2022 } })).toEqual(['b', 'c']);
    expect(match({ year: { $gt: 2020, $lt: 2024 } })).toEqual(['b']);
    expect(match({ year: { $gte: 2020, $lte: 2024 } })).toEqual(['a', 'b', 'c']); // d's year is a string
    expect(match({ score: { $lt: 1 } })).toEqual(['a', 'b']);
    expect(match({ kind: { $gte: 'p' } })).toEqual(['a', 'c', 'd']); // strings compare as strings
    expect(match({ year: { $lt: '2022' } })).toEqual(['d']);
  });

  it('several keys are ANDed', () => {
    expect(match({ tenant_id: 't1', kind: 'pdf' })).toEqual(['a']);
    expect(match({ tenant_id: 't1', year: { $gt: 2019 }, public: { $ne: true } })).toEqual(['b']);
    expect(match({ tenant_id: 't2', kind: 'html' })).toEqual([]);
  });

  it('dotted keys reach nested metadata', () => {
    expect(compileFilter({ 'author.name': 'Ada' })(nested)).toBe(true);
    expect(compileFilter({ 'author.verified': { $ne: true } })(nested)).toBe(false);
    expect(compileFilter({ 'author.missing': null })(nested)).toBe(true);
  });

  it('refuses what Vectorize refuses', () => {
    const bad: unknown[] = [
      {},
      [],
      { '': 1 },
      { $and: 1 },
      { 'a"b': 1 },
      { 'a..b': 1 },
      { ['k'.repeat(513)]: 1 },
      { k: {} },
      { k: { $regex: 'x' } },
      { k: { $eq: 1, $ne: 2 } },
      { k: { $in: 'x' } },
      { k: { $in: [{}] } },
      { k: { $eq: [1] } },
      { k: { $lt: 1, $lte: 2 } },
      { k: { $gt: 1, $gte: 2 } },
      { k: { $eq: 1, $lt: 2 } },
      { k: { $lt: true } },
      { k: { $lt: null } },
      { k: [1, 2] },
      { k: { nested: 1 } },
      { k: { $in: Array.from({ length: 300 }, (_, i) => `value-${i}`) } }, // ≥ 2048 bytes
    ];
    for (const f of bad) expect(() => compileFilter(f as VectorFilter), JSON.stringify(f).slice(0, 60)).toThrow(/invalid filter/);
  });
});
