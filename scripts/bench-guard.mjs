// npm run bench:guard — what the TenantGuard costs, measured through the full pipeline.
//
// Starts the Worker twice with `wrangler dev` on loopback ports (one with the guard,
// one with GUARD_ENABLED=false), each with its own fresh local state, and reports side
// by side: requests/s and p50/p99 latency of `{ viewer { role } }` (auth + tenant +
// guard + Yoga), then the admitted count of a 1,000-request concurrent burst against a
// tenant whose limit is 100. Needs no Cloudflare account and no internet.
//
// A third server runs a minimal Worker (scripts/bench/do-floor) to show the runtime's
// floor on this machine: what one no-op Durable Object RPC, and one RPC that makes a
// durable SQLite write, add to a request in `wrangler dev`. DESIGN §5 asks for one
// check-and-consume RPC per request, so that is the least an exact guard can add here.
//
// Options (env): BENCH_REQUESTS (default 2000 per server), BENCH_CONCURRENCY (20),
// BENCH_CHUNK (200: the servers take turns in chunks this size), BENCH_PORT (8791: it and
// the next two), BENCH_INSPECTOR_PORT (BENCH_PORT + 100: it and the next two).
import { rmSync } from 'node:fs';
import { DEV_VARS, freshState, startDev, stopDev, waitReady } from './dev-server.mjs';
import { mintToken, readDevVars } from './lib.mjs';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);
/** Requests per server for the one-at-a-time latency run. */
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 500);
/** Requests per interleaved chunk. */
const CHUNK = Number(process.env.BENCH_CHUNK ?? 200);
const BASE_PORT = Number(process.env.BENCH_PORT ?? 8791);
/** Inspector ports, one per server from this one on (default BENCH_PORT + 100). */
const INSPECTOR_PORT = Number(process.env.BENCH_INSPECTOR_PORT ?? BASE_PORT + 100);
const BURST = 1000;
const BURST_LIMIT = 100;
const QUERY = JSON.stringify({ query: '{ viewer { role } }' });

// The development settings of .dev.vars.example, whatever a local .dev.vars says (or
// whether there is one: a fresh clone has none), so the figures never depend on it.
const { JWT_SECRET } = readDevVars(DEV_VARS);

// Tenants: one whose limits never bind (throughput), one limited to 100/min, one with
// 100/min and a monthly cap of 100 (burst). Limits are per-tenant overrides (tenants.limits).
const tenants = {
  fast: { id: crypto.randomUUID(), limits: { requestsPerMinute: 100_000_000, userRequestsPerMinute: 100_000_000, monthlyRequests: null } },
  bucket: { id: crypto.randomUUID(), limits: { requestsPerMinute: BURST_LIMIT, userRequestsPerMinute: 100_000_000, monthlyRequests: null } },
  capped: { id: crypto.randomUUID(), limits: { requestsPerMinute: BURST_LIMIT, userRequestsPerMinute: 100_000_000, monthlyRequests: BURST_LIMIT } },
};

function prepareState(dir) {
  const values = Object.entries(tenants)
    .map(([name, t]) => `('${t.id}', 'bench-${name}-${t.id.slice(0, 8)}', 'Bench ${name}', 'pro', 'active', '${JSON.stringify(t.limits)}')`)
    .join(', ');
  freshState({ dir, sql: `INSERT INTO tenants (id, slug, name, plan, status, limits) VALUES ${values};` });
}

/** One server: edgerag (development settings) or, with `config`, another Worker. */
function startServer(label, port, extraArgs, { config = null } = {}) {
  return startDev({
    label,
    port,
    inspectorPort: INSPECTOR_PORT + port - BASE_PORT,
    args: [...(config ? ['-c', config] : ['--env-file', DEV_VARS]), '--persist-to', `.wrangler/bench-guard/${label}`, '--log-level', 'error', ...extraArgs],
  });
}

async function post(url, token, body = QUERY) {
  const t0 = performance.now();
  const r = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
  const text = await r.text();
  return { status: r.status, ms: performance.now() - t0, text };
}

/** A closed loop: CONCURRENCY clients, each sending its next request when the last one answers. */
async function load(url, token, count, concurrency) {
  const latencies = [];
  let next = 0;
  let failures = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        next++;
        const r = await post(url, token);
        if (r.status !== 200) failures++;
        latencies.push(r.ms);
      }
    }),
  );
  return { latencies, ms: performance.now() - t0, failures };
}

/** Results per server, cached per (count, concurrency) so both servers run in one interleaved pass. */
const passes = new Map();

/**
 * Runs `count` requests per server at `concurrency`, the servers taking turns in chunks
 * (alternating which goes first) so that load from anything else on the machine falls on
 * both alike; returns the figures of server `label`.
 */
async function interleaved(servers, token, count, concurrency, chunk, label) {
  const key = `${count}/${concurrency}`;
  if (!passes.has(key)) {
    const acc = Object.fromEntries(servers.map((s) => [s.label, { lat: [], ms: 0, failures: 0 }]));
    const chunks = Math.max(1, Math.round(count / chunk));
    for (let i = 0; i < chunks; i++) {
      for (const s of i % 2 ? [...servers].reverse() : servers) {
        const r = await load(s.url, token, chunk, concurrency);
        acc[s.label].lat.push(...r.latencies);
        acc[s.label].ms += r.ms;
        acc[s.label].failures += r.failures;
      }
    }
    passes.set(key, acc);
  }
  const a = passes.get(key)[label];
  if (a.failures) throw new Error(`guard ${label}: ${a.failures} requests failed`);
  const lat = [...a.lat].sort((x, y) => x - y);
  const pct = (p) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))];
  return { rps: lat.length / (a.ms / 1000), p50: pct(50), p99: pct(99), count: lat.length };
}

/**
 * The runtime floor: `count` one-at-a-time GETs per path of the minimal Worker, the paths
 * taking turns in chunks; returns the p50 of each path.
 */
async function floorRun(url, count, chunk) {
  const paths = ['none', 'rpc', 'write'];
  const lat = Object.fromEntries(paths.map((p) => [p, []]));
  for (let i = 0; i < Math.max(1, Math.round(count / chunk)); i++) {
    for (const p of i % 2 ? [...paths].reverse() : paths) {
      for (let j = 0; j < chunk; j++) {
        const t0 = performance.now();
        const r = await fetch(`${url}/${p}`);
        const body = await r.text();
        if (r.status !== 200 || !body.includes('true')) throw new Error(`floor /${p}: ${r.status} ${body}`);
        lat[p].push(performance.now() - t0);
      }
    }
  }
  const p50 = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  return Object.fromEntries(paths.map((p) => [p, p50(lat[p])]));
}

async function burst(url, token) {
  const t0 = performance.now();
  const rs = await Promise.all(Array.from({ length: BURST }, () => post(url, token).catch((err) => ({ status: 0, ms: 0, text: String(err) }))));
  const ms = performance.now() - t0;
  const count = (pred) => rs.filter(pred).length;
  return {
    ms,
    admitted: count((r) => r.status === 200),
    rateLimited: count((r) => r.status === 429 && r.text.includes('RATE_LIMITED')),
    quota: count((r) => r.status === 429 && r.text.includes('QUOTA_EXCEEDED')),
    other: count((r) => r.status !== 200 && r.status !== 429),
  };
}

const fmt = (n, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const signed = (n, d = 2) => `${n >= 0 ? '+' : '-'}${fmt(Math.abs(n), d)}`;

async function main() {
  console.log('preparing local state (migrations + bench tenants)…');
  prepareState('.wrangler/bench-guard/on');
  prepareState('.wrangler/bench-guard/off');

  for (const port of [BASE_PORT, BASE_PORT + 1, BASE_PORT + 2]) {
    // Never measure somebody else's server: the ports must be free.
    const busy = await fetch(`http://127.0.0.1:${port}/healthz`).then(() => true, () => false);
    if (busy) throw new Error(`127.0.0.1:${port} is in use; set BENCH_PORT to a free pair of ports`);
  }
  const on = startServer('on', BASE_PORT, []);
  const off = startServer('off', BASE_PORT + 1, ['--var', 'GUARD_ENABLED:false']);
  rmSync('.wrangler/bench-guard/floor', { recursive: true, force: true });
  const floor = startServer('floor', BASE_PORT + 2, [], { config: 'scripts/bench/do-floor/wrangler.toml' });
  const servers = [on, off];
  const cleanup = async () => {
    await Promise.all([...servers, floor].map(stopDev));
  };
  process.on('SIGINT', () => cleanup().then(() => process.exit(130)));
  try {
    console.log(`starting wrangler dev on 127.0.0.1:${on.port} (guard on) and :${off.port} (guard off)…`);
    await Promise.all(servers.map((s) => waitReady(s)));
    await waitReady(floor, { path: '/none' });

    const token = (t) => mintToken({ secret: JWT_SECRET, tenant: t.id, role: 'admin', sub: 'bench-user' });
    const fast = await token(tenants.fast);

    // Warm-up: JIT, isolates, the Durable Object, D1 page cache.
    for (const s of servers) await load(s.url, fast, 300, CONCURRENCY);
    // Added latency per request, without queueing: one request at a time.
    const g1 = await interleaved(servers, fast, SEQUENTIAL, 1, 50, 'on');
    const n1 = await interleaved(servers, fast, SEQUENTIAL, 1, 50, 'off');

    // The runtime floor, one at a time (after its own warm-up).
    await floorRun(floor.url, 150, 50);
    const fl = await floorRun(floor.url, SEQUENTIAL, 50);

    const g = await interleaved(servers, fast, REQUESTS, CONCURRENCY, CHUNK, 'on');
    const n = await interleaved(servers, fast, REQUESTS, CONCURRENCY, CHUNK, 'off');
    const bucketBurst = await burst(on.url, await token(tenants.bucket));
    const cappedBurst = await burst(on.url, await token(tenants.capped));

    // Metering must match what clients saw: read the capped tenant's usage as a platform admin.
    const platform = await mintToken({ secret: JWT_SECRET, role: 'owner', sub: 'bench-operator', platformAdmin: true });
    const usageRes = await post(on.url, platform, JSON.stringify({ query: `{ tenantUsage(tenantId: "${tenants.capped.id}") { requests rateLimited } }` }));
    const usage = JSON.parse(usageRes.text).data?.tenantUsage;

    const costRps = (1 - g.rps / n.rps) * 100;
    const addedP50 = g.p50 - n.p50;
    const refill = Math.floor((bucketBurst.ms / 60_000) * BURST_LIMIT);

    const addedP50Seq = g1.p50 - n1.p50;
    const rows = [
      ['', 'guard on', 'guard off', 'guard cost'],
      [`requests/s (concurrency ${CONCURRENCY})`, fmt(g.rps), fmt(n.rps), `${fmt(costRps, 1)} %`],
      [`p50 latency, ms (concurrency ${CONCURRENCY})`, fmt(g.p50, 2), fmt(n.p50, 2), `${signed(addedP50)} ms`],
      [`p99 latency, ms (concurrency ${CONCURRENCY})`, fmt(g.p99, 2), fmt(n.p99, 2), `${signed(g.p99 - n.p99)} ms`],
      ['p50 latency, ms (one at a time)', fmt(g1.p50, 2), fmt(n1.p50, 2), `${signed(addedP50Seq)} ms`],
      ['p99 latency, ms (one at a time)', fmt(g1.p99, 2), fmt(n1.p99, 2), `${signed(g1.p99 - n1.p99)} ms`],
    ];
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    console.log(`\n{ viewer { role } }: ${g.count} requests per server at concurrency ${CONCURRENCY} and ${g1.count} one at a time, servers alternating in chunks (127.0.0.1, wrangler dev)\n`);
    for (const r of rows) console.log(`  ${r.map((cell, c) => (c ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('   ')}`);

    console.log(`\nruntime floor (minimal Worker, same machine, wrangler dev, one at a time, p50 of ${SEQUENTIAL} each):`);
    console.log(`  no Durable Object ${fmt(fl.none, 2)} ms; one no-op DO RPC ${signed(fl.rpc - fl.none)} ms; one DO RPC with a durable SQLite write ${signed(fl.write - fl.none)} ms`);

    console.log(`\nburst of ${BURST} concurrent requests (guard on):`);
    console.log(`  limit ${BURST_LIMIT}/min + monthly cap ${BURST_LIMIT}: admitted ${cappedBurst.admitted}, RATE_LIMITED ${cappedBurst.rateLimited}, QUOTA_EXCEEDED ${cappedBurst.quota}, other ${cappedBurst.other}  (${fmt(cappedBurst.ms)} ms)`);
    console.log(`  limit ${BURST_LIMIT}/min only:               admitted ${bucketBurst.admitted}, RATE_LIMITED ${bucketBurst.rateLimited}, other ${bucketBurst.other}  (${fmt(bucketBurst.ms)} ms; the bucket refills ${refill} token(s) in that time)`);
    console.log(`  guard's own count for the capped tenant: requests ${usage?.requests}, rateLimited ${usage?.rateLimited}`);

    const exact = cappedBurst.admitted === BURST_LIMIT && cappedBurst.other === 0;
    const bucketOk = bucketBurst.admitted >= BURST_LIMIT && bucketBurst.admitted <= BURST_LIMIT + refill + 1 && bucketBurst.other === 0;
    const metered = usage?.requests === cappedBurst.admitted && usage?.rateLimited === cappedBurst.rateLimited + cappedBurst.quota;
    console.log('\ntargets:');
    console.log(`  throughput cost <= 25 %        ${costRps <= 25 ? 'met' : 'NOT met'} (${fmt(costRps, 1)} %)`);
    console.log(`  added p50 latency <= 1 ms      ${addedP50Seq <= 1 ? 'met' : 'NOT met'} (${signed(addedP50Seq)} ms one at a time; ${signed(addedP50)} ms at concurrency ${CONCURRENCY}, mostly queueing; runtime floor for one durable DO write ${signed(fl.write - fl.none)} ms)`);
    console.log(`  burst admits exactly ${BURST_LIMIT}       ${exact ? 'met' : 'NOT met'} (${cappedBurst.admitted})`);
    console.log(`  bucket-only burst within 100 + refill  ${bucketOk ? 'met' : 'NOT met'} (${bucketBurst.admitted})`);
    console.log(`  metering matches clients       ${metered ? 'met' : 'NOT met'}`);
    process.exitCode = exact && bucketOk && metered ? 0 : 1;
  } finally {
    await cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
