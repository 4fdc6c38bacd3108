/**
 * The closed set of client-facing error codes (DESIGN §7) and their HTTP statuses.
 * Services throw `AppError` (no GraphQL import); the Yoga error mask turns it into a
 * GraphQLError with `extensions.code` (src/schema/errors.ts). Anything that is not an
 * AppError is unexpected: it is masked and logged with the request id.
 */
export const ERROR_STATUS = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_USER_INPUT: 400,
  RATE_LIMITED: 429,
  QUOTA_EXCEEDED: 429,
  TENANT_SUSPENDED: 403,
  PAYLOAD_TOO_LARGE: 413,
  UPSTREAM_UNAVAILABLE: 503,
  /**
   * A race with another request over the same object (e.g. concurrent replacements of one
   * document): nothing is wrong and nothing was changed, so the client retries (after
   * `extensions.retryAfter` seconds). Not in DESIGN §7's list: a conflict is not an outage.
   */
  CONFLICT: 409,
  /** Writes refused while the tenant moves between databases (Retry-After); reads continue. */
  TENANT_MIGRATING: 503,
  /** Masked unexpected error (not in DESIGN §7's list: the mask needs a code too). */
  INTERNAL_SERVER_ERROR: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly extensions: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
    this.extensions = extensions;
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);
export const badInput = (message: string, field?: string) =>
  new AppError('BAD_USER_INPUT', message, field ? { field } : {});
/** Seconds a client is told to wait before retrying after a CONFLICT: the other writer is usually done by then. */
export const CONFLICT_RETRY_SECONDS = 1;

/** A CONFLICT (409, retryable) with `extensions.retryAfter`. */
export const conflict = (message: string, extensions: Record<string, unknown> = {}) =>
  new AppError('CONFLICT', message, { retryAfter: CONFLICT_RETRY_SECONDS, ...extensions });
export const forbidden = (message = 'Not allowed') => new AppError('FORBIDDEN', message);
