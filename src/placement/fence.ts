/**
 * The write fence of a move (migration 0009): while a tenant's source database has its row in
 * tenant_fences, triggers refuse every write of its data rows there with
 * RAISE(ABORT, 'edgerag:TENANT_MIGRATING'). That message is the only channel SQLite offers out
 * of a trigger, so this module is the one place that recognises it (on the error or its
 * causes: drizzle and D1 wrap driver errors) and turns it into the client error.
 */
import { AppError } from '../lib/errors';

/** The text the fence triggers raise. */
export const FENCE_MESSAGE = 'edgerag:TENANT_MIGRATING';

/** Seconds a refused writer is told to wait (Retry-After). */
export const MIGRATING_RETRY_SECONDS = 10;

/** True when `err` (or a cause of it) is a write refused by a move's fence. */
export function isFenceError(err: unknown): boolean {
  let cur: unknown = err;
  for (let i = 0; i < 6 && cur; i++) {
    if (cur instanceof AppError) return cur.code === 'TENANT_MIGRATING';
    const message = (cur as { message?: unknown }).message;
    if (typeof message === 'string' && message.includes(FENCE_MESSAGE)) return true;
    cur = (cur as { cause?: unknown }).cause ?? (cur as { originalError?: unknown }).originalError;
  }
  return false;
}

/** The client-facing refusal: retryable, with Retry-After. */
export function migratingError(cause?: unknown): AppError {
  return new AppError(
    'TENANT_MIGRATING',
    'This tenant is moving to another database: writes are refused until the move finishes (reads continue). Retry later.',
    { retryAfter: MIGRATING_RETRY_SECONDS },
    ...(cause === undefined ? [] : [{ cause }]),
  );
}
