/**
 * The Worker's fetch handler called with a changed `env`: the same code as SELF, started
 * with other vars, secrets or bindings (a missing secret, production configuration, an
 * unmigrated database) without a vitest project per variant.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import worker from '../../src/index';

export type Fetch = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

/** A fetch that goes to the Worker with `overrides` over the test bindings (one env object, so config is validated once). */
export function workerWith(overrides: Record<string, unknown>): Fetch {
  const changed = { ...env, ...overrides };
  return async (input, init) => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(input, init) as never, changed as never, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  };
}
