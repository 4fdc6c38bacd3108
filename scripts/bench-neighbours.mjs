// npm run bench:neighbours — does a big neighbour slow a small tenant down? (issue 13,
// docs/retrieval.md "Neighbour benchmark").
//  Two `wrangler dev` processes on 127.0.0.1, each with a fresh state directory:
//   - "alone":  tenant A with 1,000 chunks, nothing else;
//   - "beside": the same tenant A with the same 1,000 chunks, and tenant B with 100,000
//     chunks over the same vocabulary in the same database.
//  Both are filled through GraphQL (the real path: queue, chunks, FTS, vectors; so B's
//  vector namespace holds 100,000 vectors too). Then A's `search` is timed on both, query
//  by query, alternating which goes first (KEYWORD, VECTOR, HYBRID; topK 10; two-word
//  queries of mid-frequency words of A's chunks; --queries per mode after 10 warm-ups), so
//  the load of a shared machine falls on both sides alike and the ratio is side by side.
//  B's own search latency (100k chunks of its own) is timed too.
//  BENCH_BIG=1: then B grows to 1,000,000 chunks. The other 900,000 are bulk-loaded
//  straight into the "beside" D1 with `wrangler d1 execute --local --file` while its
//  wrangler dev is stopped (multi-row INSERTs of documents, then of their chunks, so the
//  same triggers as in production index them and keep B's statistics; the time is
//  printed); wrangler dev restarts and A is timed against "alone" again. B's vector
//  namespace stays at 100,000 (the local store keeps vectors in memory: 1M × 384 floats
//  would be 1.5 GB on a shared machine); its D1 holds the million.
// Prints A's slowdown per mode; target ≤ 1.2× at 100k (see the table at the end).
// Options: --queries 60  --b 100000  --big 1000000 (B's size with BENCH_BIG=1)  --dims 384
//          --port 8850 (ports 8850-8853: two servers and their inspectors)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { DEV_VARS, freshState, startDev, stopDev, waitReady, wranglerSync } from './dev-server.mjs';
import { mintToken, readDevVars } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const QUERIES = Number(opt('queries', '60'));
const B_CHUNKS = Number(opt('b', '100000'));
const BIG = process.env.BENCH_BIG === '1';
const B_BIG = Number(opt('big', '1000000'));
const PORT = Number(opt('port', '8850'));
const DIMS = Number(opt('dims', '384'));
const A_CHUNKS = 1_000;
const CHUNKS_PER_DOC = 500;
const MODES = ['KEYWORD', 'VECTOR', 'HYBRID'];
const A_ID = '99999999-0000-4000-8000-0000000000aa';
const B_ID = '99999999-0000-4000-8000-0000000000bb';
// B's chunks draw from the same corpus as A's but from other positions: same vocabulary.
const B_OFFSET = 1_000_000;

const now = () => performance.now();
const sleep = (t) => new Promise((r) => setTimeout(r, t));
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const ms = (x) => `${x.toFixed(1)} ms`;

const corpusDir = mkdtempSync(join(tmpdir(), 'edgerag-corpus-'));
const corpusFile = join(corpusDir, 'corpus.mjs');
writeFileSync(corpusFile, (await build({ entryPoints: ['scripts/bench/corpus.ts'], bundle: true, format: 'esm', platform: 'neutral', write: false, logLevel: 'silent' })).outputFiles[0].text);
const { corpusText, midQueryText } = await import(pathToFileURL(corpusFile).href);

// .dev.vars.example's development settings and secrets (--env-file below), whatever a local
// .dev.vars says: a fresh clone has none, and wrangler.toml's top-level vars are production's.
const { JWT_SECRET } = readDevVars('.dev.vars.example');
const tokens = {
  A: await mintToken({ secret: JWT_SECRET, tenant: 'bench-a', role: 'admin', sub: 'bench' }),
  B: await mintToken({ secret: JWT_SECRET, tenant: 'bench-b', role: 'admin', sub: 'bench' }),
};

/** One wrangler dev process over its own fresh local state (migrations applied, tenants A and B). */
class Dev {
  constructor(name, port) {
    this.name = name;
    this.port = port;
    this.base = `http://127.0.0.1:${port}`;
    this.state = freshState({ prefix: `edgerag-neighbours-${name}-`, sql:
      `INSERT INTO tenants (id, slug, name, plan, status) VALUES ('${A_ID}', 'bench-a', 'A', 'enterprise', 'active'), ('${B_ID}', 'bench-b', 'B', 'enterprise', 'active')` });
    this.server = null;
  }

  /** The tail of the running (or last) server's output. */
  get log() {
    return this.server?.output ?? '';
  }

  async start() {
    this.server = startDev({ label: this.name, port: this.port, args: ['--persist-to', this.state, '--env-file', DEV_VARS,
      '--var', `EMBEDDING_DIMENSIONS:${DIMS}`, '--var', 'OPENAI_API_KEY:'] });
    await waitReady(this.server);
  }

  async stop() {
    await stopDev(this.server);
  }
}

async function gql(dev, who, query, variables = {}) {
  const res = await fetch(`${dev.base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[who]}` }, body: JSON.stringify({ query, variables }) });
  const body = await res.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const docText = (first) => Array.from({ length: CHUNKS_PER_DOC }, (_, k) => `## Section ${first + k}\n\n${corpusText(first + k)}`).join('\n\n');

/** Ingests `chunks` chunks (corpus positions from `offset`) through GraphQL, 4 clients; waits for COMPLETED. */
async function ingest(dev, who, chunks, offset) {
  const t0 = now();
  const queue = Array.from({ length: Math.ceil(chunks / CHUNKS_PER_DOC) }, (_, d) => d);
  const ids = [];
  const client = async () => {
    while (queue.length) {
      const d = queue.shift();
      const r = await gql(dev, who, 'mutation($input: IngestDocumentInput!) { ingestDocument(input: $input) { id } }', { input: { name: `${who}-${offset + d}.md`, text: docText(offset + d * CHUNKS_PER_DOC) } });
      ids.push(r.ingestDocument.id);
    }
  };
  await Promise.all([client(), client(), client(), client()]);
  const pending = new Set(ids);
  const deadline = Date.now() + 30 * 60_000;
  while (pending.size) {
    if (Date.now() > deadline) throw new Error(`ingestion did not finish: ${pending.size} documents pending`);
    await sleep(500);
    for (const id of [...pending]) {
      const r = await gql(dev, who, 'query($id: ID!) { document(id: $id) { status error } }', { id });
      if (r.document.status === 'COMPLETED') pending.delete(id);
      else if (r.document.status === 'FAILED') throw new Error(`document failed: ${r.document.error}`);
      else break;
    }
  }
  const s = (now() - t0) / 1000;
  console.log(`  ${dev.name}: ${who} ingested ${chunks} chunks through GraphQL in ${s.toFixed(1)} s (${Math.round(chunks / s)} chunks/s)`);
}

/**
 * Bulk load for BENCH_BIG: `chunks` more chunks for B written as SQL files and applied with
 * `wrangler d1 execute --local --file` while wrangler dev is stopped. Documents first (at
 * version 1, COMPLETED), then their chunks at version 1: the chunk insert trigger of
 * migration 0007 finds the document at the chunk's version and indexes it.
 */
function bulkLoad(dev, chunks, offset) {
  const t0 = now();
  const dir = mkdtempSync(join(tmpdir(), 'edgerag-bulk-'));
  const q = (s) => `'${s.replaceAll("'", "''")}'`;
  const DOCS_PER_FILE = 100; // 50,000 chunks (~20 MB of SQL) per file
  const docs = Math.ceil(chunks / CHUNKS_PER_DOC);
  for (let f = 0; f * DOCS_PER_FILE < docs; f++) {
    const lines = [];
    for (let d = f * DOCS_PER_FILE; d < Math.min(docs, (f + 1) * DOCS_PER_FILE); d++) {
      const docId = `bulk-${offset + d}`;
      lines.push(`INSERT INTO documents (id, tenant_id, name, source_type, mime_type, content_hash, status, chunk_count, version) VALUES (${q(docId)}, ${q(B_ID)}, ${q(`bulk-${d}.md`)}, 'text', 'text/markdown', ${q(`bulk-${offset + d}`)}, 'completed', ${CHUNKS_PER_DOC}, 1);`);
      for (let k0 = 0; k0 < CHUNKS_PER_DOC; k0 += 100) {
        const rows = [];
        for (let k = k0; k < Math.min(CHUNKS_PER_DOC, k0 + 100); k++) {
          const i = offset + d * CHUNKS_PER_DOC + k;
          const text = corpusText(i);
          rows.push(`(${q(`${docId}:1:${k}`)}, ${q(B_ID)}, ${q(docId)}, 1, ${k}, ${q(text)}, ${q(`Section ${i}`)}, ${text.split(' ').length})`);
        }
        lines.push(`INSERT INTO chunks (id, tenant_id, document_id, version, chunk_index, text, heading, token_count) VALUES ${rows.join(', ')};`);
      }
    }
    const file = join(dir, `bulk-${f}.sql`);
    writeFileSync(file, lines.join('\n'));
    wranglerSync(['d1', 'execute', 'DB', '--local', '--persist-to', dev.state, '--file', file, '--yes']);
    rmSync(file);
    process.stdout.write(`\r  B: bulk-loaded ${Math.min(chunks, (f + 1) * DOCS_PER_FILE * CHUNKS_PER_DOC)} / ${chunks} chunks (${((now() - t0) / 1000).toFixed(0)} s)`);
  }
  rmSync(dir, { recursive: true, force: true });
  const s = (now() - t0) / 1000;
  console.log(`\n  B: bulk-loaded ${chunks} chunks with wrangler d1 execute --local --file in ${s.toFixed(1)} s (${Math.round(chunks / s)} chunks/s)`);
}

const searchQuery = 'query($input: SearchInput!) { search(input: $input) { hits { score chunkIndex document { id } } } }';
const summary = (lat) => ({ p50: pct(lat, 50), p99: pct(lat, 99) });

/**
 * A's searches timed on every server in `devs`, query by query, alternating which server
 * goes first, so that load from other work falls on all of them alike. Per server and mode:
 * p50/p99, and how many queries found nothing (there should be none).
 */
async function measureA(devs) {
  const out = devs.map(() => ({ floor: [], empty: {} }));
  for (const mode of ['floor', ...MODES]) {
    for (let q = -10; q < QUERIES; q++) {
      const query = midQueryText((Math.abs(q) * 7919 + 13) % A_CHUNKS);
      const order = q % 2 === 0 ? devs.map((_, i) => i) : devs.map((_, i) => devs.length - 1 - i);
      for (const i of order) {
        const t = now();
        const r = mode === 'floor' ? await gql(devs[i], 'A', '{ viewer { role } }') : await gql(devs[i], 'A', searchQuery, { input: { query, mode, topK: 10 } });
        const dt = now() - t;
        if (q < 0) continue;
        (out[i][mode] ??= []).push(dt);
        if (mode !== 'floor' && r.search.hits.length === 0) out[i].empty[mode] = (out[i].empty[mode] ?? 0) + 1;
      }
    }
  }
  return out.map((o) => Object.fromEntries([...Object.entries(o).filter(([k]) => k !== 'empty').map(([k, v]) => [k, summary(v)]), ['empty', o.empty]]));
}

/** B's own searches (mid-frequency two-word queries of B's chunks) on one server. */
async function measureB(dev, ownChunks) {
  const out = {};
  for (const mode of MODES) {
    const lat = [];
    for (let q = -10; q < QUERIES; q++) {
      const query = midQueryText(B_OFFSET + ((Math.abs(q) * 7919 + 13) % ownChunks));
      const t = now();
      await gql(dev, 'B', searchQuery, { input: { query, mode, topK: 10 } });
      if (q >= 0) lat.push(now() - t);
    }
    out[mode] = summary(lat);
  }
  console.log(`  ${dev.name}: B (${ownChunks} own chunks) ${MODES.map((m) => `${m} p50 ${ms(out[m].p50)} p99 ${ms(out[m].p99)}`).join('  ')}`);
  return out;
}

const show = (label, r) =>
  console.log(`  ${label}: viewer floor p50 ${ms(r.floor.p50)}  ${MODES.map((m) => `${m} p50 ${ms(r[m].p50)} p99 ${ms(r[m].p99)}`).join('  ')}${Object.keys(r.empty).length ? `  empty: ${JSON.stringify(r.empty)}` : ''}`);

const runs = [];
console.log(`edgerag neighbour benchmark — A ${A_CHUNKS} chunks, B ${B_CHUNKS}${BIG ? ` then ${B_BIG}` : ''} chunks, ${QUERIES} queries per mode, ${DIMS} dims, offline embedder, Node ${process.version}`);
console.log('(a shared machine: other work runs beside this benchmark; A is timed on both servers query by query, so compare the two columns of one run)');
const alone = new Dev('alone', PORT);
const beside = new Dev('beside', PORT + 2);
const t0 = now();
try {
  await Promise.all([alone.start(), beside.start()]);
  await ingest(alone, 'A', A_CHUNKS, 0);
  await ingest(beside, 'A', A_CHUNKS, 0);
  await ingest(beside, 'B', B_CHUNKS, B_OFFSET);
  const [a1, b1] = await measureA([alone, beside]);
  show('A alone', a1);
  show(`A beside B (${B_CHUNKS})`, b1);
  runs.push({ b: B_CHUNKS, alone: a1, beside: b1, bOwn: await measureB(beside, B_CHUNKS) });
  if (BIG) {
    await beside.stop();
    bulkLoad(beside, B_BIG - B_CHUNKS, B_OFFSET + B_CHUNKS);
    await beside.start();
    const [a2, b2] = await measureA([alone, beside]);
    show('A alone', a2);
    show(`A beside B (${B_BIG})`, b2);
    runs.push({ b: B_BIG, alone: a2, beside: b2, bOwn: await measureB(beside, B_BIG) });
  }
} catch (err) {
  console.error(`wrangler dev logs (tail):\n${alone.log.slice(-1500)}\n${beside.log.slice(-1500)}`);
  throw err;
} finally {
  await Promise.all([alone.stop(), beside.stop()]);
  rmSync(alone.state, { recursive: true, force: true });
  rmSync(beside.state, { recursive: true, force: true });
  rmSync(corpusDir, { recursive: true, force: true });
}
console.log(`\nwhole run: ${((now() - t0) / 1000).toFixed(0)} s`);

console.log('\n| B chunks | mode | A alone p50 / p99 | A beside B p50 / p99 | slowdown (p50) | B’s own p50 |\n|---|---|---|---|---|---|');
let met = true;
for (const r of runs) {
  for (const m of MODES) {
    const ratio = r.beside[m].p50 / r.alone[m].p50;
    if (r.b === B_CHUNKS && ratio > 1.2) met = false;
    console.log(`| ${r.b.toLocaleString('en')} | ${m} | ${ms(r.alone[m].p50)} / ${ms(r.alone[m].p99)} | ${ms(r.beside[m].p50)} / ${ms(r.beside[m].p99)} | ${ratio.toFixed(2)}× | ${ms(r.bOwn[m].p50)} |`);
  }
}
const own = runs[0].bOwn;
console.log(`\ntargets: A beside B (${B_CHUNKS.toLocaleString('en')}) ≤ 1.2× alone in every mode: ${met ? 'met' : 'NOT met'}; ` +
  `a tenant with ${B_CHUNKS.toLocaleString('en')} own chunks KEYWORD p50 ≤ 30 ms: ${own.KEYWORD.p50 <= 30 ? 'met' : 'NOT met'} (${ms(own.KEYWORD.p50)}), ` +
  `HYBRID p50 ≤ 80 ms: ${own.HYBRID.p50 <= 80 ? 'met' : 'NOT met'} (${ms(own.HYBRID.p50)})`);
process.exit(0);
