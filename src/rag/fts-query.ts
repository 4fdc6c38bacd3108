/**
 * Turns user text into safe FTS5 MATCH expressions. User input is never FTS5 syntax:
 * every term is wrapped in double quotes (a quoted string is always a plain phrase —
 * https://www.sqlite.org/fts5.html#fts5_strings), so operators, column filters, `*`,
 * `^`, NEAR and unbalanced quotes in the query are just characters, never an error or
 * an injection.
 *
 * Keyword ranking (src/rag/bm25.ts) needs each term on its own: the repository runs one
 * MATCH per term (`ftsPhrase`) so that FTS5 itself says which chunks contain the term and
 * how often. No stemming happens here: FTS5 applies its `porter unicode61` tokenizer to
 * the quoted term exactly as it did to the chunk text, so what MATCH finds and what is
 * counted are the same thing by construction.
 */
/** At most this many distinct terms per query: each costs one FTS5 lookup. */
export const MAX_TERMS = 16;
const STOP = new Set(['a', 'an', 'and', 'are', 'as', 'at', 'be', 'by', 'for', 'from', 'in', 'is', 'it', 'of', 'on', 'or', 'the', 'to', 'was', 'with', 'what', 'how', 'do', 'does', 'i', 'we', 'you']);

/**
 * The distinct search terms of `query` in query order (lower-cased, NFKC, split on
 * anything that is not a letter or digit), stop words dropped unless nothing else is
 * left, at most MAX_TERMS. Empty when the query has no searchable term.
 */
export function ftsTerms(query: string): string[] {
  const terms = query
    .normalize('NFKC')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
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
