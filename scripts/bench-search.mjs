// npm run bench:search — retrieval benchmark (docs/retrieval.md "Benchmark").
//  1. Local vector store vs the floor: the store's search core (src/vector/matrix.ts,
//     exactly what LocalVectorIndex runs) against a plain Float32Array dot-product loop
//     with a top-10 pass, over the same offline-embedded vectors, in workerd (Miniflare).
//  2. End to end through GraphQL against `wrangler dev` on 127.0.0.1 (fresh state dir):
//     ingestion throughput (chunks/s, ingestDocument → queue → COMPLETED) and p50/p99
//     latency of VECTOR, KEYWORD and HYBRID search, at 10k and then 100k chunks.
// Options: --sizes 10000,100000  --queries 100  --dims 384  --skip-graphql  --skip-store
//          --port N (wrangler dev; N+1 for its inspector; default a random port from 8900)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { convertV4MiniflareOptions, Miniflare } from 'miniflare';
import { DEV_VARS, freshState, graphqlClient, startDev, stopDev, waitReady } from './dev-server.mjs';
import { mintToken, readDevVars } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const SIZES = opt('sizes', '10000,100000').split(',').map(Number);
const QUERIES = Number(opt('queries', '100'));
const DIMS = Number(opt('dims', '384'));
const CHUNKS_PER_DOC = 500;
const now = () => performance.now();
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => `${x.toFixed(x < 10 ? 2 : 1)} ms`;
const results = { store: [], graphql: [] };

async function bundle(entry) {
  const out = await build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'neutral', write: false, target: 'es2022', logLevel: 'silent' });
  return out.outputFiles[0].text;
}

async function storeVsFloor() {
  const script = await bundle('scripts/bench/store-worker.ts');
  const mf = new Miniflare(convertV4MiniflareOptions({ modules: true, script, compatibilityDate: '2026-10-01' }));
  try {
    for (const n of SIZES) {
      const t0 = now();
      await (await mf.dispatchFetch(`http://bench/load?n=${n}&dims=${DIMS}`)).json();
      const loadMs = now() - t0;
      const agree = await (await mf.dispatchFetch('http://bench/agree')).json();
      const iters = Math.max(5, Math.round(2e6 / n));
      const time = async (path, it) => {
        await mf.dispatchFetch(`http://bench${path}?iters=2`); // warm (JIT, filter mask)
        const samples = [];
        for (let rep = 0; rep < 5; rep++) {
          const t = now();
          await (await mf.dispatchFetch(`http://bench${path}?iters=${it}`)).text();
          samples.push(now() - t);
        }
        return pct(samples, 50);
      };
      const overhead = await time('/noop', 1);
      const per = async (path) => (Math.max(0, (await time(path, iters)) - overhead)) / iters;
      const floor = await per('/floor');
      const store = await per('/store');
      const nofilter = await per('/store-nofilter');
      const row = { n, dims: DIMS, floorMs: floor, storeMs: store, storeNoFilterMs: nofilter, ratio: store / floor, loadMs, agree: `${agree.same}/${agree.of}` };
      results.store.push(row);
      console.log(`store vs floor  n=${n}  floor ${ms(floor)}  store ${ms(store)} (no filter ${ms(nofilter)})  ratio ${row.ratio.toFixed(2)}x  top-1 agreement ${row.agree}`);
    }
  } finally {
    await mf.dispose();
  }
}

const sleep = (t) => new Promise((r) => setTimeout(r, t));

async function graphqlBench() {
  const { corpusText, queryText } = await import(pathToFileURL(await writeCorpusModule()).href);
  const port = Number(opt('port', String(8900 + Math.floor(Math.random() * 90))));
  const tenantId = '99999999-0000-4000-8000-00000000bench';
  const state = freshState({ sql: `INSERT INTO tenants (id, slug, name, plan, status) VALUES ('${tenantId}', 'bench', 'Bench', 'enterprise', 'active')` });
  // .dev.vars.example's development settings and secrets whatever a local .dev.vars says (a fresh clone has none).
  const { JWT_SECRET } = readDevVars(DEV_VARS);
  const token = await mintToken({ secret: JWT_SECRET, tenant: 'bench', role: 'admin', sub: 'bench' });
  const dev = startDev({ label: 'search', port, args: ['--persist-to', state, '--env-file', DEV_VARS, '--var', `EMBEDDING_DIMENSIONS:${DIMS}`, '--var', 'OPENAI_API_KEY:'] });
  const gql = graphqlClient(dev.url, token);
  try {
    await waitReady(dev);
    let loaded = 0;
    let docNo = 0;
    for (const target of SIZES) {
      // Ingest up to `target` chunks: Markdown documents whose sections are one chunk each.
      const need = target - loaded;
      const docs = Math.ceil(need / CHUNKS_PER_DOC);
      const ids = [];
      const t0 = now();
      const queue = Array.from({ length: docs }, () => docNo++);
      const worker = async () => {
        while (queue.length) {
          const d = queue.shift();
          const text = Array.from({ length: CHUNKS_PER_DOC }, (_, k) => `## Section ${d}.${k}\n\n${corpusText(d * CHUNKS_PER_DOC + k)}`).join('\n\n');
          const r = await gql('mutation($input: IngestDocumentInput!) { ingestDocument(input: $input) { id } }', { input: { name: `bench-${d}.md`, text } });
          ids.push(r.ingestDocument.id);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      const accepted = now() - t0;
      const pending = new Set(ids);
      let chunks = 0;
      const deadline = Date.now() + 15 * 60_000;
      while (pending.size) {
        if (Date.now() > deadline) throw new Error(`ingestion did not finish: ${pending.size} documents pending`);
        await sleep(250);
        for (const id of [...pending]) {
          const r = await gql('query($id: ID!) { document(id: $id) { status error chunkCount } }', { id });
          if (r.document.status === 'COMPLETED') {
            pending.delete(id);
            chunks += r.document.chunkCount;
          } else if (r.document.status === 'FAILED') throw new Error(`document failed: ${r.document.error}`);
          else break; // poll in order: later documents cannot be done much earlier
        }
      }
      const elapsed = now() - t0;
      loaded += chunks;
      const rate = chunks / (elapsed / 1000);
      console.log(`ingested ${chunks} chunks in ${(elapsed / 1000).toFixed(1)} s (${Math.round(rate)} chunks/s; accepted in ${(accepted / 1000).toFixed(1)} s) — ${loaded} total`);
      const row = { chunks: loaded, ingestChunksPerSec: rate };
      // The floor of any request here: auth, TenantGuard admission, GraphQL, HTTP through wrangler dev.
      const viewerLat = [];
      for (let q = -10; q < QUERIES; q++) {
        const t = now();
        await gql('{ viewer { role } }');
        if (q >= 0) viewerLat.push(now() - t);
      }
      row.baseline = { p50: pct(viewerLat, 50), p99: pct(viewerLat, 99) };
      console.log(`  baseline (viewer query) p50 ${ms(row.baseline.p50)}  p99 ${ms(row.baseline.p99)}`);
      for (const mode of ['VECTOR', 'KEYWORD', 'HYBRID']) {
        const lat = [];
        for (let q = -10; q < QUERIES; q++) {
          const query = queryText((Math.abs(q) * 7919 + 13) % loaded);
          const t = now();
          const r = await gql('query($input: SearchInput!) { search(input: $input) { hits { score chunkIndex document { id } } } }', { input: { query, mode, topK: 10 } });
          if (q >= 0) lat.push(now() - t);
          if (r.search.hits.length === 0 && mode !== 'VECTOR') console.warn(`no ${mode} hits for "${query}"`);
        }
        row[mode] = { p50: pct(lat, 50), p99: pct(lat, 99) };
        console.log(`  ${mode.padEnd(7)} n=${loaded}  p50 ${ms(row[mode].p50)}  p99 ${ms(row[mode].p99)}`);
      }
      results.graphql.push(row);
    }
  } finally {
    await stopDev(dev);
    rmSync(state, { recursive: true, force: true });
  }
}

async function writeCorpusModule() {
  const dir = mkdtempSync(join(tmpdir(), 'edgerag-corpus-'));
  const file = join(dir, 'corpus.mjs');
  writeFileSync(file, await bundle('scripts/bench/corpus.ts'));
  return file;
}

console.log(`edgerag search benchmark — sizes ${SIZES.join(', ')}, ${DIMS} dims, offline embedder, Node ${process.version}`);
if (!args.includes('--skip-store')) await storeVsFloor();
if (!args.includes('--skip-graphql')) await graphqlBench();

console.log('\n| chunks | ingest chunks/s | VECTOR p50 / p99 | KEYWORD p50 / p99 | HYBRID p50 / p99 |\n|---|---|---|---|---|');
for (const r of results.graphql) {
  const f = (m) => `${ms(r[m].p50)} / ${ms(r[m].p99)}`;
  console.log(`| ${r.chunks} | ${Math.round(r.ingestChunksPerSec)} | ${f('VECTOR')} | ${f('KEYWORD')} | ${f('HYBRID')} |`);
}
console.log('\n| vectors | floor (Float32Array loop) | local store (tenant filter) | no filter | ratio |\n|---|---|---|---|---|');
for (const r of results.store) console.log(`| ${r.n} × ${r.dims} | ${ms(r.floorMs)} | ${ms(r.storeMs)} | ${ms(r.storeNoFilterMs)} | ${r.ratio.toFixed(2)}× |`);
const target = results.store.every((r) => r.ratio <= 1.5);
const hybrid10k = results.graphql.find((r) => r.chunks >= 10000 && r.chunks < 20000);
console.log(`\ntargets: local store within 1.5× of the floor: ${results.store.length ? (target ? 'met' : 'NOT met') : 'not run'}; ` +
  `HYBRID p50 < 50 ms at 10k chunks: ${hybrid10k ? (hybrid10k.HYBRID.p50 < 50 ? 'met' : 'NOT met') : 'not run'}`);
process.exit(0);
