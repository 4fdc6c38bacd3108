/**
 * `npm run bench:guard-rpc`: the TenantGuard's own RPC cost inside workerd, without
 * wrangler dev's HTTP proxy in the way. 500 sequential calls each of `admit` (check,
 * consume and the durable SQLite write of the counters) and `usage` (read-only), after a
 * warm-up, against one guard with limits too high to refuse. Not part of `npm test`:
 * it only reports; speed targets live in benchmark scripts, never in tests.
 */
import { env } from 'cloudflare:test';
import { it } from 'vitest';
import { DEFAULT_PLANS } from '../../src/env';

const N = 500;

it('reports the guard RPC cost', async () => {
  const ns = env.TENANT_GUARD;
  const tenantId = `bench-${crypto.randomUUID()}`;
  const stub = ns.get(ns.idFromName(tenantId));
  const limits = { ...DEFAULT_PLANS.enterprise, requestsPerMinute: 1e9, userRequestsPerMinute: 1e9 };
  for (let i = 0; i < 50; i++) await stub.admit(tenantId, { limits, userId: 'u' });
  const time = async (fn: () => Promise<unknown>) => {
    // Date.now() advances across I/O in workerd, and every RPC is I/O.
    const t = Date.now();
    for (let i = 0; i < N; i++) await fn();
    return (Date.now() - t) / N;
  };
  const rows: string[] = [];
  for (let round = 1; round <= 3; round++) {
    const admit = await time(() => stub.admit(tenantId, { limits, userId: 'u' }));
    const usage = await time(() => stub.usage(tenantId));
    rows.push(`  round ${round}: admit ${admit.toFixed(2)} ms   usage (read-only) ${usage.toFixed(2)} ms   difference ${(admit - usage).toFixed(2)} ms`);
  }
  console.log(`TenantGuard RPC, ${N} sequential calls each, mean per call:\n${rows.join('\n')}`);
});
