/**
 * Turns user text into a safe FTS5 MATCH expression. User input is never FTS5 syntax:
 * every term is wrapped in double quotes (a quoted string is always a plain phrase —
 * https://www.sqlite.org/fts5.html#fts5_strings), so operators, column filters, `*`,
 * `^`, NEAR and unbalanced quotes in the query are just characters, never an error or
 * an injection. Terms are ORed: BM25 ranks chunks that match more (and rarer) terms first.
 */
const MAX_TERMS = 32;
const STOP = new Set(['a', 'an', 'and', 'are', 'as', 'at', 'be', 'by', 'for', 'from', 'in', 'is', 'it', 'of', 'on', 'or', 'the', 'to', 'was', 'with', 'what', 'how', 'do', 'does', 'i', 'we', 'you']);

/** The MATCH expression for `query`, or null when it has no searchable term. */
export function ftsQuery(query: string): string | null {
  const terms = query
    .normalize('NFKC')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((t) => t.length > 0);
  const meaningful = terms.filter((t) => !STOP.has(t));
  const chosen = [...new Set(meaningful.length > 0 ? meaningful : terms)].slice(0, MAX_TERMS);
  if (chosen.length === 0) return null;
  return chosen.map((t) => `"${t.replace(/"/g, '""')}"`).join(' OR ');
}
