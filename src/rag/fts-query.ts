/**
 * Turns user text into safe FTS5 MATCH expressions. User input is never FTS5 syntax:
 * every term is wrapped in double quotes (a quoted string is always a plain phrase —
 * https://www.sqlite.org/fts5.html#fts5_strings), so operators, column filters, `*`,
 * `^`, NEAR and unbalanced quotes in the query are just characters, never an error or
 * an injection.
 *
 * Keyword ranking (src/rag/bm25.ts) needs each term on its own: the repository runs one
 * MATCH per term so that FTS5 itself says which chunks contain the term and how often; it
 * quotes the term behind the tenant's prefix (migration 0007: every indexed word is
 * "<tag>x<word>"), so a lookup reads only the caller's postings. No stemming happens here:
 * FTS5 applies its `porter unicode61` tokenizer to the quoted term exactly as it did to the
 * chunk text, so what MATCH finds and what is counted are the same thing by construction.
 */
/** At most this many distinct terms per query: each costs one FTS5 lookup. */
export const MAX_TERMS = 16;
const STOP = new Set(['a', 'an', 'and', 'are', 'as', 'at', 'be', 'by', 'for', 'from', 'in', 'is', 'it', 'of', 'on', 'or', 'the', 'to', 'was', 'with', 'what', 'how', 'do', 'does', 'i', 'we', 'you']);

/**
 * The characters that end a word in the keyword index, as code points: ASCII whitespace and
 * punctuation, and common Unicode spaces, dashes, quotes and marks. Migration 0007's
 * chunks_kw_source maps exactly these (in this order) to a space before it puts the
 * tenant's prefix before every word, and its tokenizer splits on the space alone; so a
 * query term must be split at exactly these characters too, or it would name a token the
 * index never holds. Every other character belongs to a word (an emoji glued to a word is
 * part of it). A test checks the two lists agree character by character.
 */
export const KEYWORD_SEPARATORS: readonly number[] = [
  9, 10, 11, 12, 13, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 58, 59, 60, 61, 62, 63, 64, 91, 92, 93, 94, 95, 96,
  123, 124, 125, 126, 160, 161, 167, 171, 173, 182, 183, 187, 191, 8194, 8195, 8201, 8203, 8208, 8209, 8211, 8212, 8216, 8217, 8220,
  8221, 8226, 8230, 8232, 8233, 8239, 12288, 12289, 12290, 65292,
];
const escapeClass = (cp: number) => `\\u{${cp.toString(16)}}`;
const SPLIT = new RegExp(`[ ${KEYWORD_SEPARATORS.map(escapeClass).join('')}]+`, 'u');

/**
 * The distinct search terms of `query` in query order (NFKC, lower-cased, split at the
 * space and KEYWORD_SEPARATORS), stop words dropped unless nothing else is left, at most
 * MAX_TERMS. Empty when the query has no searchable term.
 */
export function ftsTerms(query: string): string[] {
  const terms = query
    .normalize('NFKC')
    .toLowerCase()
    .split(SPLIT)
    .filter((t) => t.length > 0);
  const meaningful = terms.filter((t) => !STOP.has(t));
  return [...new Set(meaningful.length > 0 ? meaningful : terms)].slice(0, MAX_TERMS);
}

/** One term as an FTS5 string (a phrase): safe to bind as a MATCH argument. */
export function ftsPhrase(term: string): string {
  return `"${term.replace(/"/g, '""')}"`;
}

/** The terms of `query` ORed into one MATCH expression, or null when it has no searchable term. */
export function ftsQuery(query: string): string | null {
  const chosen = ftsTerms(query);
  if (chosen.length === 0) return null;
  return chosen.map(ftsPhrase).join(' OR ');
}
