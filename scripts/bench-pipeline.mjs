// npm run bench:pipeline — the whole request pipeline against a bare graphql-yoga Worker.
//
// Three `wrangler dev` servers on 127.0.0.1, in one run: a bare graphql-yoga Worker
// (scripts/bench/bare-yoga: same yoga, same workerd, one trivial field), edgerag with the
// guard (GUARD_ENABLED=true) and edgerag without it (GUARD_ENABLED=false), each edgerag with
// its own fresh local state. autocannon loads `{ viewer { role } }` at 50 connections in
// interleaved rounds (every round runs each case on each server, the order rotating, so
// load from anything else on the machine falls on all of them alike) for three cases: a
// JWT on the bare host, an API key, and a JWT on the tenant's subdomain host. It prints
// req/s, p50 and p99 (medians over rounds), the ratios to bare, and the D1 statements per
// request that edgerag's counted binding saw (D1_QUERY_COUNT=true; /__bench/d1), with the
// targets of issue 11 marked met or not.
//
// Options (env): BENCH_ROUNDS (2), BENCH_SECONDS (10 per case, server and round),
// BENCH_CONNECTIONS (50), BENCH_PORT (8830: uses PORT..PORT+2, inspectors PORT+10..PORT+12).
import { createHash, randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { DEV_VARS, freshState, startDev, stopDev, waitReady } from './dev-server.mjs';
import { mintToken, readDevVars } from './lib.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const BASE_PORT = Number(process.env.BENCH_PORT ?? 8830);
const TARGET_GUARD = 0.6;
const TARGET_NO_GUARD = 0.85;
const BODY = JSON.stringify({ query: '{ viewer { role } }' });

// .dev.vars.example's development settings and secrets (--env-file below) whatever a local
// .dev.vars says: a fresh clone has none, and wrangler.toml's top-level vars are production's.
const { JWT_SECRET } = readDevVars(DEV_VARS);
const STATE = '.wrangler/bench-pipeline';

const tenant = { id: crypto.randomUUID(), slug: `bench${Date.now().toString(36)}` };
const other = { id: crypto.randomUUID(), slug: `other${Date.now().toString(36)}` };
// An API key inserted directly: erk_<prefix>_<secret>, stored as prefix + SHA-256(secret).
const B32 = 'abcdefghijkmnpqrstuvwxyz23456789';
const prefix = Array.from(randomBytes(12), (b) => B32[b % 32]).join('');
const secret = randomBytes(32).toString('base64url');
const apiKey = { id: crypto.randomUUID(), token: `erk_${prefix}_${secret}`, hash: createHash('sha256').update(secret).digest('hex') };

/** Fresh local state for one edgerag server: migrations, the tenants and the API key. */
function prepareState(dir) {
  // Limits that never bind: the benchmark measures the pipeline, not refusals.
  const limits = JSON.stringify({ requestsPerMinute: 100_000_000, userRequestsPerMinute: 100_000_000, monthlyRequests: null });
  freshState({ dir, sql:
    `INSERT INTO tenants (id, slug, name, plan, status, limits) VALUES ('${tenant.id}', '${tenant.slug}', 'Bench', 'pro', 'active', '${limits}'), ('${other.id}', '${other.slug}', 'Other', 'pro', 'active', '{}');
     INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, scopes, rate_limit_per_minute) VALUES ('${apiKey.id}', '${tenant.id}', 'bench', '${prefix}', '${apiKey.hash}', '["search"]', NULL);` });
}

const startServer = (label, port, args) => startDev({ label, port, inspectorPort: port + 10, args: ['--log-level', 'error', ...args] });

const d1Count = async (server) => (server.counted ? (await (await fetch(`${server.url}/__bench/d1`)).json()).queries : 0);

/** One autocannon run; returns req/s, p50, p99, requests, non-2xx and the D1 statements edgerag counted meanwhile. */
async function run(server, headers, seconds) {
  const before = await d1Count(server);
  const r = await autocannon({
    url: `${server.url}/graphql`, method: 'POST', connections: CONNECTIONS, duration: seconds, body: BODY,
    headers: { 'content-type': 'application/json', ...headers },
  });
  const after = await d1Count(server);
  const total = r.requests.total;
  // `sent` includes requests still in flight when the run stopped: their D1 work is in the count too.
  return { rps: total / (r.duration || seconds), p50: r.latency.p50, p99: r.latency.p99, total, sent: r.requests.sent ?? total, bad: r.non2xx + r.errors + r.timeouts, d1: after - before };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

async function main() {
  for (const port of [BASE_PORT, BASE_PORT + 1, BASE_PORT + 2]) {
    const busy = await fetch(`http://127.0.0.1:${port}/`).then(() => true, () => false);
    if (busy) throw new Error(`127.0.0.1:${port} is in use; set BENCH_PORT to a free range`);
  }
  console.log('preparing local state (migrations, a tenant, an API key)…');
  prepareState(`${STATE}/on`);
  prepareState(`${STATE}/off`);
  const jwt = await mintToken({ secret: JWT_SECRET, tenant: tenant.id, role: 'admin', sub: 'bench-user' });
  const cases = [
    { name: 'JWT', headers: { authorization: `Bearer ${jwt}` } },
    { name: 'API key', headers: { authorization: `Bearer ${apiKey.token}` } },
    { name: 'subdomain host', headers: { authorization: `Bearer ${jwt}`, host: `${tenant.slug}.localhost` } },
  ];
  const edge = (label, port, extra) =>
    Object.assign(startServer(label, port, ['--persist-to', `${STATE}/${label}`, '--env-file', DEV_VARS, '--var', 'D1_QUERY_COUNT:true', ...extra]), { counted: true });
  const servers = [
    startServer('bare', BASE_PORT, ['-c', 'scripts/bench/bare-yoga/wrangler.toml']),
    edge('on', BASE_PORT + 1, ['--var', 'GUARD_ENABLED:true']),
    edge('off', BASE_PORT + 2, ['--var', 'GUARD_ENABLED:false']),
  ];
  const cleanup = () => Promise.all(servers.map(stopDev));
  process.on('SIGINT', () => cleanup().then(() => process.exit(130)));
  try {
    console.log(`starting wrangler dev: bare :${BASE_PORT}, guard on :${BASE_PORT + 1}, guard off :${BASE_PORT + 2}…`);
    await Promise.all(servers.map((s) => waitReady(s, s.counted ? {} : { path: '/graphql?query=%7B__typename%7D', ready: (r) => r.status < 500 })));

    // The subdomain case must really reach host routing: another tenant's host must be refused.
    const wrongHost = await autocannon({
      url: `${servers[1].url}/graphql`, method: 'POST', amount: 5, connections: 1, body: BODY,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt}`, host: `${other.slug}.localhost` },
    });
    if (wrongHost.non2xx !== 5) throw new Error('the Host header did not reach the Worker: the subdomain case would measure the bare-host path');

    // Warm-up: JIT, isolates, the directory, the Durable Object, D1 page cache.
    for (const c of cases) for (const s of servers) await run(s, c.headers, 2);

    const results = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const [ci, c] of cases.entries()) {
        const order = [...servers];
        for (let k = 0; k < (round + ci) % servers.length; k++) order.push(order.shift());
        for (const s of order) {
          const r = await run(s, c.headers, SECONDS);
          if (r.bad) throw new Error(`${s.label} / ${c.name}: ${r.bad} failed requests`);
          ((results[c.name] ??= {})[s.label] ??= []).push(r);
          console.log(`  round ${round + 1} ${c.name.padEnd(14)} ${s.label.padEnd(4)} ${fmt(r.rps).padStart(6)} req/s  p50 ${fmt(r.p50, 1)} ms  p99 ${fmt(r.p99, 1)} ms`);
        }
      }
    }

    console.log(`\n{ viewer { role } }, ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${SECONDS} s per case and server (medians; 127.0.0.1, wrangler dev)\n`);
    const rows = [['case', 'server', 'req/s', 'p50 ms', 'p99 ms', 'x bare', 'D1/request', 'target']];
    let allMet = true;
    for (const c of cases) {
      const bare = median(results[c.name].bare.map((r) => r.rps));
      for (const label of ['bare', 'on', 'off']) {
        const rs = results[c.name][label];
        const rps = median(rs.map((r) => r.rps));
        const ratio = rps / bare;
        const d1 = label === 'bare' ? '-' : fmt(rs.reduce((a, r) => a + r.d1, 0) / rs.reduce((a, r) => a + r.sent, 0), 3);
        const target = label === 'on' ? TARGET_GUARD : label === 'off' ? TARGET_NO_GUARD : null;
        const met = target === null || ratio >= target;
        if (!met) allMet = false;
        rows.push([c.name, label === 'bare' ? 'bare yoga' : `guard ${label}`, fmt(rps), fmt(median(rs.map((r) => r.p50)), 1), fmt(median(rs.map((r) => r.p99)), 1),
          label === 'bare' ? '1.00' : fmt(ratio, 2), d1, target === null ? '' : `>= ${target}: ${met ? 'met' : 'NOT met'}`]);
      }
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) console.log(`  ${r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')}`);
    console.log('\nD1/request: statements edgerag prepared (Worker and TenantGuard in that isolate, alarm flushes included) per request served.');
    process.exitCode = allMet ? 0 : 1;
  } finally {
    await cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
