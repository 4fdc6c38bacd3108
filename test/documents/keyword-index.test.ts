/**
 * The tenant-qualified keyword index (migration 0007), proven by its structure rather than
 * by timing:
 * - every term in chunks_kw names one tenant ("<tag>x<word>") and its doclist holds only
 *   that tenant's chunks, so tenants share no doclist;
 * - the statements a tenant's keyword search runs reach the index only through FTS5 MATCH
 *   of that tenant's phrases (EXPLAIN QUERY PLAN; the phrase and its doclist checked), so
 *   they read no other tenant's postings, and a word only another tenant uses reads nothing;
 * - BM25's statistics (keyword_tenants) equal a scan of the tenant's visible chunks after
 *   ingest, replacement and delete;
 * - the migration turns a database with chunks but no chunks_kw into one whose searches
 *   return exactly what they returned before (ids, order, scores).
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { databaseFor } from '../../src/db/client';
import { TenantScope } from '../../src/db/tenant-scope';
import { ftsTerms, KEYWORD_SEPARATORS } from '../../src/rag/fts-query';
import { createTenant, gql, type TestTenant } from '../helpers';
import { hits, ingestProcessed, MODES } from './doc-helpers';
import { bm25Ranking, scopeOf } from './keyword-helpers';

const VOCAB = 'kw_vocab_row';
const INSTANCES = 'kw_vocab_instance';

/** fts5vocab views of chunks_kw (test-only: the app never reads them). */
async function vocabTables(): Promise<void> {
  await env.DB.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${VOCAB} USING fts5vocab(chunks_kw, 'row')`);
  await env.DB.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${INSTANCES} USING fts5vocab(chunks_kw, 'instance')`);
}

async function tagOf(t: TestTenant): Promise<number> {
  return (await env.DB.prepare('SELECT tag FROM keyword_tenants WHERE tenant_id = ?').bind(t.id).first<{ tag: number }>())!.tag;
}

/** The tenant's doclist for a term as stored: how many chunks, how many occurrences (null: no doclist). */
async function doclist(tag: number, stem: string): Promise<{ doc: number; cnt: number } | null> {
  return env.DB.prepare(`SELECT doc, cnt FROM ${VOCAB} WHERE term = ?`).bind(`${tag}x${stem}`).first<{ doc: number; cnt: number }>();
}

/** A TenantScope whose database records every statement it prepares (SQL and bound values). */
async function recordingScope(t: TestTenant) {
  const statements: { sql: string; params: unknown[] }[] = [];
  const d1 = new Proxy(env.DB, {
    get(target, prop) {
      if (prop === 'prepare') {
        return (query: string) => {
          const entry = { sql: query, params: [] as unknown[] };
          statements.push(entry);
          const st = target.prepare(query);
          const bind = st.bind.bind(st);
          st.bind = (...values: unknown[]) => {
            entry.params = values;
            return bind(...values);
          };
          return st;
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const base = await scopeOf(t);
  const scope = new TenantScope(databaseFor(d1 as D1Database), base.tenant, base.principal, 'test');
  return { scope, statements };
}

/**
 * D1's rows_read for each statement a keyword search of `query` runs (re-run one by one,
 * outside the batch): the rows the query engine visited, index rows included.
 */
async function rowsRead(t: TestTenant, query: string): Promise<number[]> {
  const { scope, statements } = await recordingScope(t);
  await scope.chunks.keywordEvidence(ftsTerms(query));
  const out: number[] = [];
  for (const s of statements) out.push((await env.DB.prepare(s.sql).bind(...s.params).all()).meta.rows_read);
  return out;
}

/** Scan of the tenant's visible chunks: what keyword_tenants must hold. */
async function scannedStats(t: TestTenant) {
  return env.DB.prepare(
    `SELECT count(*) AS chunks, ifnull(sum(c.token_count), 0) AS tokens FROM chunks c
     JOIN documents d ON d.id = c.document_id AND d.tenant_id = c.tenant_id AND d.version = c.version WHERE c.tenant_id = ?`,
  ).bind(t.id).first<{ chunks: number; tokens: number }>();
}
async function keptStats(t: TestTenant) {
  return env.DB.prepare('SELECT chunks, tokens FROM keyword_tenants WHERE tenant_id = ?').bind(t.id).first<{ chunks: number; tokens: number }>();
}

const A_TEXT = 'The lantern festival lights the harbour. Lanterns float on the harbour at night.';

describe('tenant-qualified keyword index', () => {
  it('every indexed term belongs to one tenant and its doclist holds only that tenant’s chunks', async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    await ingestProcessed(a, { name: 'a', text: A_TEXT });
    // Same words for B, plus one only B uses.
    await ingestProcessed(b, { name: 'b', text: `${A_TEXT} The zephyrine codename stays secret.` });
    await vocabTables();
    const [tagA, tagB] = [await tagOf(a), await tagOf(b)];
    expect(tagA).not.toBe(tagB);
    // Each term starts with its tenant's tag, and every posting under it is a chunk of that
    // tenant: join every (term, chunk) instance to the chunk's tenant.
    const wrong = await env.DB.prepare(
      `SELECT count(*) AS n FROM ${INSTANCES} i JOIN chunks c ON c.seq = i.doc JOIN keyword_tenants k ON k.tenant_id = c.tenant_id
       WHERE substr(i.term, 1, length(k.tag) + 1) <> k.tag || 'x'`,
    ).first<{ n: number }>();
    expect(wrong!.n).toBe(0);
    const terms = (await env.DB.prepare(`SELECT term FROM ${VOCAB}`).all<{ term: string }>()).results.map((r) => r.term);
    expect(terms.every((term) => /^[1-9][0-9]*x/.test(term))).toBe(true);
    const ofA = terms.filter((term) => term.startsWith(`${tagA}x`)).map((term) => term.slice(`${tagA}x`.length));
    const ofB = terms.filter((term) => term.startsWith(`${tagB}x`)).map((term) => term.slice(`${tagB}x`.length));
    // The same words, stemmed alike, in two disjoint sets of doclists.
    expect(ofA).toEqual(expect.arrayContaining(['lantern', 'harbour', 'festiv', 'night']));
    expect(ofB).toEqual(expect.arrayContaining([...ofA, 'zephyrin', 'codenam']));
    expect(await doclist(tagA, 'lantern')).toEqual({ doc: 1, cnt: 2 });
    expect(await doclist(tagA, 'zephyrin')).toBeNull();
  });

  it('a tenant’s keyword search reaches the index only through MATCH of its own phrases', async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    await ingestProcessed(a, { name: 'a', text: A_TEXT });
    await ingestProcessed(b, { name: 'b.md', text: Array.from({ length: 30 }, (_, i) => `## P${i}\n\nlantern harbour zephyrine ${i}`).join('\n\n') });
    await vocabTables();
    const tagA = await tagOf(a);
    const { scope, statements } = await recordingScope(a);
    const terms = ftsTerms('lantern harbour zephyrine');
    const evidence = await scope.chunks.keywordEvidence(terms);
    expect(evidence.docFreq).toEqual([1, 1, 0]);
    const matching = statements.filter((s) => s.sql.includes('MATCH'));
    expect(matching.length).toBe(2 * terms.length); // one candidate list and one df per term
    for (const s of matching) {
      // The phrase is built in the statement from the caller's tag: "<tag>x<term>".
      expect(s.sql).toContain(`chunks_kw MATCH ('"' || ifnull((SELECT tag FROM keyword_tenants WHERE tenant_id = ?), 0) || 'x' ||`);
      expect(s.params).toContain(a.id);
      expect(s.params).not.toContain(b.id);
      const plan = (await env.DB.prepare(`EXPLAIN QUERY PLAN ${s.sql}`).bind(...s.params).all<{ detail: string }>()).results.map((r) => r.detail);
      // FTS5 MATCH (index 0:M…) drives the statement; every other table is a keyed SEARCH from
      // its rows, never a SCAN (which could touch other tenants' rows).
      expect(plan.find((d) => d.includes('chunks_kw')), plan.join(' | ')).toMatch(/^SCAN chunks_kw VIRTUAL TABLE INDEX \d+:M/);
      expect(plan.filter((d) => d.startsWith('SCAN') && !d.includes('chunks_kw') && !d.includes('json_each')), plan.join(' | ')).toEqual([]);
    }
    // What those MATCHes read: the doclists of A's phrases, which hold A's chunks only. B's
    // 30 chunks with "lantern" are under B's tag; "zephyrine" (B's word) has no doclist of A's.
    expect(await doclist(tagA, 'lantern')).toEqual({ doc: 1, cnt: 2 });
    expect(await doclist(tagA, 'harbour')).toEqual({ doc: 1, cnt: 2 });
    expect(await doclist(tagA, 'zephyrin')).toBeNull();
    expect(await doclist(await tagOf(b), 'zephyrin')).toEqual({ doc: 30, cnt: 30 });
  });

  it('another tenant adding a word neither changes nor lengthens the caller’s lookup of it', async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    await ingestProcessed(a, { name: 'a', text: A_TEXT });
    await vocabTables();
    const tagA = await tagOf(a);
    const before = { lantern: await doclist(tagA, 'lantern'), secret: await doclist(tagA, 'quasar') };
    const ranking = await bm25Ranking(a, 'lantern quasar');
    const visited = await rowsRead(a, 'lantern quasar');
    // stats row, then per term: candidates and df. "quasar" visits one row: A's tag.
    expect(visited.slice(0, 1).concat(visited.slice(2, 3), visited.slice(4))).toEqual([1, 1, 1]);
    // B now uses both words heavily, "quasar" in 200 chunks (the timing channel of issue 13).
    await ingestProcessed(b, { name: 'b.md', text: Array.from({ length: 200 }, (_, i) => `## Q${i}\n\nquasar lantern quasar ${i}`).join('\n\n') });
    expect({ lantern: await doclist(tagA, 'lantern'), secret: await doclist(tagA, 'quasar') }).toEqual(before);
    expect(before.secret).toBeNull(); // A's lookup of B's word reads no doclist, before and after
    expect(JSON.stringify(await bm25Ranking(a, 'lantern quasar'))).toBe(JSON.stringify(ranking));
    expect(await rowsRead(a, 'lantern quasar')).toEqual(visited);
    expect((await hits(b, { query: 'quasar', mode: 'KEYWORD', topK: 50, maxChunksPerDocument: 50 })).length).toBe(50);
  });

  it('splits query terms at exactly the characters the index separates words at', async () => {
    const t = await createTenant();
    const seps = KEYWORD_SEPARATORS.map((cp) => String.fromCodePoint(cp));
    // Each separator between two words; and characters that are not separators glue.
    const text = seps.map((c, i) => `w${i}a${c}w${i}b`).join(' ') + ' glue😀word glue°word';
    await ingestProcessed(t, { name: 'seps', text });
    await vocabTables();
    const tag = await tagOf(t);
    for (let i = 0; i < seps.length; i++) {
      const cp = KEYWORD_SEPARATORS[i]!.toString(16);
      expect(ftsTerms(`w${i}a${seps[i]}w${i}b`), cp).toEqual([`w${i}a`, `w${i}b`]);
      expect(await doclist(tag, `w${i}a`), cp).toEqual({ doc: 1, cnt: 1 });
      expect(await doclist(tag, `w${i}b`), cp).toEqual({ doc: 1, cnt: 1 });
    }
    for (const glued of ['glue😀word', 'glue°word']) {
      expect(ftsTerms(glued)).toEqual([glued]);
      expect(await doclist(tag, glued)).toEqual({ doc: 1, cnt: 1 });
      expect((await hits(t, { query: glued, mode: 'KEYWORD', topK: 5 })).length).toBe(1);
    }
  });

  it('keeps N and the total length equal to a scan of the visible chunks through ingest, replacement and delete', async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    const one = await ingestProcessed(a, { name: 'one.md', text: Array.from({ length: 5 }, (_, i) => `## S${i}\n\nlantern ${i} ${'word '.repeat(i * 10)}`).join('\n\n') });
    await ingestProcessed(a, { name: 'two', text: 'harbour cranes' });
    await ingestProcessed(b, { name: 'b', text: 'lantern lantern' });
    expect(await keptStats(a)).toEqual(await scannedStats(a));
    expect((await keptStats(a))!.chunks).toBe(6);
    // Replacement: the old version's chunks stop counting at the flip, the new ones start.
    await ingestProcessed(a, { name: 'one.md', text: '## Only\n\nlantern once' });
    expect(await keptStats(a)).toEqual(await scannedStats(a));
    expect((await keptStats(a))!.chunks).toBe(2);
    expect((await bm25Ranking(a, 'lantern')).evidence.docFreq).toEqual([1]);
    const del = await gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id: one.id }, { token: a.token });
    expect(del.body.data?.deleteDocument).toBe(true);
    expect(await keptStats(a)).toEqual({ chunks: 1, tokens: (await scannedStats(a))!.tokens });
    expect((await bm25Ranking(a, 'lantern')).evidence.docFreq).toEqual([0]);
    expect(await keptStats(b)).toEqual(await scannedStats(b));
  });
});

/** Everything migration 0007 creates, dropped: the database as migration 0006 left it. */
const BEFORE_0007 = [
  'DROP TRIGGER chunks_kw_ai', 'DROP TRIGGER chunks_kw_ad', 'DROP TRIGGER chunks_kw_bu', 'DROP TRIGGER chunks_kw_au',
  'DROP TRIGGER documents_kw_version', 'DROP TRIGGER documents_kw_ad', 'DROP TRIGGER documents_kw_ai',
  `DROP TABLE IF EXISTS ${VOCAB}`, `DROP TABLE IF EXISTS ${INSTANCES}`, 'DROP TABLE chunks_kw', 'DROP VIEW chunks_kw_source', 'DROP VIEW chunks_kw_fold4', 'DROP VIEW chunks_kw_fold3', 'DROP VIEW chunks_kw_fold2', 'DROP VIEW chunks_kw_fold1', 'DROP TABLE keyword_tenants',
];

async function apply0007(): Promise<void> {
  const m = env.TEST_MIGRATIONS.find((x) => x.name.startsWith('0007'));
  if (!m) throw new Error('migration 0007 not found');
  await env.DB.batch(m.queries.map((q) => env.DB.prepare(q)));
}

const QUERIES = ['lantern harbour', 'quarterly report numbers', 'beta', 'crane'];
const DOCS: Record<string, string> = {
  lanterns: '# Lanterns\n\nThe lantern festival lights the harbour.\n\n## Night\n\nLanterns float on the harbour at night; cranes stand still.',
  report: 'The alpha report covers quarterly numbers for the northern region.',
  beta: 'The beta programme ends in March; beta feedback goes to the product team.',
};

async function snapshot(t: TestTenant) {
  const out: Record<string, unknown> = {};
  for (const query of QUERIES) {
    for (const mode of MODES) out[`${mode} ${query}`] = (await hits(t, { query, mode, topK: 10 })).map((h) => ({ name: h.document.name, chunkIndex: h.chunkIndex, text: h.text, score: h.score }));
    const { ranked, evidence } = await bm25Ranking(t, query);
    out[`bm25 ${query}`] = { stats: evidence.stats, docFreq: evidence.docFreq, scores: ranked.map((r) => r.score) };
  }
  return out;
}

describe('migration 0007', () => {
  it('indexes the chunks ingested before it: searches return what they did, and what a fresh ingest returns', async () => {
    const [a, b, fresh] = [await createTenant(), await createTenant(), await createTenant()];
    for (const [name, text] of Object.entries(DOCS)) await ingestProcessed(a, { name, text });
    const ids = async (t: TestTenant) => Object.fromEntries(await Promise.all(QUERIES.map(async (q) => [q, (await hits(t, { query: q, mode: 'HYBRID', topK: 10 })).map((h) => h.chunkId)])));
    const beforeA = { snap: await snapshot(a), ids: await ids(a) };

    // Back to the schema of migration 0006; chunks stay, chunks_kw and its statistics go.
    await env.DB.batch(BEFORE_0007.map((q) => env.DB.prepare(q)));
    // Written while the old schema is live: B's documents, a replacement, a deletion.
    for (const [name, text] of Object.entries(DOCS)) await ingestProcessed(b, { name, text });
    await ingestProcessed(b, { name: 'beta', text: 'The beta programme ends in April; feedback goes to the beta team and the crane crew.' });
    const gone = await ingestProcessed(b, { name: 'gone', text: 'lantern harbour crane beta, soon deleted' });
    const del = await gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id: gone.id }, { token: b.token });
    expect(del.body.data?.deleteDocument).toBe(true);

    await apply0007();

    // A: the same hits, ids, order and scores as before the migration.
    expect(await snapshot(a)).toEqual(beforeA.snap);
    expect(await ids(a)).toEqual(beforeA.ids);
    // B (written before the index existed) ranks exactly like a tenant that ingests the same
    // final documents after it.
    await ingestProcessed(fresh, { name: 'lanterns', text: DOCS.lanterns });
    await ingestProcessed(fresh, { name: 'report', text: DOCS.report });
    await ingestProcessed(fresh, { name: 'beta', text: 'The beta programme ends in April; feedback goes to the beta team and the crane crew.' });
    const snapB = await snapshot(b);
    expect(snapB).toEqual(await snapshot(fresh));
    expect((snapB['KEYWORD crane'] as unknown[]).length).toBe(2);
    for (const t of [a, b]) expect(await keptStats(t)).toEqual(await scannedStats(t));
    // And the index is live again: a new document is found.
    await ingestProcessed(a, { name: 'new', text: 'A zeppelin over the harbour.' });
    expect((await hits(a, { query: 'zeppelin', mode: 'KEYWORD', topK: 5 })).map((h) => h.document.name)).toEqual(['new']);
  });
});

describe('migration 0018', () => {
  it('leaves no shared FTS5 index or trigger behind: chunk writes touch only the tenant’s own index', async () => {
    const shared = await env.DB.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'chunks_fts%' OR name IN ('chunks_ai', 'chunks_ad', 'chunks_au')").all();
    expect(shared.results).toEqual([]);
    // Ingest, search, replace and delete still work end to end on the tenant's index alone.
    const [a, b] = [await createTenant(), await createTenant()];
    const doc = await ingestProcessed(a, { name: 'ferry', text: 'The ferry to the island leaves at dawn.' });
    await ingestProcessed(b, { name: 'ferry', text: 'Ferry tickets are sold at the kiosk.' });
    expect((await hits(a, { query: 'ferry', mode: 'KEYWORD', topK: 5 })).map((h) => h.document.name)).toEqual(['ferry']);
    await ingestProcessed(a, { name: 'ferry', text: 'The boat to the island leaves at dawn.' });
    expect(await hits(a, { query: 'ferry', mode: 'KEYWORD', topK: 5 })).toEqual([]);
    expect((await gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id: doc.id }, { token: a.token })).body.data?.deleteDocument).toBe(true);
    expect(await hits(a, { query: 'island', mode: 'KEYWORD', topK: 5 })).toEqual([]);
    expect((await hits(b, { query: 'ferry', mode: 'KEYWORD', topK: 5 })).map((h) => h.document.name)).toEqual(['ferry']);
    for (const t of [a, b]) expect(await keptStats(t)).toEqual(await scannedStats(t));
  });
});
