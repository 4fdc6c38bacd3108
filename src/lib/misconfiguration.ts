/**
 * Configuration problems told apart from bugs. A missing secret, a bad var or a database
 * whose migrations were never applied is the operator's to fix, so it answers 503 naming
 * the setting and the fix (in /healthz, and in GraphQL outside production) instead of a
 * masked 500 whose cause only the log knows.
 */
import { ConfigError } from '../env';
import { AppError } from './errors';

export interface Misconfiguration {
  /** The var, secret or binding to fix (`DB` for migrations). */
  setting: string;
  /** What is wrong, e.g. "JWT_SECRET is not set". */
  problem: string;
  /** What to run or change. */
  fix: string;
}

export const MIGRATIONS_FIX =
  'apply the migrations: npx wrangler d1 migrations apply DB --local (deployed: npx wrangler d1 migrations apply DB --remote)';

/** SQLite's words for a schema older than the code; D1 and libSQL pass them through. */
const SCHEMA_BEHIND = /no such (?:table|column): [\w."]+|table \S+ has no column named \S+/i;

/** The database answered as if its migrations were not (all) applied. */
export function schemaBehind(detail: string): Misconfiguration {
  return { setting: 'DB', problem: `the database schema is behind the code (${detail}): migrations are not applied`, fix: MIGRATIONS_FIX };
}

/**
 * The configuration problem behind an error, or null for anything else. Follows `cause`
 * (drizzle wraps the driver's error as "Failed query: …" and keeps the real one there)
 * and GraphQL's `originalError`.
 */
export function misconfigurationOf(err: unknown): Misconfiguration | null {
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 8; depth++) {
    if (cur instanceof ConfigError) return { setting: cur.setting, problem: cur.problem, fix: cur.fix };
    const message = cur instanceof Error ? cur.message : typeof cur === 'string' ? cur : '';
    const behind = SCHEMA_BEHIND.exec(message);
    if (behind) return schemaBehind(behind[0]);
    const next = cur as { cause?: unknown; originalError?: unknown };
    cur = next.cause ?? next.originalError;
  }
  return null;
}

/**
 * The client's view of a misconfiguration: UPSTREAM_UNAVAILABLE (503) with
 * `extensions.reason: 'misconfigured'`. Outside production the message names the setting
 * and the fix; in production it only says the service is misconfigured and points the
 * operator at /healthz and the log line with this request id.
 */
export function misconfiguredError(m: Misconfiguration, requestId: string, production: boolean): AppError {
  if (production) {
    return new AppError(
      'UPSTREAM_UNAVAILABLE',
      `The service is misconfigured. Its operator can see what is wrong at /healthz or in the log under request id ${requestId}.`,
      { reason: 'misconfigured' },
    );
  }
  return new AppError('UPSTREAM_UNAVAILABLE', `The service is misconfigured: ${m.problem}. Fix: ${m.fix}`, {
    reason: 'misconfigured', setting: m.setting, fix: m.fix,
  });
}
