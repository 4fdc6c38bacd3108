/** Structured JSON logs (Workers Logs / `wrangler tail` index them); always carry the request id. */
export interface Logger {
  info(msg: string, data?: Record<string, unknown>): void;
  warn(msg: string, data?: Record<string, unknown>): void;
  error(msg: string, data?: Record<string, unknown>): void;
}

export function createLogger(requestId: string, base: Record<string, unknown> = {}): Logger {
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
  };
}

export function errorDetail(err: unknown): Record<string, unknown> {
  if (err instanceof Error) return { error: err.message, name: err.name, stack: err.stack };
  return { error: String(err) };
}
