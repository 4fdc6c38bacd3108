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

function documentFilter(f: ChunkFilter | null | undefined): SQL[] {
  const out: SQL[] = [];
  if (f?.collectionIds?.length) out.push(inArray(documents.collectionId, f.collectionIds));
  if (f?.documentIds?.length) out.push(inArray(documents.id, f.documentIds));
  if (f?.tags?.length) {
    out.push(sql`EXISTS (SELECT 1 FROM json_each(${documents.tags}) WHERE json_each.value IN (${sql.join(f.tags.map((t) => sql`${t}`), sql`, `)}))`);
  }
  return out;
}

export class ChunksRepo {
  constructor(private readonly scope: TenantScope) {}

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
            ...documentFilter(filter),
          ),
        )
        .all();
      out.push(...rows);
    }
    return out;
  }

  /**
   * BM25 keyword search over this tenant's visible chunks. `match` must already be a
   * safe FTS5 expression (see src/rag/fts-query.ts). Best first.
   */
  async keyword(match: string, limit: number, filter?: ChunkFilter | null): Promise<{ id: string; bm25: number }[]> {
    const { db, tenantId } = this.scope;
    const extra = documentFilter(filter);
    const rows = await db.all<{ id: string; bm25: number }>(sql`
      SELECT c.id AS id, bm25(chunks_fts) AS bm25
      FROM chunks_fts
      JOIN ${chunks} c ON c.seq = chunks_fts.rowid
      JOIN ${documents} ON ${documents.id} = c.document_id AND ${documents.tenantId} = c.tenant_id
      WHERE chunks_fts MATCH ${match}
        AND c.tenant_id = ${tenantId} AND ${documents.tenantId} = ${tenantId}
        AND c.version = ${documents.version}
        ${extra.length ? sql`AND ${and(...extra)}` : sql``}
      ORDER BY bm25(chunks_fts)
      LIMIT ${limit}`);
    return rows;
  }
}
