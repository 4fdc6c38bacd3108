import { and, asc, count, eq } from 'drizzle-orm';
import { AppError } from '../../lib/errors';
import { newId, nowIso } from '../../lib/ids';
import { checkedText, INPUT_LIMITS } from '../../lib/input';
import type { Page } from '../../lib/pagination';
import { collections, type CollectionRow } from '../schema';
import type { TenantScope } from '../tenant-scope';
import { afterCursor } from './keyset';

export class CollectionsRepo {
  constructor(private readonly scope: TenantScope) {}

  async get(id: string): Promise<CollectionRow | null> {
    const { db, tenantId } = this.scope;
    return (
      (await db.select().from(collections).where(and(eq(collections.tenantId, tenantId), eq(collections.id, id))).get()) ??
      null
    );
  }

  async getMany(ids: string[]): Promise<CollectionRow[]> {
    const out: CollectionRow[] = [];
    for (const id of new Set(ids)) {
      const row = await this.get(id);
      if (row) out.push(row);
    }
    return out;
  }

  async list(first: number, after: string | null | undefined): Promise<Page<CollectionRow>> {
    const { db, tenantId } = this.scope;
    const rows = await db
      .select()
      .from(collections)
      .where(and(eq(collections.tenantId, tenantId), afterCursor(collections.createdAt, collections.id, after)))
      .orderBy(asc(collections.createdAt), asc(collections.id))
      .limit(first + 1)
      .all();
    return { items: rows.slice(0, first), hasNextPage: rows.length > first };
  }

  async count(): Promise<number> {
    const { db, tenantId } = this.scope;
    const row = await db.select({ n: count() }).from(collections).where(eq(collections.tenantId, tenantId)).get();
    return row?.n ?? 0;
  }

  async create(input: { name: string; description?: string | null }, limit: number | null): Promise<CollectionRow> {
    const { db, tenantId } = this.scope;
    const name = input.name.trim();
    if (!name || name.length > INPUT_LIMITS.collectionName) {
      throw new AppError('BAD_USER_INPUT', `name must be 1 to ${INPUT_LIMITS.collectionName} characters`, { field: 'name' });
    }
    const description = input.description == null ? null : checkedText(input.description, 'description', INPUT_LIMITS.collectionDescription, { allowEmpty: true }) || null;
    const existing = await db
      .select({ id: collections.id })
      .from(collections)
      .where(and(eq(collections.tenantId, tenantId), eq(collections.name, name)))
      .get();
    if (existing) throw new AppError('BAD_USER_INPUT', 'A collection with this name already exists', { field: 'name' });
    if (limit !== null && (await this.count()) >= limit) {
      throw new AppError('QUOTA_EXCEEDED', `Your plan allows ${limit} collection(s)`, { quota: 'collections', limit });
    }
    const row: CollectionRow = { id: newId(), tenantId, name, description, createdAt: nowIso() };
    await this.scope.writeAudited([db.insert(collections).values(row)], {
      action: 'collection.create', targetType: 'collection', targetId: row.id, details: { name },
    });
    return row;
  }
}
