/**
 * Okapi BM25 over ONE tenant's chunks (docs/retrieval.md "Keyword ranking").
 *
 * FTS5's own bm25() takes N, document frequencies and the average length from the whole
 * FTS index, which all tenants share: with it, tenant A's ranking moves when tenant B adds
 * documents, and A could infer B's vocabulary from that. Here every statistic comes from
 * the requesting tenant's visible chunks only (src/db/repositories/chunks.ts
 * `keywordEvidence`), and this module is pure arithmetic on them.
 *
 *   score(c) = Σ_t idf(t) · tf(t,c)·(k1+1) / (tf(t,c) + k1·(1 − b + b·len(c)/avglen))
 *   idf(t)   = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
 *
 * The idf is Lucene's variant of Robertson–Spärck Jones: never negative, so a term that
 * occurs in most chunks still counts a little instead of pushing chunks down (FTS5 clamps
 * the plain form to a tiny positive number instead). k1 and b are FTS5's defaults.
 */

export const BM25_K1 = 1.2;
export const BM25_B = 0.75;

/** The tenant's visible chunks: how many (N) and their total length (Σ token_count). */
export interface CorpusStats {
  chunks: number;
  tokens: number;
}

/** One candidate chunk: its length and, per query term, how often the term occurs in it. */
export interface Bm25Candidate {
  id: string;
  /** Insertion order within the tenant; breaks score ties (earlier first). */
  seq: number;
  length: number;
  /** Term frequencies, index-aligned with the query's terms. */
  tf: number[];
}

export interface Bm25Params {
  k1: number;
  b: number;
}

const DEFAULTS: Bm25Params = { k1: BM25_K1, b: BM25_B };

/**
 * Inverse document frequency of a term found in `df` of `n` chunks. df is clamped to
 * [0, n]: the two numbers may come from different reads while a document is being flipped.
 */
export function idf(n: number, df: number): number {
  const d = Math.min(Math.max(df, 0), Math.max(n, 0));
  return Math.log(1 + (Math.max(n, 0) - d + 0.5) / (d + 0.5));
}

/**
 * One term's contribution to a chunk's score: saturating in tf (k1), normalised by the
 * chunk's length relative to the average (b). Zero when the term does not occur.
 */
export function termScore(tf: number, length: number, avgLength: number, termIdf: number, p: Bm25Params = DEFAULTS): number {
  if (tf <= 0) return 0;
  // A corpus without recorded lengths (token_count 0) gets no length normalisation.
  const norm = avgLength > 0 ? 1 - p.b + p.b * (length / avgLength) : 1;
  return (termIdf * (tf * (p.k1 + 1))) / (tf + p.k1 * norm);
}

/**
 * Scores every candidate and returns them best first (ties: lower seq first, so the order
 * is total and repeatable). `docFreq[i]` is the number of the tenant's chunks containing
 * term i. Terms are summed in query order so equal inputs give bit-identical scores.
 */
export function rankBm25(
  stats: CorpusStats,
  docFreq: number[],
  candidates: Bm25Candidate[],
  p: Bm25Params = DEFAULTS,
): { id: string; score: number }[] {
  const avgLength = stats.chunks > 0 ? stats.tokens / stats.chunks : 0;
  const idfs = docFreq.map((df) => idf(stats.chunks, df));
  const scored = candidates.map((c) => {
    let score = 0;
    for (let i = 0; i < idfs.length; i++) score += termScore(c.tf[i] ?? 0, c.length, avgLength, idfs[i]!, p);
    return { id: c.id, seq: c.seq, score };
  });
  scored.sort((a, b) => b.score - a.score || a.seq - b.seq);
  return scored.map(({ id, score }) => ({ id, score }));
}
