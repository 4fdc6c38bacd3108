/**
 * Token estimates without a tokenizer table in the bundle. BPE tokenizers (cl100k,
 * o200k) average about four characters of English per token, more for code and
 * non-Latin scripts; counting word pieces this way lands within ~15% of tiktoken on
 * prose, which is all chunk sizing and quota pre-checks need. Exact figures come
 * from the provider's `usage` when one is called.
 */
const PIECE = /[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu;

/** Estimated number of model tokens in `text`. */
export function estimateTokens(text: string): number {
  let n = 0;
  for (const m of text.matchAll(PIECE)) {
    const piece = m[0];
    // Punctuation is one token; words cost one per ~4 characters (long words split).
    n += piece.length <= 4 ? 1 : Math.ceil(piece.length / 4);
  }
  return n;
}
