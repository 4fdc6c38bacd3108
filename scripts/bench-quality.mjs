// npm run bench:quality — retrieval quality on a labelled set (docs/retrieval.md "Quality").
//  - The set: bench/quality/ (36 READMEs of npm packages, 108 questions, 3 styles; checked by
//    scripts/quality/labelled-set.mjs: every question has exactly one answer document).
//  - Everything goes through GraphQL on `wrangler dev` (127.0.0.1, fresh state directory,
//    offline embedder): ingestDocument → queue → COMPLETED, then `search` (topK 10) per
//    question, mode and configuration.
//  - Scoring is per document: the answer document's rank among the distinct documents of
//    the 10 hits. hit@1, hit@5, MRR@10 per mode and question style, for the tuning half and the
//    held-out half (split by document: scripts/quality/labelled-set.mjs).
//  - Rows: KEYWORD, VECTOR, HYBRID as shipped (defaults: provider weights, 2 chunks per
//    document); "HYBRID before" = plain RRF without a cap (the fusion this replaced);
//    with --sweep, HYBRID at other vector weights (tuning half only decides the default);
//    with --rerank-fake, HYBRID reranked through a local fake /rerank server (a term-overlap
//    scorer, NOT a cross-encoder: it shows the plumbing works and what a lexical reranker does,
//    not what a real model would do).
// Options: --port 8890 (wrangler dev; the inspector uses port+1, the fake reranker port+2)
//          --sweep  --rerank-fake  --verbose (lists the questions HYBRID ranks below KEYWORD)
import { createServer } from 'node:http';
import { rmSync } from 'node:fs';
import { DEV_VARS, freshState, graphqlClient, startDev, stopDev, waitReady } from './dev-server.mjs';
import { mintToken, readDevVars } from './lib.mjs';
import { loadSet, STYLES } from './quality/labelled-set.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const PORT = Number(opt('port', '8890'));
const SWEEP = args.includes('--sweep');
const SWEEP_RRF = args.includes('--sweep-rrf');
const RERANK = args.includes('--rerank-fake');
const VERBOSE = args.includes('--verbose');
const TOP_K = 10;
const sleep = (t) => new Promise((r) => setTimeout(r, t));

const { documents, questions, problems } = loadSet();
if (problems.length) {
  for (const p of problems) console.error(`✗ ${p}`);
  process.exit(1);
}

// ── fake reranker: /rerank in the Cohere/Jina/vLLM shape, scoring by shared words ─────────
const words = (s) => s.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 2);
let rerankCalls = 0;
function fakeReranker() {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const { query, documents: docs } = JSON.parse(body);
      rerankCalls++;
      const q = new Set(words(query));
      const results = docs.map((d, index) => {
        const w = words(d);
        const hit = new Set(w.filter((x) => q.has(x)));
        // Coverage of the query's words dominates; density breaks ties.
        return { index, relevance_score: hit.size / Math.max(1, q.size) + (0.1 * w.filter((x) => q.has(x)).length) / Math.max(20, w.length) };
      });
      results.sort((a, b) => b.relevance_score - a.relevance_score);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ results, usage: { total_tokens: docs.reduce((n, d) => n + Math.ceil(d.length / 4), 0) } }));
    });
  });
  return new Promise((resolve) => server.listen(PORT + 2, '127.0.0.1', () => resolve(server)));
}

async function main() {
  const tenantId = '99999999-0000-4000-8000-000000000017';
  const state = freshState({ prefix: 'edgerag-quality-', sql:
    `INSERT INTO tenants (id, slug, name, plan, status) VALUES ('${tenantId}', 'quality', 'Quality', 'enterprise', 'active')` });
  // .dev.vars.example's development settings and secrets whatever a local .dev.vars says (a
  // fresh clone has none; the top-level vars of wrangler.toml are production's).
  const devVars = readDevVars(DEV_VARS);
  const token = await mintToken({ secret: devVars.JWT_SECRET, tenant: 'quality', role: 'admin', sub: 'bench' });
  const reranker = RERANK ? await fakeReranker() : null;
  const vars = ['--env-file', DEV_VARS, '--var', 'OPENAI_API_KEY:'];
  if (RERANK) vars.push('--var', `RERANK_URL:http://127.0.0.1:${PORT + 2}/rerank`, '--var', 'RERANK_MODEL:fake-term-overlap');
  const dev = startDev({ label: 'quality', port: PORT, args: ['--persist-to', state, ...vars] });
  const gql = graphqlClient(dev.url, token);
  try {
    await waitReady(dev);
    const t0 = performance.now();
    const ids = [];
    for (const d of documents) {
      const r = await gql('mutation($input: IngestDocumentInput!) { ingestDocument(input: $input) { id } }', { input: { name: d.name, text: d.text } });
      ids.push(r.ingestDocument.id);
    }
    let chunks = 0;
    for (const id of ids) {
      for (let i = 0; ; i++) {
        const r = await gql('query($id: ID!) { document(id: $id) { status error chunkCount } }', { id });
        if (r.document.status === 'COMPLETED') {
          chunks += r.document.chunkCount;
          break;
        }
        if (r.document.status === 'FAILED') throw new Error(`document failed: ${r.document.error}`);
        if (i > 600) throw new Error('ingestion did not finish');
        await sleep(200);
      }
    }
    console.log(`edgerag retrieval quality — ${documents.length} documents (${chunks} chunks, ingested in ${((performance.now() - t0) / 1000).toFixed(1)} s), ` +
      `${questions.length} questions, topK ${TOP_K}, offline embedder, Node ${process.version}`);

    const configs = [
      { name: 'KEYWORD', input: { mode: 'KEYWORD' } },
      { name: 'VECTOR', input: { mode: 'VECTOR' } },
      { name: 'HYBRID', input: { mode: 'HYBRID' } },
      { name: 'HYBRID before (RRF 1:1, no cap)', input: { mode: 'HYBRID', fusion: 'RRF', weights: { keyword: 1, vector: 1 }, maxChunksPerDocument: 50 } },
      { name: 'HYBRID RRF 1:1 (cap 2)', input: { mode: 'HYBRID', fusion: 'RRF', weights: { keyword: 1, vector: 1 } } },
      { name: 'HYBRID (no cap)', input: { mode: 'HYBRID', maxChunksPerDocument: 50 } },
      { name: 'KEYWORD (no cap)', input: { mode: 'KEYWORD', maxChunksPerDocument: 50 } },
      { name: 'VECTOR (no cap)', input: { mode: 'VECTOR', maxChunksPerDocument: 50 } },
    ];
    if (SWEEP) {
      for (const v of (SWEEP_RRF ? [0.1, 0.25, 0.5] : [])) configs.push({ name: `HYBRID RRF 1:${v}`, input: { mode: 'HYBRID', fusion: 'RRF', weights: { keyword: 1, vector: v } } });
      for (const v of [0.05, 0.1, 0.2, 0.3, 0.5, 1]) configs.push({ name: `HYBRID CONVEX 1:${v}`, input: { mode: 'HYBRID', fusion: 'CONVEX', weights: { keyword: 1, vector: v } } });
    }
    if (RERANK) configs.push({ name: 'HYBRID + fake rerank', input: { mode: 'HYBRID', rerank: true } });

    const results = {};
    const distinct = {};
    for (const c of configs) {
      results[c.name] = [];
      let docs = 0;
      for (const q of questions) {
        const r = await gql('query($input: SearchInput!) { search(input: $input) { hits { document { name } } } }', { input: { query: q.query, topK: TOP_K, ...c.input } });
        const names = [...new Set(r.search.hits.map((h) => h.document.name.replace(/\.md$/, '')))];
        docs += names.length;
        const rank = names.indexOf(q.doc) + 1;
        results[c.name].push({ q, rank });
      }
      distinct[c.name] = docs / questions.length;
    }

    const metric = (rows) => {
      const n = rows.length;
      const at = (k) => rows.filter((r) => r.rank > 0 && r.rank <= k).length / n;
      return { n, hit1: at(1), hit5: at(5), mrr: rows.reduce((s, r) => s + (r.rank > 0 && r.rank <= 10 ? 1 / r.rank : 0), 0) / n };
    };
    const f = (x) => x.toFixed(3);
    for (const split of ['tune', 'held-out', 'all']) {
      console.log(`\n### ${split === 'all' ? 'all questions' : `${split} half`} (hit@1 / hit@5 / MRR@10; n per style ${questions.filter((q) => split === 'all' || q.split === split).length / 3})\n`);
      console.log(`| configuration | ${STYLES.join(' | ')} | all | distinct docs in top ${TOP_K} |`);
      console.log(`|---|${STYLES.map(() => '---|').join('')}---|---|`);
      for (const c of configs) {
        const rows = results[c.name].filter((r) => split === 'all' || r.q.split === split);
        const cells = [...STYLES.map((s) => metric(rows.filter((r) => r.q.style === s))), metric(rows)].map((m) => `${f(m.hit1)} / ${f(m.hit5)} / **${f(m.mrr)}**`);
        console.log(`| ${c.name} | ${cells.join(' | ')} | ${split === 'all' ? distinct[c.name].toFixed(1) : ''} |`);
      }
    }
    console.log('\ntarget: HYBRID MRR@10 >= max(KEYWORD, VECTOR) on every style, each half:');
    let met = true;
    for (const split of ['tune', 'held-out']) {
      for (const s of STYLES) {
        const m = (name) => metric(results[name].filter((r) => r.q.split === split && r.q.style === s)).mrr;
        const [h, k, v] = [m('HYBRID'), m('KEYWORD'), m('VECTOR')];
        const ok = h >= Math.max(k, v) - 1e-9;
        met &&= ok;
        console.log(`  ${split.padEnd(8)} ${s.padEnd(10)} HYBRID ${f(h)}  KEYWORD ${f(k)}  VECTOR ${f(v)}  ${ok ? 'met' : `NOT met (by ${f(Math.max(k, v) - h)})`}`);
      }
    }
    console.log(met ? 'target met on every style of both halves' : 'target NOT met everywhere (see above)');
    if (RERANK) console.log(`fake reranker calls: ${rerankCalls}`);
    // Per question against KEYWORD (ranks past 10 count as "not found").
    const r10 = (x) => (x.rank === 0 ? 11 : x.rank);
    for (const c of configs.filter((x) => x.name.startsWith('HYBRID'))) {
      const pairs = results[c.name].map((h, i) => [r10(h), r10(results.KEYWORD[i])]);
      console.log(`${c.name}: answer ranked lower than by KEYWORD on ${pairs.filter(([h, k]) => h > k).length} questions, higher on ${pairs.filter(([h, k]) => h < k).length}`);
    }
    if (VERBOSE) {
      console.log('\nquestions where HYBRID ranks the answer below KEYWORD:');
      results.HYBRID.forEach((h, i) => {
        const k = results.KEYWORD[i];
        const worse = (a, b) => (a.rank === 0 ? 99 : a.rank) > (b.rank === 0 ? 99 : b.rank);
        if (worse(h, k)) console.log(`  ${h.q.id} [${h.q.split}] "${h.q.query}": HYBRID ${h.rank || '-'}  KEYWORD ${k.rank || '-'}  VECTOR ${results.VECTOR[i].rank || '-'}`);
      });
    }
  } catch (err) {
    console.error(`wrangler dev log (tail):\n${dev.output.slice(-3000)}`);
    throw err;
  } finally {
    await stopDev(dev);
    reranker?.close();
    rmSync(state, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
