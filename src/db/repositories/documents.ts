import { and, asc, count, eq, inArray, type SQL } from 'drizzle-orm';
import type { Page } from '../../lib/pagination';
import { documents, type DocumentRow } from '../schema';
import type { TenantScope } from '../tenant-scope';
import { afterCursor } from './keyset';

export interface DocumentListFilter {
  collectionId?: string | null;
  status?: DocumentRow['status'] | null;
  tag?: string | null;
}

/** Read side of documents; ingestion (src/rag) adds the write side through this scope. */
export class DocumentsRepo {
  constructor(private readonly scope: TenantScope) {}

  async get(id: string): Promise<DocumentRow | null> {
    const { db, tenantId } = this.scope;
    return (await db.select().from(documents).where(and(eq(documents.tenantId, tenantId), eq(documents.id, id))).get()) ?? null;
  }

  /** Rows for the given ids that belong to this tenant; foreign ids are silently absent. */
  async getMany(ids: string[]): Promise<DocumentRow[]> {
    const { db, tenantId } = this.scope;
    const unique = [...new Set(ids)];
    const out: DocumentRow[] = [];
    // D1 binds at most 100 parameters per statement.
    for (let i = 0; i < unique.length; i += 90) {
      const slice = unique.slice(i, i + 90);
      out.push(...(await db.select().from(documents).where(and(eq(documents.tenantId, tenantId), inArray(documents.id, slice))).all()));
    }
    return out;
  }

  async list(first: number, after: string | null | undefined, filter: DocumentListFilter = {}): Promise<Page<DocumentRow>> {
    const { db, tenantId } = this.scope;
    const where: (SQL | undefined)[] = [eq(documents.tenantId, tenantId), afterCursor(documents.createdAt, documents.id, after)];
    if (filter.collectionId) where.push(eq(documents.collectionId, filter.collectionId));
    if (filter.status) where.push(eq(documents.status, filter.status));
    const rows = await db
      .select()
      .from(documents)
      .where(and(...where))
      .orderBy(asc(documents.createdAt), asc(documents.id))
      .limit(filter.tag ? 1000 : first + 1)
      .all();
    // Tags are a JSON array; filter in code (bounded by the limit above) rather than json_each per row.
    const filtered = filter.tag ? rows.filter((r) => (JSON.parse(r.tags) as string[]).includes(filter.tag!)) : rows;
    return { items: filtered.slice(0, first), hasNextPage: filtered.length > first };
  }

  async count(): Promise<number> {
    const { db, tenantId } = this.scope;
    const row = await db.select({ n: count() }).from(documents).where(eq(documents.tenantId, tenantId)).get();
    return row?.n ?? 0;
  }
}
