/**
 * Deterministic synthetic corpus for the search benchmark: pseudo-words with a Zipf-like
 * frequency, so keyword queries have realistic selectivity. Shared by the bench Worker
 * (store vs floor) and the GraphQL benchmark (which ingests the same texts).
 */
const SYL = ['ka', 'lo', 'mi', 'ne', 'ru', 'ta', 'vo', 'zi', 'pe', 'su', 'do', 'ga', 'hi', 'ju', 'be', 'fo', 'ly', 'wa', 'xe', 'qu'];
const VOCAB = 6000;

function word(i: number): string {
  let s = '';
  let x = i + 7;
  for (let k = 0; k < 3; k++) {
    s += SYL[x % SYL.length];
    x = Math.floor(x / SYL.length) + k * 13;
  }
  return `${s}${i % 97}`;
}

/** mulberry32: tiny seeded PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Zipf-ish rank: rank r has weight ~ 1/r. */
function zipf(r: () => number): number {
  return Math.min(VOCAB - 1, Math.floor(Math.exp(r() * Math.log(VOCAB))) - 1);
}

function ranks(i: number): number[] {
  const r = rng(i * 2654435761);
  return Array.from({ length: 45 }, () => zipf(r));
}

/** The text of chunk `i` (45 words). */
export function corpusText(i: number): string {
  return ranks(i).map(word).join(' ');
}

/** A keyword-like query: the three rarest distinct words of chunk `i`. */
export function queryText(i: number): string {
  return [...new Set(ranks(i))].sort((a, b) => b - a).slice(0, 3).map(word).join(' ');
}

/**
 * A two-word query of mid-frequency words of chunk `i`: its distinct words ordered rarest
 * first, the ones a third and half way down (in a 100k-chunk corpus such a word is in
 * hundreds to thousands of chunks). The neighbour benchmark's query shape (issue 13).
 */
export function midQueryText(i: number): string {
  const distinct = [...new Set(ranks(i))].sort((a, b) => b - a);
  return [distinct[Math.floor(distinct.length / 3)]!, distinct[Math.floor(distinct.length / 2)]!].map(word).join(' ');
}
