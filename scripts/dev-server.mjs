// `wrangler dev` servers for the benchmarks (npm run bench:*): fresh local state, start in a
// process group of its own (stopping it stops its workerd too), wait until it answers, stop,
// and a GraphQL client. One copy, so every benchmark starts and stops servers the same way.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const WRANGLER = 'node_modules/wrangler/bin/wrangler.js';
/** The settings every benchmark runs with: .dev.vars.example (a fresh clone has no .dev.vars). */
export const DEV_VARS = '.dev.vars.example';
// No Cloudflare account, no metrics, no interactive session.
const childEnv = { CLOUDFLARE_CF_FETCH_ENABLED: 'false', ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' };

/** Runs a wrangler command to completion; throws with its output if it fails. */
export function wranglerSync(args) {
  const r = spawnSync(process.execPath, [WRANGLER, ...args], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', env: childEnv, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`wrangler ${args.slice(0, 3).join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * A fresh local state directory (`dir`, emptied, or a new temporary one) with the migrations
 * applied to DB and `sql` (the benchmark's tenants, keys…) executed; returns its path.
 */
export function freshState({ dir = null, prefix = 'edgerag-bench-', sql = '' } = {}) {
  let state = dir;
  if (state) {
    rmSync(state, { recursive: true, force: true });
    mkdirSync(state, { recursive: true });
  } else {
    state = mkdtempSync(join(tmpdir(), prefix));
  }
  wranglerSync(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', state]);
  if (sql) wranglerSync(['d1', 'execute', 'DB', '--local', '--persist-to', state, '--command', sql]);
  return state;
}

/**
 * Starts `wrangler dev` on 127.0.0.1:`port` (inspector on `inspectorPort`, default port + 1) with
 * `args` after the common ones. Its output is kept (the last 64 kB) for the error when it fails.
 */
export function startDev({ label, port, inspectorPort = port + 1, args = [] }) {
  const child = spawn(
    process.execPath,
    [WRANGLER, 'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
      '--show-interactive-dev-session=false', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: childEnv },
  );
  const server = { label, port, child, url: `http://127.0.0.1:${port}`, output: '' };
  const keep = (d) => (server.output = (server.output + d).slice(-65_536));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return server;
}

/** Waits until `path` answers as `ready` accepts (default: 2xx); throws with the server's output. */
export async function waitReady(server, { path = '/healthz', timeoutMs = 120_000, ready = (r) => r.ok } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`${server.label}: wrangler dev exited (${server.child.exitCode}):\n${server.output.slice(-2000)}`);
    try {
      if (ready(await fetch(`${server.url}${path}`))) return;
    } catch {
      // not listening yet
    }
    await delay(250);
  }
  throw new Error(`${server.label}: not ready after ${timeoutMs / 1000} s:\n${server.output.slice(-2000)}`);
}

/** Stops the server's process group: SIGINT, then SIGKILL after 10 s. */
export async function stopDev(server) {
  if (!server || server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  try {
    process.kill(-server.child.pid, 'SIGINT');
  } catch {
    return;
  }
  const done = await Promise.race([exited.then(() => true), delay(10_000).then(() => false)]);
  if (!done) {
    try {
      process.kill(-server.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** A GraphQL client of `baseUrl` with a bearer token; throws on GraphQL errors. */
export function graphqlClient(baseUrl, token) {
  return async (query, variables = {}) => {
    const res = await fetch(`${baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = await res.json();
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
}
