/**
 * Keyword ranking units: the BM25 scorer (tf saturation, idf, length normalisation, ties),
 * query terms, and — in workerd against the real FTS5 table — that what MATCH finds is what
 * tf counts (FTS5's porter unicode61 decides both), that df/N come from the tenant alone,
 * and that the per-term candidate window keeps every candidate's tf and df exact.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { BM25_B, BM25_K1, idf, rankBm25, termScore } from '../../src/rag/bm25';
import { ftsPhrase, ftsQuery, ftsTerms, MAX_TERMS } from '../../src/rag/fts-query';
import { createTenant, gql, type TestTenant } from '../helpers';
import { hits, ingestProcessed, MODES } from './doc-helpers';
import { bm25Ranking, scopeOf } from './keyword-helpers';

describe('bm25 scorer', () => {
  it('idf: ln(1 + (N - df + 0.5) / (df + 0.5)), falling with df, never negative, df clamped to [0, N]', () => {
    expect(idf(10, 1)).toBeCloseTo(Math.log(1 + 9.5 / 1.5), 12);
    expect(idf(10, 1)).toBeGreaterThan(idf(10, 2));
    expect(idf(10, 10)).toBeGreaterThan(0);
    expect(idf(10, 10)).toBeCloseTo(Math.log(1 + 0.5 / 10.5), 12);
    expect(idf(10, 25)).toBe(idf(10, 10));
    expect(idf(10, -3)).toBe(idf(10, 0));
    // Same df, bigger corpus: the term is rarer.
    expect(idf(1000, 5)).toBeGreaterThan(idf(100, 5));
  });

  it('termScore: zero without the term, saturates in tf, penalises length above the average', () => {
    const w = idf(100, 3);
    expect(termScore(0, 50, 50, w)).toBe(0);
    // At the average length the norm is 1: idf · tf(k1+1)/(tf+k1).
    expect(termScore(2, 50, 50, w)).toBeCloseTo((w * 2 * (BM25_K1 + 1)) / (2 + BM25_K1), 12);
    const byTf = [1, 2, 4, 8, 100].map((tf) => termScore(tf, 50, 50, w));
    for (let i = 1; i < byTf.length; i++) expect(byTf[i]!).toBeGreaterThan(byTf[i - 1]!);
    expect(byTf.at(-1)!).toBeLessThan(w * (BM25_K1 + 1));
    // Length: shorter than average scores higher, longer lower; b = 0 ignores length.
    expect(termScore(1, 25, 50, w)).toBeGreaterThan(termScore(1, 50, 50, w));
    expect(termScore(1, 100, 50, w)).toBeLessThan(termScore(1, 50, 50, w));
    expect(termScore(1, 100, 50, w)).toBeCloseTo((w * (BM25_K1 + 1)) / (1 + BM25_K1 * (1 - BM25_B + BM25_B * 2)), 12);
    expect(termScore(1, 100, 50, w, { k1: BM25_K1, b: 0 })).toBe(termScore(1, 50, 50, w, { k1: BM25_K1, b: 0 }));
    // No recorded lengths: no normalisation rather than a division by zero.
    expect(termScore(1, 0, 0, w)).toBeCloseTo((w * (BM25_K1 + 1)) / (1 + BM25_K1), 12);
  });

  it('rankBm25 sums terms, lets the rarer term win, and breaks ties by seq', () => {
    const stats = { chunks: 10, tokens: 100 };
    // term 0 in 1 chunk (rare), term 1 in 5 chunks (common).
    const ranked = rankBm25(stats, [1, 5], [
      { id: 'common-twice', seq: 1, length: 10, tf: [0, 2] },
      { id: 'rare-once', seq: 2, length: 10, tf: [1, 0] },
      { id: 'both', seq: 3, length: 10, tf: [1, 1] },
      { id: 'tie-b', seq: 5, length: 10, tf: [0, 1] },
      { id: 'tie-a', seq: 4, length: 10, tf: [0, 1] },
    ]);
    expect(ranked.map((r) => r.id)).toEqual(['both', 'rare-once', 'common-twice', 'tie-a', 'tie-b']);
    const expected = termScore(1, 10, 10, idf(10, 1)) + termScore(1, 10, 10, idf(10, 5));
    expect(ranked[0]!.score).toBe(expected);
    // Same input, same bits.
    expect(rankBm25(stats, [1, 5], [{ id: 'x', seq: 1, length: 7, tf: [3, 1] }])).toEqual(rankBm25(stats, [1, 5], [{ id: 'x', seq: 1, length: 7, tf: [3, 1] }]));
  });
});

describe('query terms', () => {
  it('splits, lower-cases, drops stop words, dedupes and caps at MAX_TERMS', () => {
    expect(ftsTerms('The Vacation days, vacation DAYS!')).toEqual(['vacation', 'days']);
    expect(ftsTerms('the of a')).toEqual(['the', 'of', 'a']);
    expect(ftsTerms('!!! ??')).toEqual([]);
    const many = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
    expect(ftsTerms(many)).toHaveLength(MAX_TERMS);
    expect(MAX_TERMS).toBe(16);
  });

  it('quotes every term as an FTS5 string', () => {
    expect(ftsPhrase('say"hi')).toBe('"say""hi"');
    expect(ftsQuery('NEAR(a b')).toBe('"near" OR "b"');
  });
});

async function createCollection(t: TestTenant, name: string): Promise<string> {
  const r = await gql('mutation($n: String!) { createCollection(input: { name: $n }) { id } }', { n: name }, { token: t.token });
  return r.body.data.createCollection.id as string;
}

/** Words chosen to exercise porter stemming, case folding, diacritics and non-Latin scripts. */
const WORDS = [
  'Running', 'runs', 'RUN', 'ran', 'runner', 'run.', 'rerun', 'Café', 'cafe', 'CAFÉ,', 'naïve', 'naive', 'Connection', 'connected',
  'connecting', 'connects', 'connective', 'ponies', 'pony', 'caresses', 'happy', 'happiness', 'relational', 'relate', 'hopeful', 'hope',
  'Straße', 'strasse', 'Ελληνικά', 'ελληνικα', 'Москва', 'москва', '東京', '2024', 'v2', 'generalization', 'generally', 'general',
];
const TERMS = ['run', 'running', 'cafe', 'café', 'naive', 'connect', 'pony', 'happy', 'relate', 'hope', 'straße', 'strasse', 'ελληνικα', 'москва', '東京', '2024', 'general', 'generalize', 'absent'];

describe('FTS5 consistency (real D1)', () => {
  it('tf counts exactly the tokens FTS5 MATCH finds; a chunk is a candidate iff MATCH finds it', async () => {
    const t = await createTenant();
    const doc = await ingestProcessed(t, { name: 'words', text: WORDS.join(' ') });
    expect(doc.chunkCount).toBe(1);
    const { text } = (await env.DB.prepare('SELECT text FROM chunks WHERE document_id = ?').bind(doc.id).first<{ text: string }>())!;
    const pieces = text.split(/\s+/).filter(Boolean);
    expect(pieces).toHaveLength(WORDS.length);
    // An independent judge: each piece alone in a scratch FTS5 table with the same tokenizer.
    const probe = `kw_probe_${crypto.randomUUID().replaceAll('-', '')}`;
    await env.DB.exec(`CREATE VIRTUAL TABLE ${probe} USING fts5(t, tokenize='porter unicode61')`);
    try {
      await env.DB.batch(pieces.map((p) => env.DB.prepare(`INSERT INTO ${probe} (t) VALUES (?)`).bind(p)));
      const scope = await scopeOf(t);
      for (const term of TERMS) {
        const phrase = ftsPhrase(ftsTerms(term)[0]!);
        const matched = (await env.DB.prepare(`SELECT count(*) AS n FROM ${probe} WHERE ${probe} MATCH ?`).bind(phrase).first<{ n: number }>())!.n;
        const evidence = await scope.chunks.keywordEvidence(ftsTerms(term).slice(0, 1));
        const tf = evidence.candidates[0]?.tf[0] ?? 0;
        expect(tf, term).toBe(matched);
        expect(evidence.candidates.length, term).toBe(matched > 0 ? 1 : 0);
        expect(evidence.docFreq, term).toEqual([matched > 0 ? 1 : 0]);
      }
    } finally {
      await env.DB.exec(`DROP TABLE ${probe}`);
    }
    // Spot checks of what porter unicode61 does, so a tokenizer change cannot go unnoticed.
    const spot = async (term: string) => (await bm25Ranking(t, term)).evidence.candidates[0]?.tf[0] ?? 0;
    expect(await spot('run')).toBe(4); // Running runs RUN run. — not ran, runner, rerun
    expect(await spot('cafe')).toBe(3);
    expect(await spot('connect')).toBe(5); // connection connected connecting connects connective
  });

  it('df and N count the tenant’s visible chunks only, and a filter does not change them', async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    const d1 = await ingestProcessed(a, { name: 'one', text: 'lantern lantern harbour' });
    await ingestProcessed(a, { name: 'two', text: 'lantern festival' });
    await ingestProcessed(a, { name: 'three', text: 'harbour cranes' });
    for (let i = 0; i < 3; i++) await ingestProcessed(b, { name: `b${i}`, text: 'lantern lantern lantern harbour' });
    const scope = await scopeOf(a);
    const phrases = ['lantern', 'harbour'];
    const all = await scope.chunks.keywordEvidence(phrases);
    expect(all.stats.chunks).toBe(3);
    expect(all.docFreq).toEqual([2, 2]);
    expect(all.candidates).toHaveLength(3);
    const only = await scope.chunks.keywordEvidence(phrases, { documentIds: [d1.id] });
    expect(only.stats).toEqual(all.stats);
    expect(only.docFreq).toEqual(all.docFreq);
    expect(only.candidates.map((c) => c.id)).toEqual(all.candidates.filter((c) => c.id.startsWith(`${d1.id}:`)).map((c) => c.id));
    expect(only.candidates).toHaveLength(1);
    expect(only.candidates[0]!.tf).toEqual([2, 1]);
    // Replacing a document's content: the old version's chunks stop counting at the flip.
    await ingestProcessed(a, { name: 'two', text: 'festival fireworks' });
    const after = await scope.chunks.keywordEvidence(phrases);
    expect(after.stats.chunks).toBe(3);
    expect(after.docFreq).toEqual([1, 2]);
  });

  it('past the per-term window: df is counted and every candidate’s tf is still exact', async () => {
    const t = await createTenant();
    // 12 sections, one chunk each, in seq order. "gamma" in all (tf 1 or 2); "delta" only in
    // the two oldest, so those are candidates through delta but older than gamma's window.
    const sections = Array.from({ length: 12 }, (_, i) => `## S${i}\n\n${i % 2 ? 'gamma gamma' : 'gamma'} note ${i}${i < 2 ? ' delta' : ''}.`);
    const doc = await ingestProcessed(t, { name: 'g.md', text: sections.join('\n\n') });
    expect(doc.chunkCount).toBe(12);
    const full = await bm25Ranking(t, 'gamma delta');
    expect(full.evidence.truncatedTerms).toBe(0);
    expect(full.evidence.docFreq).toEqual([12, 2]);
    const windowed = await bm25Ranking(t, 'gamma delta', 3);
    expect(windowed.evidence.truncatedTerms).toBe(1);
    expect(windowed.evidence.docFreq).toEqual(full.evidence.docFreq);
    expect(windowed.evidence.stats).toEqual(full.evidence.stats);
    // Gamma's newest 4 (3 + the one that shows the list is longer) and delta's two.
    expect(windowed.evidence.candidates).toHaveLength(6);
    const exact = new Map(full.evidence.candidates.map((c) => [c.id, c]));
    for (const c of windowed.evidence.candidates) expect(c.tf, c.id).toEqual(exact.get(c.id)!.tf);
    // The delta chunks (older than gamma's window) got their gamma tf from the second pass.
    expect(windowed.evidence.candidates.filter((c) => c.tf[1]! > 0).map((c) => c.tf)).toEqual(expect.arrayContaining([[1, 1], [2, 1]]));
    // Scores of the candidates both saw are identical: same statistics, same tf.
    const fullScores = new Map(full.ranked.map((r) => [r.id, r.score]));
    for (const r of windowed.ranked) expect(r.score).toBe(fullScores.get(r.id));
    expect(windowed.ranked.slice(0, 2).map((r) => r.id)).toEqual(full.ranked.slice(0, 2).map((r) => r.id));
  });
});

describe('filters at their maximum size', () => {
  it('stay under D1’s 100 bound parameters in every mode (each list is one JSON parameter)', async () => {
    const t = await createTenant();
    const col = await createCollection(t, 'lamps');
    const doc = await ingestProcessed(t, { name: 'lamp', text: 'lantern harbour at night', collectionId: col, tags: ['t19'] });
    await ingestProcessed(t, { name: 'other', text: 'lantern festival', tags: ['x'] });
    const fill = (prefix: string, n: number, real: string) => [...Array.from({ length: n - 1 }, (_, i) => `${prefix}${i}`), real];
    const filter = { documentIds: fill('d', 50, doc.id), collectionIds: fill('c', 50, col), tags: fill('t', 20, 't19') };
    for (const mode of MODES) {
      const found = await hits(t, { query: 'lantern harbour', mode, topK: 10, filter });
      expect(found.map((h) => h.document.id), mode).toEqual([doc.id]);
    }
  });
});

