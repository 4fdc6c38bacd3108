/**
 * Chunks of this tenant's documents: the rows behind keyword search (FTS5, kept in sync
 * by the triggers of migration 0001) and the D1 side of every vector hit. A chunk is
 * visible only while its `version` equals its document's indexed `version`, so a new
 * version's chunks appear all at once when ingestion flips the document row.
 */
import { and, eq, inArray, ne, sql, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { chunks, documents, type ChunkRow, type DocumentRow } from '../schema';
import type { TenantScope } from '../tenant-scope';
import { collectionAllowed } from './restriction';

/** Filters already validated by the caller; null/empty lists mean "no restriction". */
export interface ChunkFilter {
  collectionIds?: string[] | null;
  documentIds?: string[] | null;
  tags?: string[] | null;
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
   * tenant's visible chunks only (never from FTS5's bm25(), whose statistics span every
   * tenant in the shared index): see src/rag/bm25.ts and docs/retrieval.md.
   *
   * `phrases` are safe FTS5 strings, one per query term (src/rag/fts-query.ts). For each
   * term, the tenant's newest `perTerm` matching chunks that pass `filter` are candidates;
   * every candidate gets its exact tf for every term. N, total length and df are over the
   * tenant's visible chunks regardless of the filter (for a credential restricted to
   * collections: the visible chunks of those collections, see corpus()), so a filter narrows
   * the hits without changing their scores. One D1 batch (statistics, one list per term, and with a filter
   * one count per term); a second one only when a term matches more than `perTerm` of
   * the chunks: its df is then counted, and its tf fetched for the candidates older than
   * its window. Chunks that contain only such terms and are older than all their windows
   * are not considered.
   */
  async keywordEvidence(phrases: string[], filter?: ChunkFilter | null, perTerm = KEYWORD_CANDIDATES_PER_TERM): Promise<KeywordEvidence> {
    const { db, tenantId } = this.scope;
    if (phrases.length === 0) return { stats: { chunks: 0, tokens: 0 }, docFreq: [], candidates: [], truncatedTerms: 0 };
    const corpus = this.corpus();
    const extra = [...corpus, ...documentFilter(filter)];
    const filtered = extra.length > corpus.length;
    // Raw statements go through the select builder (sql fields, FROM and WHERE): drizzle's
    // db.all(sql) is not batchable with bound parameters on D1.
    const postings = (phrase: string) =>
      db
        .select({ seq: sql<number>`c.seq`, id: sql<string>`c.id`, length: sql<number>`c.token_count`, tf: sql<number>`${TF}` })
        .from(VISIBLE_MATCHES)
        .where(and(visibleMatch(phrase, tenantId), ...extra))
        .orderBy(sql`chunks_fts.rowid DESC`)
        .limit(perTerm + 1);
    // df: the term's matches among the tenant's visible chunks, whatever the filter.
    const docFreqOf = (phrase: string) => db.select({ df: sql<number>`count(*)` }).from(VISIBLE_MATCHES).where(and(visibleMatch(phrase, tenantId), ...corpus));
    const [statsRows, ...rest] = await db.batch([
      // Documents drive the join: one index range per document instead of a lookup per chunk.
      db
        .select({ chunks: sql<number>`count(*)`, tokens: sql<number>`total(c.token_count)` })
        .from(sql`${documents} CROSS JOIN ${chunks} c ON c.tenant_id = ${documents.tenantId} AND c.document_id = ${documents.id} AND c.version = ${documents.version}`)
        .where(and(sql`${documents.tenantId} = ${tenantId} AND c.tenant_id = ${tenantId}`, ...corpus)),
      ...phrases.map(postings),
      ...(filtered ? phrases.map(docFreqOf) : []),
    ]);
    const lists = rest.slice(0, phrases.length) as PostingRow[][];
    // A complete list without a filter is exactly the term's df; with one, it was counted.
    const docFreq = filtered ? (rest.slice(phrases.length) as DocFreqRow[][]).map((r) => r[0]!.df) : lists.map((rows) => rows.length);

    const byseq = new Map<number, KeywordCandidate>();
    const windows: { term: number; oldest: number }[] = [];
    lists.forEach((rows, term) => {
      for (const r of rows) {
        let c = byseq.get(r.seq);
        if (!c) byseq.set(r.seq, (c = { id: r.id, seq: r.seq, length: r.length, tf: new Array<number>(phrases.length).fill(0) }));
        c.tf[term] = r.tf;
      }
      // Newest first: the last row is the oldest the window reaches.
      if (rows.length > perTerm) windows.push({ term, oldest: rows[rows.length - 1]!.seq });
    });
    const candidates = [...byseq.values()];

    if (windows.length > 0) {
      // A truncated term: count its df, and fetch its tf in the candidates (found through
      // other terms) older than its window. A candidate inside the window but not in the
      // list does not contain the term. (highlight() cannot sit inside an aggregate, so
      // count and tf are two statements.)
      const [first, ...more] = windows.flatMap((w) => {
        const older = candidates.filter((c) => c.seq < w.oldest).map((c) => c.seq);
        return [
          docFreqOf(phrases[w.term]!),
          db
            .select({ seq: sql<number>`c.seq`, tf: sql<number>`${TF}` })
            .from(VISIBLE_MATCHES)
            .where(and(visibleMatch(phrases[w.term]!, tenantId), ...corpus, sql`c.seq IN (SELECT value FROM json_each(${JSON.stringify(older)}))`)),
        ];
      });
      const rows = await db.batch([first!, ...more]);
      windows.forEach(({ term }, i) => {
        docFreq[term] = (rows[2 * i] as DocFreqRow[])[0]!.df;
        for (const r of rows[2 * i + 1] as { seq: number; tf: number }[]) byseq.get(r.seq)!.tf[term] = r.tf;
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
  /** Per term (in `phrases` order): how many of the tenant's visible chunks contain it. */
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
 * difference counts them whatever characters the text itself contains.
 */
const TF = sql`(length(highlight(chunks_fts, 0, char(1), '')) - length(c.text))`;

/**
 * The tenant's visible chunks that MATCH a phrase: FROM (VISIBLE_MATCHES) and WHERE
 * (visibleMatch). CROSS JOIN pins FTS5 as the outer loop (SQLite may otherwise scan the
 * tenant's chunks and re-run the MATCH for each one), which also lets
 * `ORDER BY chunks_fts.rowid` stream without a sort.
 */
const VISIBLE_MATCHES = sql`chunks_fts
  CROSS JOIN ${chunks} c ON c.seq = chunks_fts.rowid
  CROSS JOIN ${documents} ON ${documents.id} = c.document_id AND ${documents.tenantId} = c.tenant_id`;

function visibleMatch(phrase: string, tenantId: string): SQL {
  return sql`chunks_fts MATCH ${phrase} AND c.tenant_id = ${tenantId} AND ${documents.tenantId} = ${tenantId} AND c.version = ${documents.version}`;
}
