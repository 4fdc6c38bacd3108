// CSV for `npm run usage:export` (one row per tenant for one month, RFC 4180 quoting).
// Pure: the export script and the workerd test (test/lifecycle/usage-history.test.ts) share it.

/** Columns, in order: tenant identity, then the guard's counters as `usageReport` returns them. */
export const USAGE_CSV_COLUMNS = [
  'period', 'tenantId', 'slug', 'name', 'plan', 'status', 'requests', 'rateLimited', 'asks', 'embeddingTokens',
  'promptTokens', 'completionTokens', 'documents', 'storedBytes', 'asOf',
];

/** The usageReport selection the export needs (one field per column). */
export const USAGE_REPORT_QUERY = `query($period: String!, $first: Int, $after: String) {
  usageReport(period: $period, first: $first, after: $after) {
    edges { node { ${USAGE_CSV_COLUMNS.join(' ')} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

// Quote only when needed; a leading = + - @ would make a spreadsheet run a formula from a
// tenant-chosen name, so such a cell is prefixed with a quote (OWASP CSV injection).
function cell(value) {
  let s = value === null || value === undefined ? '' : String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** CSV text (header + one line per row, CRLF line ends) of usageReport nodes. */
export function usageCsv(rows) {
  const lines = [USAGE_CSV_COLUMNS.join(',')];
  for (const r of rows) lines.push(USAGE_CSV_COLUMNS.map((c) => cell(r[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
