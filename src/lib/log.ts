/**
 * Structured JSON logs (Workers Logs / `wrangler tail` index them). Every line carries the
 * request id, and the tenant id once the request knows it, so an operator can follow one
 * request or one tenant.
 */
export interface Logger {
  info(msg: string, data?: Record<string, unknown>): void;
  warn(msg: string, data?: Record<string, unknown>): void;
  error(msg: string, data?: Record<string, unknown>): void;
}

/** The logger createLogger makes: it can add fields to every later line. */
export interface RequestLogger extends Logger {
  /** A logger whose lines also carry `fields` (e.g. `{ tenantId }` once the tenant is resolved). */
  with(fields: Record<string, unknown>): RequestLogger;
}

/** Creates the logger of one request (or queue batch); `base` fields go on every line. */
export function createLogger(requestId: string, base: Record<string, unknown> = {}): RequestLogger {
  const emit = (level: string, msg: string, data?: Record<string, unknown>) => {
    const line = JSON.stringify({ level, msg, requestId, ...base, ...data });
    if (level === 'error') console.error(line);
    else if (level === 'warn') console.warn(line);
    else console.log(line);
  };
  return {
    info: (m, d) => emit('info', m, d),
    warn: (m, d) => emit('warn', m, d),
    error: (m, d) => emit('error', m, d),
    with: (fields) => createLogger(requestId, { ...base, ...fields }),
  };
}

/**
 * `log` with `fields` on every line: RequestLogger.with where there is one, else a wrapper
 * (the queue consumers get plain Loggers in tests), e.g. a message's tenant and document id.
 */
export function withFields(log: Logger, fields: Record<string, unknown>): Logger {
  if ('with' in log && typeof (log as RequestLogger).with === 'function') return (log as RequestLogger).with(fields);
  return {
    info: (m, d) => log.info(m, { ...fields, ...d }),
    warn: (m, d) => log.warn(m, { ...fields, ...d }),
    error: (m, d) => log.error(m, { ...fields, ...d }),
  };
}

/** How deep a `cause` chain is followed (drizzle → D1, openai SDK → fetch are two or three). */
const MAX_CAUSES = 5;

/**
 * An error as log fields: message, name, stack, and its `cause` chain. Libraries wrap the
 * real error (drizzle's "Failed query: …" keeps the driver's "no such table" in `cause`,
 * the openai SDK's connection error keeps the fetch failure), so the chain is what says why.
 */
export function errorDetail(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { error: String(err) };
  const causes: string[] = [];
  for (let cur: unknown = err.cause; cur !== undefined && cur !== null && causes.length < MAX_CAUSES; ) {
    causes.push(cur instanceof Error ? `${cur.name}: ${cur.message}` : String(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return { error: err.message, name: err.name, stack: err.stack, ...(causes.length ? { causes } : {}) };
}
