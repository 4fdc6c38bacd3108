/**
 * Counts the statements a D1 binding is asked to run (every query, batch member and exec
 * goes through `prepare` or `exec`). It is how tests and `npm run bench:pipeline` see the
 * hot path's D1 traffic honestly, through the binding itself rather than by trusting code
 * paths. Off unless asked for: the Worker wraps its binding only when D1_QUERY_COUNT=true.
 */
export interface QueryCounter {
  queries: number;
}

/** Statements prepared in this isolate through counted bindings (the bench reads it at /__bench/d1). */
export const isolateD1Counter: QueryCounter = { queries: 0 };

/** `d1` with every `prepare` and `exec` counted into each of `counters`; everything else passes through. */
export function countingD1(d1: D1Database, ...counters: QueryCounter[]): D1Database {
  return new Proxy(d1, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      if (prop === 'prepare' || prop === 'exec') {
        return (...args: unknown[]) => {
          for (const c of counters) c.queries += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

