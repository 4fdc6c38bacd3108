/**
 * Deterministic offline embeddings: the hashing trick over normalised, lightly stemmed
 * words (signed feature hashing, Weinberger et al. 2009), sublinear term frequency,
 * L2-normalised. Same text → same vector on every machine, no network, no model file.
 * Cosine similarity then measures shared vocabulary, so a keyword-like query lands on
 * the chunk that uses those words; it knows nothing of synonyms or meaning.
 */
import type { EmbeddingProvider, EmbeddingResult } from './embeddings';
import { estimateTokens } from './tokens';

const STOPWORDS = new Set(
  ('a an and are as at be but by for from has have he her his i if in into is it its of on or our she so that the their them ' +
    'there these they this to was we were what when where which who will with you your not no do does did can could would should ' +
    'than then also about after before over under more most such only own same other any all each both few some very just').split(' '),
);

/** Lower-cases, strips diacritics and splits into word tokens. */
export function words(text: string): string[] {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
}

/** A few English suffix rules so "policies"/"policy" and "refunds"/"refund" share a feature. */
export function stem(w: string): string {
  if (w.length <= 4 || /^\d+$/.test(w)) return w;
  if (w.endsWith('ies')) return `${w.slice(0, -3)}y`;
  if (w.endsWith('sses')) return w.slice(0, -2);
  if (w.endsWith('ing') && w.length > 6) return w.slice(0, -3);
  if (w.endsWith('ed') && w.length > 5) return w.slice(0, -2);
  if (w.endsWith('es') && /(x|ch|sh|ss)es$/.test(w)) return w.slice(0, -2);
  if (w.endsWith('s') && !w.endsWith('ss') && !w.endsWith('us') && !w.endsWith('is')) return w.slice(0, -1);
  return w;
}

/** FNV-1a, 32 bit: tiny, fast, and stable across runtimes. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class OfflineEmbeddings implements EmbeddingProvider {
  readonly model = 'offline-hashing-v1';
  readonly maxBatch = 256;

  constructor(readonly dimensions: number) {}

  /** One vector, as a Float32Array (also used by the benchmark without the async wrapper). */
  vector(text: string): Float32Array {
    const out = new Float32Array(this.dimensions);
    const tf = new Map<string, number>();
    for (const w of words(text)) {
      if (STOPWORDS.has(w)) continue;
      const s = stem(w);
      tf.set(s, (tf.get(s) ?? 0) + 1);
    }
    if (tf.size === 0) {
      // Text of only stop words still gets a stable, non-zero vector.
      for (const w of words(text)) tf.set(w, (tf.get(w) ?? 0) + 1);
    }
    for (const [term, n] of tf) {
      const h = fnv1a(term);
      // The low bits pick the bucket, one high bit the sign: collisions cancel on average.
      const sign = h & 0x80000000 ? -1 : 1;
      out[(h & 0x7fffffff) % this.dimensions]! += sign * (1 + Math.log(n));
    }
    let norm = 0;
    for (let i = 0; i < out.length; i++) norm += out[i]! * out[i]!;
    norm = Math.sqrt(norm);
    if (norm === 0) {
      out[0] = 1;
      return out;
    }
    for (let i = 0; i < out.length; i++) out[i]! /= norm;
    return out;
  }

  async embed(texts: string[]): Promise<EmbeddingResult> {
    return {
      vectors: texts.map((t) => Array.from(this.vector(t))),
      tokens: texts.reduce((n, t) => n + estimateTokens(t), 0),
    };
  }
}
