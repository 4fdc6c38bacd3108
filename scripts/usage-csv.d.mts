export const USAGE_CSV_COLUMNS: readonly string[];
export const USAGE_REPORT_QUERY: string;
export function usageCsv(rows: readonly Record<string, unknown>[]): string;
