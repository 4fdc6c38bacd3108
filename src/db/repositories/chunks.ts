/**
 * Chunks of this tenant's documents: the rows behind keyword search (the tenant-qualified
 * FTS5 index chunks_kw, kept in sync by the triggers of migration 0007) and the D1 side of
 * every vector hit. A chunk is
 * visible only while its `version` equals its document's indexed `version`, so a new
 * version's chunks appear all at once when ingestion flips the document row.
 */
import { and, asc, count, eq, gt, inArray, ne, sql, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { chunks, documents, type ChunkRow, type DocumentRow } from '../schema';
import type { TenantScope } from '../tenant-scope';
import { collectionAllowed } from './restriction';
import type { AttributeFilter } from '../../rag/search-filters';
import { attributeFilterSql } from './search-filter-sql';

/** Filters already validated by the caller; null/empty lists mean "no restriction". */
export interface ChunkFilter {
  collectionIds?: string[] | null;
  documentIds?: string[] | null;
  tags?: string[] | null;
  /** Document type, dates and custom metadata (src/rag/search-filters.ts). */
  attributes?: AttributeFilter | null;
}

export interface NewChunk {
  id: string;
  chunkIndex: number;
  text: string;
  page: number | null;
  heading: string | null;
  tokenCount: number;
}

export interface VisibleChunk {
  chunk: ChunkRow;
  document: DocumentRow;
}

/** Rows per multi-row INSERT: 9 bound values each stays under D1's 100 bound parameters. */
const ROWS_PER_INSERT = 10;
/** Ids per IN (...) list, under D1's 100 bound parameters with room for the rest. */
const IDS_PER_STATEMENT = 80;

/**
 * The caller's filter as conditions on `documents`. Each list is bound as ONE JSON
 * parameter (json_each), so a filter at its maximum size (50 + 50 ids, 20 tags) costs three
 * bound parameters, not 120 — D1 refuses statements with more than 100.
 */
function documentFilter(f: ChunkFilter | null | undefined): SQL[] {
  const out: SQL[] = [];
  const list = (values: string[]) => sql`(SELECT value FROM json_each(${JSON.stringify(values)}))`;
  if (f?.collectionIds?.length) out.push(sql`${documents.collectionId} IN ${list(f.collectionIds)}`);
  if (f?.documentIds?.length) out.push(sql`${documents.id} IN ${list(f.documentIds)}`);
  if (f?.tags?.length) out.push(sql`EXISTS (SELECT 1 FROM json_each(${documents.tags}) AS tag WHERE tag.value IN ${list(f.tags)})`);
  out.push(...attributeFilterSql(f?.attributes));
  return out;
}

export class ChunksRepo {
  constructor(private readonly scope: TenantScope) {}

  /**
   * The corpus the principal searches, as conditions on `documents`: the whole tenant, or for
   * a credential restricted to collections only their documents. Unlike a caller's filter it
   * also bounds the BM25 statistics (N, length, df), so documents outside the boundary cannot
   * even shift the order of the hits inside it (docs/agents.md).
   */
  private corpus(): SQL[] {
    const c = collectionAllowed(documents.collectionId, this.scope.allowedCollections);
    return c ? [c] : [];
  }

  /**
   * Inserts for one document version. Idempotent: chunk ids are deterministic and a
   * duplicate id is skipped. Rows of a document deleted meanwhile are removed by the
   * consumer when its final flip finds the document gone (and are invisible until then:
   * retrieval joins every chunk to its document).
   */
  insertStatements(documentId: string, version: number, rows: NewChunk[]): BatchItem<'sqlite'>[] {
    const { db, tenantId } = this.scope;
    const out: BatchItem<'sqlite'>[] = [];
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
      out.push(
        db
          .insert(chunks)
          .values(rows.slice(i, i + ROWS_PER_INSERT).map((c) => ({ ...c, tenantId, documentId, version })))
          .onConflictDoNothing({ target: chunks.id }),
      );
    }
    return out;
  }

  /**
   * Writes a version's chunks in transactions of at most `perBatch` statements. Not
   * atomic as a whole, and need not be: the chunks stay invisible until the document flips.
   */
  async insertVersion(documentId: string, version: number, rows: NewChunk[], perBatch = 50): Promise<void> {
    const statements = this.insertStatements(documentId, version, rows);
    for (let i = 0; i < statements.length; i += perBatch) {
      const [first, ...rest] = statements.slice(i, i + perBatch);
      if (first) await this.scope.db.batch([first, ...rest]);
    }
  }

  /** Deletes a document's chunks now: one version, all but one, or all. */
  async delete(documentId: string, opts: { version?: number; exceptVersion?: number } = {}): Promise<void> {
    await this.deleteStatement(documentId, opts);
  }

  /** Ids of a document's chunks: of one version, or of every version but one. */
  async ids(documentId: string, opts: { version?: number; exceptVersion?: number } = {}): Promise<string[]> {
    const { db, tenantId } = this.scope;
    const where: SQL[] = [eq(chunks.tenantId, tenantId), eq(chunks.documentId, documentId)];
    if (opts.version !== undefined) where.push(eq(chunks.version, opts.version));
    if (opts.exceptVersion !== undefined) where.push(ne(chunks.version, opts.exceptVersion));
    const rows = await db.select({ id: chunks.id }).from(chunks).where(and(...where)).all();
    return rows.map((r) => r.id);
  }

  /** Deletes a document's chunks (FTS rows follow by trigger): one version, all but one, or all. */
  deleteStatement(documentId: string, opts: { version?: number; exceptVersion?: number } = {}): BatchItem<'sqlite'> {
    const { db, tenantId } = this.scope;
    const where: SQL[] = [eq(chunks.tenantId, tenantId), eq(chunks.documentId, documentId)];
    if (opts.version !== undefined) where.push(eq(chunks.version, opts.version));
    if (opts.exceptVersion !== undefined) where.push(ne(chunks.version, opts.exceptVersion));
    return db.delete(chunks).where(and(...where));
  }

  /**
   * The re-embedding job's page: every chunk row of the tenant (all versions: a pending one may
   * become visible after the switch) after `afterSeq`, in `seq` order. `seq` only grows, so a
   * chunk written while the job runs comes after the cursor or is embedded by its ingestion.
   */
  async embeddingPage(afterSeq: number, limit: number): Promise<Pick<ChunkRow, 'seq' | 'id' | 'documentId' | 'version' | 'text' | 'heading'>[]> {
    const { db, tenantId } = this.scope;
    return db.select({ seq: chunks.seq, id: chunks.id, documentId: chunks.documentId, version: chunks.version, text: chunks.text, heading: chunks.heading })
      .from(chunks).where(and(eq(chunks.tenantId, tenantId), gt(chunks.seq, afterSeq))).orderBy(asc(chunks.seq)).limit(limit).all();
  }

  /** Ids (and seq) of the tenant's chunks after `afterSeq`: what cleaning a generation walks. */
  async idPage(afterSeq: number, limit: number): Promise<{ seq: number; id: string }[]> {
    const { db, tenantId } = this.scope;
    return db.select({ seq: chunks.seq, id: chunks.id }).from(chunks).where(and(eq(chunks.tenantId, tenantId), gt(chunks.seq, afterSeq)))
      .orderBy(asc(chunks.seq)).limit(limit).all();
  }

  /** How many of the tenant's chunk rows come after `afterSeq` (all of them with 0). */
  async countAfter(afterSeq = 0): Promise<number> {
    const { db, tenantId } = this.scope;
    const row = await db.select({ n: count() }).from(chunks).where(and(eq(chunks.tenantId, tenantId), gt(chunks.seq, afterSeq))).get();
    return row?.n ?? 0;
  }

  /**
   * The visible chunks among `ids` (this tenant, current version, matching the filter),
   * with their documents. This is the D1 half of the tenant re-check on vector hits.
   */
  async visible(ids: string[], filter?: ChunkFilter | null): Promise<VisibleChunk[]> {
    const { db, tenantId } = this.scope;
    const unique = [...new Set(ids)];
    const out: VisibleChunk[] = [];
    for (let i = 0; i < unique.length; i += IDS_PER_STATEMENT) {
      const rows = await db
        .select({ chunk: chunks, document: documents })
        .from(chunks)
        .innerJoin(documents, and(eq(documents.id, chunks.documentId), eq(documents.tenantId, chunks.tenantId)))
        .where(
          and(
            eq(chunks.tenantId, tenantId),
            eq(documents.tenantId, tenantId),
            inArray(chunks.id, unique.slice(i, i + IDS_PER_STATEMENT)),
            eq(chunks.version, documents.version),
            ...this.corpus(),
            ...documentFilter(filter),
          ),
        )
        .all();
      out.push(...rows);
    }
    return out;
  }

  /**
   * Everything BM25 needs to rank this tenant's keyword matches, computed from this
   * tenant's visible chunks only (never from FTS5's bm25(), whose statistics would span
   * the whole index): see src/rag/bm25.ts and docs/retrieval.md.
   *
   * `terms` are query terms (src/rag/fts-query.ts ftsTerms). Each is looked up as the
   * tenant-qualified phrase "<tag>x<term>" in chunks_kw (migration 0007), whose doclists
   * hold one tenant's visible chunks each: nothing here reads another tenant's postings.
   * N and the total length are one row of keyword_tenants (kept by triggers); a term's df
   * is the length of its doclist (count(*) of its MATCH, index only). For a credential
   * restricted to collections (corpus()) the statistics are those of its collections
   * instead: counted over the tenant's visible chunks in them, still within the tenant's
   * own rows and postings. For each term, the
   * tenant's newest `perTerm` matching chunks that pass `filter` are candidates, each with
   * its exact tf for every term. df and N ignore the filter, so a filter narrows the hits
   * without changing their scores. One D1 batch; a second one only when a term matches
   * more than `perTerm` chunks, to fetch its tf in the candidates older than its window.
   * Chunks that contain only such terms and are older than all their windows are not
   * considered.
   */
  async keywordEvidence(terms: string[], filter?: ChunkFilter | null, perTerm = KEYWORD_CANDIDATES_PER_TERM): Promise<KeywordEvidence> {
    const { db, tenantId } = this.scope;
    if (terms.length === 0) return { stats: { chunks: 0, tokens: 0 }, docFreq: [], candidates: [], truncatedTerms: 0 };
    const corpus = this.corpus();
    const restricted = corpus.length > 0;
    const extra = [...corpus, ...documentFilter(filter)];
    // Raw statements go through the select builder (sql fields, FROM and WHERE): drizzle's
    // db.all(sql) is not batchable with bound parameters on D1.
    // Without a filter the documents join is left out: the index holds only visible chunks
    // (migration 0007's triggers), and every hit is re-checked against its document later
    // (visible()); that saves a lookup per candidate on the hot path.
    const postings = (term: string) =>
      db
        .select({ seq: sql<number>`c.seq`, id: sql<string>`c.id`, length: sql<number>`c.token_count`, tf: sql<number>`${TF}` })
        .from(extra.length > 0 ? VISIBLE_MATCHES : INDEXED_MATCHES)
        .where(extra.length > 0 ? and(visibleMatch(term, tenantId), ...extra) : indexedMatch(term, tenantId))
        .orderBy(sql`chunks_kw.rowid DESC`)
        .limit(perTerm + 1);
    // df: the length of the term's doclist, which holds exactly the tenant's visible chunks
    // with the term (only those are indexed), read from the index without touching a row.
    // A restricted credential counts within its collections (the documents join carries them).
    const docFreqOf = (term: string) =>
      restricted
        ? db.select({ df: sql<number>`count(*)` }).from(VISIBLE_MATCHES).where(and(visibleMatch(term, tenantId), ...corpus))
        : db.select({ df: sql<number>`count(*)` }).from(sql`chunks_kw`).where(sql`chunks_kw MATCH ${tenantPhrase(term, tenantId)}`);
    const statistics = restricted
      ? // Documents drive the join: one index range per document instead of a lookup per chunk.
        db
          .select({ chunks: sql<number>`count(*)`, tokens: sql<number>`total(c.token_count)` })
          .from(sql`${documents} CROSS JOIN ${chunks} c ON c.tenant_id = ${documents.tenantId} AND c.document_id = ${documents.id} AND c.version = ${documents.version}`)
          .where(and(sql`${documents.tenantId} = ${tenantId} AND c.tenant_id = ${tenantId}`, ...corpus))
      : db.select({ chunks: sql<number>`chunks`, tokens: sql<number>`tokens` }).from(sql`keyword_tenants`).where(sql`tenant_id = ${tenantId}`);
    const [statsRows, ...rest] = await db.batch([
      statistics,
      ...terms.map(postings),
      ...terms.map(docFreqOf),
    ]);
    const lists = rest.slice(0, terms.length) as PostingRow[][];
    const docFreq = (rest.slice(terms.length) as DocFreqRow[][]).map((r) => r[0]?.df ?? 0);

    const byseq = new Map<number, KeywordCandidate>();
    const windows: { term: number; oldest: number }[] = [];
    lists.forEach((rows, term) => {
      for (const r of rows) {
        let c = byseq.get(r.seq);
        if (!c) byseq.set(r.seq, (c = { id: r.id, seq: r.seq, length: r.length, tf: new Array<number>(terms.length).fill(0) }));
        c.tf[term] = r.tf;
      }
      // Newest first: the last row is the oldest the window reaches.
      if (rows.length > perTerm) windows.push({ term, oldest: rows[rows.length - 1]!.seq });
    });
    const candidates = [...byseq.values()];

    // A truncated term: fetch its tf in the candidates (found through other terms) older
    // than its window. A candidate inside the window but not in the list lacks the term.
    const older = windows
      .map((w) => ({ w, seqs: candidates.filter((c) => c.seq < w.oldest).map((c) => c.seq) }))
      .filter((x) => x.seqs.length > 0);
    const [first, ...more] = older.map(({ w, seqs }) =>
      db
        .select({ seq: sql<number>`c.seq`, tf: sql<number>`${TF}` })
        .from(VISIBLE_MATCHES)
        .where(and(visibleMatch(terms[w.term]!, tenantId), ...corpus, sql`chunks_kw.rowid IN (SELECT value FROM json_each(${JSON.stringify(seqs)}))`)),
    );
    if (first) {
      const rows = await db.batch([first, ...more]);
      older.forEach(({ w }, i) => {
        for (const r of rows[i] as { seq: number; tf: number }[]) byseq.get(r.seq)!.tf[w.term] = r.tf;
      });
    }
    const stats = (statsRows as CorpusStats[])[0];
    return { stats: { chunks: stats?.chunks ?? 0, tokens: stats?.tokens ?? 0 }, docFreq, candidates, truncatedTerms: windows.length };
  }
}

/** Per term, at most this many of the tenant's matching chunks (newest first) become candidates. */
export const KEYWORD_CANDIDATES_PER_TERM = 1_000;

/** N and Σ length (token_count) over the tenant's visible chunks. */
export interface CorpusStats {
  chunks: number;
  tokens: number;
}

/** A candidate chunk: its length and, per query term, the term's occurrences in it. */
export interface KeywordCandidate {
  id: string;
  /** Insertion order (chunks.seq): a tie-breaker that depends on nothing but the tenant's own order. */
  seq: number;
  length: number;
  tf: number[];
}

/** What src/rag/bm25.ts needs to rank one query's keyword matches, all from one tenant. */
export interface KeywordEvidence {
  stats: CorpusStats;
  /** Per term (in `terms` order): how many of the tenant's visible chunks contain it. */
  docFreq: number[];
  candidates: KeywordCandidate[];
  /** How many terms matched more chunks than the per-term candidate window. */
  truncatedTerms: number;
}

interface DocFreqRow {
  df: number;
}

interface PostingRow {
  seq: number;
  id: string;
  length: number;
  tf: number;
}

/**
 * Occurrences of the MATCHed phrase in the current row, as FTS5 itself tokenizes and stems
 * (porter unicode61): highlight() inserts one marker per instance, and the length
 * difference counts them whatever characters the text itself contains. chunks_kw.text is
 * the indexed (tenant-qualified) text, read through chunks_kw_source.
 */
const TF = sql`(length(highlight(chunks_kw, 0, char(1), '')) - length(chunks_kw.text))`;

/**
 * The tenant-qualified FTS5 phrase for one query term: "<tag>x<term>", the tag read from
 * keyword_tenants in the same statement (a tenant that never had a chunk has none: tag 0
 * is never given out, so its phrase matches nothing). The term is a plain string inside
 * the quotes (doubled quotes escaped), never FTS5 syntax.
 */
function tenantPhrase(term: string, tenantId: string): SQL {
  const quoted = term.replace(/"/g, '""');
  return sql`('"' || ifnull((SELECT tag FROM keyword_tenants WHERE tenant_id = ${tenantId}), 0) || 'x' || ${quoted} || '"')`;
}

/**
 * The tenant's visible chunks that MATCH a term: FROM (VISIBLE_MATCHES) and WHERE
 * (visibleMatch). CROSS JOIN pins FTS5 as the outer loop, which also lets
 * `ORDER BY chunks_kw.rowid` stream without a sort. The index holds only visible chunks;
 * the join re-checks tenant and version anyway and carries the caller's filter.
 */
const VISIBLE_MATCHES = sql`chunks_kw
  CROSS JOIN ${chunks} c ON c.seq = chunks_kw.rowid
  CROSS JOIN ${documents} ON ${documents.id} = c.document_id AND ${documents.tenantId} = c.tenant_id`;

/** The tenant's indexed chunks that MATCH a term, without the documents join (see postings). */
const INDEXED_MATCHES = sql`chunks_kw CROSS JOIN ${chunks} c ON c.seq = chunks_kw.rowid`;

function indexedMatch(term: string, tenantId: string): SQL {
  return sql`chunks_kw MATCH ${tenantPhrase(term, tenantId)} AND c.tenant_id = ${tenantId}`;
}

function visibleMatch(term: string, tenantId: string): SQL {
  return sql`chunks_kw MATCH ${tenantPhrase(term, tenantId)} AND c.tenant_id = ${tenantId} AND ${documents.tenantId} = ${tenantId} AND c.version = ${documents.version}`;
}
