import { and, asc, count, eq, exists, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import { nowIso } from '../../lib/ids';
import type { Page } from '../../lib/pagination';
import { documents, type DocumentRow } from '../schema';
import type { AuditEntry, TenantScope } from '../tenant-scope';
import { afterCursor } from './keyset';
import { collectionAllowed } from './restriction';

export interface DocumentListFilter {
  collectionId?: string | null;
  status?: DocumentRow['status'] | null;
  tag?: string | null;
}

/** What ingestion needs to accept (or replace) a document: the row's new state. */
export interface AcceptedDocument {
  name: string;
  collectionId: string | null;
  sourceType: 'text' | 'file' | 'url';
  mimeType: string;
  sourceUrl: string | null;
  contentHash: string;
  sizeBytes: number;
  tags: string[];
  metadata: Record<string, unknown>;
  /**
   * R2 key of the new original, `<tenant>/<document>/<version>-<nonce>` (objectKeyFor): names the
   * content being processed, and is unique to this write attempt.
   */
  objectKey: string;
}

/**
 * The version an object key names. `documents.version` is the version whose chunks are
 * visible (0 = none yet); the object key names the newest accepted content, which
 * becomes visible when its processing completes.
 */
export function keyVersion(objectKey: string | null): number {
  // `<version>-<nonce>`, or plain `<version>` for keys written before the nonce.
  const m = /^(\d+)(?:-[0-9a-z]+)?$/.exec(objectKey?.split('/').pop() ?? '');
  const v = m ? Number(m[1]) : 0;
  return Number.isSafeInteger(v) && v > 0 ? v : 0;
}

/** Documents of this tenant: reads for the API, writes for ingestion (src/rag). */
export class DocumentsRepo {
  constructor(private readonly scope: TenantScope) {}

  /**
   * This tenant's documents the principal may reach: for a credential restricted to
   * collections, only the documents in them (docs/agents.md). Every read below goes through it.
   */
  private own(...conds: (SQL | undefined)[]): SQL {
    const { tenantId, allowedCollections } = this.scope;
    return and(eq(documents.tenantId, tenantId), collectionAllowed(documents.collectionId, allowedCollections), ...conds)!;
  }

  async get(id: string): Promise<DocumentRow | null> {
    const { db } = this.scope;
    return (await db.select().from(documents).where(this.own(eq(documents.id, id))).get()) ?? null;
  }

  /** Rows for the given ids that belong to this tenant; foreign ids are silently absent. */
  async getMany(ids: string[]): Promise<DocumentRow[]> {
    const { db } = this.scope;
    const unique = [...new Set(ids)];
    const out: DocumentRow[] = [];
    // D1 binds at most 100 parameters per statement.
    for (let i = 0; i < unique.length; i += 90) {
      const slice = unique.slice(i, i + 90);
      out.push(...(await db.select().from(documents).where(this.own(inArray(documents.id, slice))).all()));
    }
    return out;
  }

  async list(first: number, after: string | null | undefined, filter: DocumentListFilter = {}): Promise<Page<DocumentRow>> {
    const { db } = this.scope;
    const where: (SQL | undefined)[] = [afterCursor(documents.createdAt, documents.id, after)];
    if (filter.collectionId) where.push(eq(documents.collectionId, filter.collectionId));
    if (filter.status) where.push(eq(documents.status, filter.status));
    // Tags are a JSON array: filtered in SQL so the page and hasNextPage cover every document
    // (filtering a fixed window in code silently lost matches past it).
    if (filter.tag) where.push(sql`EXISTS (SELECT 1 FROM json_each(${documents.tags}) AS tag WHERE tag.value = ${filter.tag})`);
    const rows = await db
      .select()
      .from(documents)
      .where(this.own(...where))
      .orderBy(asc(documents.createdAt), asc(documents.id))
      .limit(first + 1)
      .all();
    return { items: rows.slice(0, first), hasNextPage: rows.length > first };
  }

  async count(): Promise<number> {
    const { db } = this.scope;
    const row = await db.select({ n: count() }).from(documents).where(this.own()).get();
    return row?.n ?? 0;
  }

  /**
   * Documents and stored bytes the principal can reach: what `usage` reports to a credential
   * restricted to collections instead of the tenant's totals (which would count the rest).
   */
  async totals(): Promise<{ documents: number; storedBytes: number }> {
    const { db } = this.scope;
    const row = await db.select({ n: count(), bytes: sql<number>`total(${documents.sizeBytes})` }).from(documents).where(this.own()).get();
    return { documents: row?.n ?? 0, storedBytes: row?.bytes ?? 0 };
  }

  /** The document with this name in this collection (null collection = none), if any. */
  async findByName(name: string, collectionId: string | null): Promise<DocumentRow | null> {
    const { db } = this.scope;
    const row = await db
      .select()
      .from(documents)
      .where(this.own(eq(documents.name, name), collectionId ? eq(documents.collectionId, collectionId) : isNull(documents.collectionId)))
      // id breaks a created_at tie (rows made in the same millisecond), so the pick is repeatable.
      .orderBy(asc(documents.createdAt), asc(documents.id))
      .get();
    return row ?? null;
  }

  /**
   * Inserts a new document (PENDING, nothing visible yet) with its audit row. Null when this
   * collection already has a document of that name (the UNIQUE index of migration 0003): a
   * concurrent ingest inserted it after the caller looked the name up. Then nothing is
   * written, the audit row neither.
   */
  async insertPending(id: string, doc: AcceptedDocument): Promise<DocumentRow | null> {
    const { db, tenantId } = this.scope;
    const ts = nowIso();
    const row: DocumentRow = {
      id, tenantId, collectionId: doc.collectionId, name: doc.name, sourceType: doc.sourceType, mimeType: doc.mimeType,
      sourceUrl: doc.sourceUrl, contentHash: doc.contentHash, status: 'pending', error: null, chunkCount: 0,
      sizeBytes: doc.sizeBytes, indexedBytes: 0, tags: JSON.stringify(doc.tags), metadata: JSON.stringify(doc.metadata), objectKey: doc.objectKey,
      version: 0, attempts: 0, createdBy: this.scope.actor, createdAt: ts, updatedAt: ts,
    };
    // `id` is fresh, so the row exists after the insert exactly when this insert made it.
    const [inserted] = await db.batch([
      db.insert(documents).values(row).onConflictDoNothing().returning({ id: documents.id }),
      this.scope.auditStatement(
        {
          action: 'document.ingest', targetType: 'document', targetId: id,
          details: { name: doc.name, sourceType: doc.sourceType, mimeType: doc.mimeType, sizeBytes: doc.sizeBytes, contentHash: doc.contentHash },
        },
        this.holds(id, doc.objectKey),
      ),
    ]);
    return inserted.length > 0 ? row : null;
  }

  /**
   * Accepts new content for an existing document: PENDING again, pointing at the new
   * original. The previous version stays searchable until the new one completes.
   *
   * A compare-and-set on the object key: the row changes only if it still names the content
   * `existing` was read with. Null when it no longer does (another replacement, or a delete,
   * came first); then nothing is written, the audit row neither, and the caller must read
   * the document again. So of two concurrent replacements one wins and the other learns it
   * lost, and versions only move forward (each winner read its predecessor's key).
   */
  async acceptReplacement(existing: DocumentRow, doc: AcceptedDocument): Promise<DocumentRow | null> {
    const { db, tenantId } = this.scope;
    const patch = {
      sourceType: doc.sourceType, mimeType: doc.mimeType, sourceUrl: doc.sourceUrl, contentHash: doc.contentHash,
      status: 'pending' as const, error: null, sizeBytes: doc.sizeBytes, tags: JSON.stringify(doc.tags),
      metadata: JSON.stringify(doc.metadata), objectKey: doc.objectKey, attempts: 0, updatedAt: nowIso(),
    };
    const unchanged = existing.objectKey === null ? isNull(documents.objectKey) : eq(documents.objectKey, existing.objectKey);
    // doc.objectKey is unique to this attempt: the row names it afterwards only if this update won.
    const [updated] = await db.batch([
      db.update(documents).set(patch).where(and(eq(documents.tenantId, tenantId), eq(documents.id, existing.id), unchanged)).returning(),
      this.scope.auditStatement(
        {
          action: 'document.replace', targetType: 'document', targetId: existing.id,
          details: { name: existing.name, previousHash: existing.contentHash, contentHash: doc.contentHash, sizeBytes: doc.sizeBytes },
        },
        this.holds(existing.id, doc.objectKey),
      ),
    ]);
    return updated[0] ?? null;
  }

  /** True (when the statement runs) if the document names the original `objectKey`. */
  private holds(id: string, objectKey: string): SQL {
    const { db, tenantId } = this.scope;
    return exists(
      db.select({ id: documents.id }).from(documents).where(and(eq(documents.tenantId, tenantId), eq(documents.id, id), eq(documents.objectKey, objectKey))),
    );
  }

  /**
   * Claims a document for processing the content `objectKey` names: PENDING/PROCESSING →
   * PROCESSING, attempts + 1. Null when that content is no longer current (replaced,
   * deleted) or already finished, so a late or duplicate queue message does nothing.
   */
  async claim(id: string, objectKey: string): Promise<DocumentRow | null> {
    const { db, tenantId } = this.scope;
    const rows = await db
      .update(documents)
      .set({ status: 'processing', attempts: sql`${documents.attempts} + 1`, updatedAt: nowIso() })
      .where(and(eq(documents.tenantId, tenantId), eq(documents.id, id), eq(documents.objectKey, objectKey), inArray(documents.status, ['pending', 'processing'])))
      .returning();
    return rows[0] ?? null;
  }

  /**
   * The flip that makes a version visible, in one statement: version, COMPLETED, the chunk
   * count and the derived bytes change together. Null when the content is no longer current;
   * else the indexed bytes of the version it replaced (read in the same transaction), which the
   * caller gives back to the storedBytes quota.
   */
  async complete(id: string, objectKey: string, version: number, chunkCount: number, indexedBytes: number): Promise<{ previousIndexedBytes: number } | null> {
    const { db, tenantId } = this.scope;
    const own = and(eq(documents.tenantId, tenantId), eq(documents.id, id));
    // A batch is one transaction: the read sees exactly the row the update changes.
    const [before, rows] = await db.batch([
      db.select({ indexedBytes: documents.indexedBytes }).from(documents).where(own),
      db
        .update(documents)
        .set({ version, status: 'completed', chunkCount, indexedBytes, error: null, updatedAt: nowIso() })
        .where(and(own, eq(documents.objectKey, objectKey), eq(documents.status, 'processing')))
        .returning({ id: documents.id }),
    ]);
    return rows.length > 0 ? { previousIndexedBytes: before[0]?.indexedBytes ?? 0 } : null;
  }

  /** Records a failed attempt: FAILED for good, or PENDING again while the queue retries. */
  async markAttempt(id: string, objectKey: string, outcome: 'failed' | 'pending', error: string): Promise<boolean> {
    const { db, tenantId } = this.scope;
    const rows = await db
      .update(documents)
      .set({ status: outcome, error: error.slice(0, 1000), updatedAt: nowIso() })
      .where(and(eq(documents.tenantId, tenantId), eq(documents.id, id), eq(documents.objectKey, objectKey), inArray(documents.status, ['pending', 'processing'])))
      .returning({ id: documents.id });
    return rows.length > 0;
  }

  /**
   * Deletes the document row and its chunks with the audit row, in one transaction. Only the
   * request whose statement removed the row learns its sizes (DELETE … RETURNING); the audit row
   * is written under the same condition. Of concurrent deletes of one id exactly one gets a
   * row back: the others get null (nothing deleted, nothing audited), so usage is given back
   * once and the document count cannot drift below what the tenant stores.
   */
  async delete(id: string, audit: AuditEntry): Promise<Pick<DocumentRow, 'name' | 'sizeBytes' | 'indexedBytes'> | null> {
    const { db, tenantId } = this.scope;
    const own = and(eq(documents.tenantId, tenantId), eq(documents.id, id));
    const [, , removed] = await db.batch([
      this.scope.auditStatement(audit, exists(db.select({ id: documents.id }).from(documents).where(own))),
      this.scope.chunks.deleteStatement(id),
      db.delete(documents).where(own).returning({ name: documents.name, sizeBytes: documents.sizeBytes, indexedBytes: documents.indexedBytes }),
    ]);
    return removed[0] ?? null;
  }
}
