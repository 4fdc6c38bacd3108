/**
 * Fusing the keyword and vector candidate lists of HYBRID search (docs/retrieval.md
 * "Fusion and weights"). Pure functions: no I/O, no tenant data beyond the ids given.
 *
 * Plain reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009) gives every list the
 * same weight and sees only ranks. Measured on the labelled set of `npm run bench:quality`
 * that lost to KEYWORD alone: the offline vector list is a noisier copy of the keyword list
 * (hashed words without idf), and a chunk that is middling in both lists outranked the keyword
 * list's clear first hit, because ranks cannot say that hit was far ahead. The default is now
 * a weighted convex combination of min-max normalised scores (convexCombination), which keeps
 * score gaps; weighted RRF stays available (`fusion: RRF`). How good the vector list is
 * depends on the embedding provider, so the default weights do too, and a tenant (or a
 * request, or an agent through SearchRequest.weights) can set its own.
 */
import { AppError } from '../lib/errors';

/** Relative weights of the two lists in HYBRID fusion. */
export interface RetrievalWeights {
  keyword: number;
  vector: number;
}

/** RRF constant from Cormack, Clarke & Büttcher (SIGIR 2009). */
export const RRF_K = 60;

/**
 * Defaults per embedding provider. Offline, chosen on the tuning half of `npm run
 * bench:quality` before migration 0007 (vector weights 0.05, 0.1 and 0.2 tie there at 0.960; 0.1 the
 * middle of that plateau; the held-out half is reported apart: docs/retrieval.md "Quality").
 * - offline (hashed words: a lexical signal): the vector list breaks near-ties of the
 *   keyword list and does not override its clear winners;
 * - semantic (a real embedding model, which finds paraphrases the keyword list cannot): both
 *   lists count alike. Not measurable offline; a deployment with a model should run the
 *   benchmark against it and set retrievalWeights accordingly.
 */
export const DEFAULT_WEIGHTS = {
  offline: { keyword: 1, vector: 0.1 },
  semantic: { keyword: 1, vector: 1 },
} as const satisfies Record<string, RetrievalWeights>;

export type EmbeddingKind = keyof typeof DEFAULT_WEIGHTS;

/** Each weight is from 0 to MAX_WEIGHT; at least one is positive. */
export const MAX_WEIGHT = 10;

/**
 * Validates weights from a request, a tenant setting or an agent: both present, finite,
 * 0..MAX_WEIGHT, not both 0. BAD_USER_INPUT names `<field>.keyword` / `<field>.vector`.
 */
export function validateWeights(w: { keyword?: unknown; vector?: unknown }, field: string): RetrievalWeights {
  const one = (name: 'keyword' | 'vector'): number => {
    const v = w[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_WEIGHT) {
      throw new AppError('BAD_USER_INPUT', `${field}.${name} must be a number from 0 to ${MAX_WEIGHT}`, { field: `${field}.${name}` });
    }
    return v;
  };
  const out = { keyword: one('keyword'), vector: one('vector') };
  if (out.keyword === 0 && out.vector === 0) {
    throw new AppError('BAD_USER_INPUT', `${field}: at least one weight must be above 0 (use mode KEYWORD or VECTOR for one list)`, { field });
  }
  return out;
}

/** One ranked list of candidate ids (best first) and its weight. */
export interface WeightedList {
  ids: readonly string[];
  weight: number;
}

/**
 * Weighted RRF over `lists`; best first. Ties (equal scores) keep first-seen order across
 * the lists as given, so put the list that should win ties first. A list with weight 0
 * contributes nothing (its ids appear only if another list has them).
 */
export function weightedRrf(lists: readonly WeightedList[], k = RRF_K): { id: string; score: number }[] {
  const scores = new Map<string, number>();
  for (const { ids, weight } of lists) {
    if (weight <= 0) continue;
    ids.forEach((id, i) => scores.set(id, (scores.get(id) ?? 0) + weight / (k + i + 1)));
  }
  // Array.prototype.sort is stable: equal scores keep insertion (first-seen) order.
  return [...scores.entries()].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score);
}

/** One ranked list with its scores (best first; higher is better) and its weight. */
export interface ScoredList {
  items: readonly { id: string; score: number }[];
  weight: number;
}

/**
 * Convex combination of normalised scores (Bruch, Gai & Ingber, "An Analysis of Fusion
 * Functions for Hybrid Retrieval", ACM TOIS 2023): score(d) = Σ_i w_i · norm_i(d) / Σ_i w_i,
 * in [0, 1], with norm_i min-max over list i's candidates (best 1, worst 0; a list whose
 * scores are all equal gives 1). A document missing from a list gets 0 from it — the same as
 * that list's worst candidate, which it cannot have beaten. (Dividing by the best score alone
 * was measured too: the vector list's flat cosines then gave every chunk it contained a
 * bonus over those it did not, and paraphrased questions lost more.) Unlike RRF it keeps how
 * far apart the scores are: a keyword hit far ahead of the next stays ahead, while near-ties
 * (common for short queries) are broken by the other list. Ties keep first-seen order.
 */
export function convexCombination(lists: readonly ScoredList[]): { id: string; score: number }[] {
  const total = lists.reduce((n, l) => n + Math.max(0, l.weight), 0);
  const scores = new Map<string, number>();
  for (const { items, weight } of lists) {
    // Every id takes its place in first-seen order, even from a list that adds nothing.
    for (const it of items) if (!scores.has(it.id)) scores.set(it.id, 0);
    if (weight <= 0 || total <= 0 || items.length === 0) continue;
    const max = Math.max(...items.map((it) => it.score));
    const min = Math.min(...items.map((it) => it.score));
    const span = max - min;
    for (const it of items) {
      const norm = span > 0 ? (it.score - min) / span : 1;
      scores.set(it.id, scores.get(it.id)! + (weight * norm) / total);
    }
  }
  return [...scores.entries()].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score);
}

/** How HYBRID fuses its two lists. */
export type FusionMethod = 'CONVEX' | 'RRF';
export const DEFAULT_FUSION: FusionMethod = 'CONVEX';

/** Plain RRF (all weights 1): kept for callers that fuse lists of equal standing. */
export function reciprocalRankFusion(lists: string[][], k = RRF_K): { id: string; score: number }[] {
  return weightedRrf(lists.map((ids) => ({ ids, weight: 1 })), k);
}
