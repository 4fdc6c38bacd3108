import { and, asc, count, eq, exists, notExists, sql, type SQL } from 'drizzle-orm';
import { AppError } from '../../lib/errors';
import { newId, nowIso } from '../../lib/ids';
import { checkedName, checkedText, INPUT_LIMITS } from '../../lib/input';
import type { Page } from '../../lib/pagination';
import { STANDING_RETRY_SECONDS } from '../../objects/guard-types';
import { agents, collections, documents, type CollectionRow } from '../schema';
import type { TenantScope } from '../tenant-scope';
import { afterCursor } from './keyset';
import { collectionAllowed } from './restriction';

export class CollectionsRepo {
  constructor(private readonly scope: TenantScope) {}

  /** This tenant's collections the principal may reach (all of them, unless it is restricted). */
  private own(...conds: (SQL | undefined)[]): SQL {
    const { tenantId, allowedCollections } = this.scope;
    return and(eq(collections.tenantId, tenantId), collectionAllowed(collections.id, allowedCollections), ...conds)!;
  }

  async get(id: string): Promise<CollectionRow | null> {
    const { db } = this.scope;
    return (await db.select().from(collections).where(this.own(eq(collections.id, id))).get()) ?? null;
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
    const { db } = this.scope;
    const rows = await db
      .select()
      .from(collections)
      .where(this.own(afterCursor(collections.createdAt, collections.id, after)))
      .orderBy(asc(collections.createdAt), asc(collections.id))
      .limit(first + 1)
      .all();
    return { items: rows.slice(0, first), hasNextPage: rows.length > first };
  }

  async count(): Promise<number> {
    const { db } = this.scope;
    const row = await db.select({ n: count() }).from(collections).where(this.own()).get();
    return row?.n ?? 0;
  }

  async create(input: { name: string; description?: string | null }, limit: number | null): Promise<CollectionRow> {
    const { db, tenantId } = this.scope;
    // A new collection would lie outside the credential's own boundary on creation.
    this.scope.requireUnrestricted('create collections');
    const name = checkedName(input.name, 'name', INPUT_LIMITS.collectionName);
    const description = input.description == null ? null : checkedText(input.description, 'description', INPUT_LIMITS.collectionDescription, { allowEmpty: true }) || null;
    const row: CollectionRow = { id: newId(), tenantId, name, description, createdAt: nowIso() };
    // The name check and the plan limit are part of the insert (INSERT … SELECT … WHERE),
    // and the audit row is written under the same condition in the same batch: concurrent
    // creates cannot exceed the limit or trip the unique index into an unexpected error.
    const nameFree = notExists(db.select({ id: collections.id }).from(collections).where(and(eq(collections.tenantId, tenantId), eq(collections.name, name))));
    const fits = limit === null ? sql`1` : sql`(select count(*) from ${collections} where ${collections.tenantId} = ${tenantId}) < ${limit}`;
    const allowed = and(nameFree, fits)!;
    const [, inserted] = await db.batch([
      this.scope.auditStatement({ action: 'collection.create', targetType: 'collection', targetId: row.id, details: { name } }, allowed),
      // drizzle lists every column in table order: id, tenant_id, name, description, created_at.
      db
        .insert(collections)
        .select(sql`select ${row.id}, ${tenantId}, ${name}, ${description}, ${row.createdAt} where ${allowed}`)
        .returning({ id: collections.id }),
    ]);
    if (inserted.length === 0) {
      const taken = await db
        .select({ id: collections.id })
        .from(collections)
        .where(and(eq(collections.tenantId, tenantId), eq(collections.name, name)))
        .get();
      if (taken) throw new AppError('BAD_USER_INPUT', 'A collection with this name already exists', { field: 'name' });
      const used = await this.count();
      // The same extensions as the guard's standing limits (docs/guard.md): a collection
      // slot frees up only by deleteCollection or a higher limit.
      throw new AppError('QUOTA_EXCEEDED', `Your plan allows ${limit} collection(s): delete one with deleteCollection first`, {
        quota: 'collections', limit, used, retryAfter: STANDING_RETRY_SECONDS,
      });
    }
    return row;
  }

  /**
   * Deletes an empty collection of this tenant; a foreign or unknown id is NOT_FOUND. A
   * collection that still has documents is refused (BAD_USER_INPUT), never emptied here:
   * deleting documents has its own path (vectors, originals, usage). So is one that an agent
   * uses as knowledge (BAD_USER_INPUT naming the agents): dropping it from the agent's
   * knowledge instead could leave the agent with none, which means "every collection" —
   * deleting a collection must never widen what an agent answers from (docs/agents.md).
   *
   * Both checks are part of the delete statement, and the audit row is written under the
   * same condition in the same batch, so a document ingested into the collection (or an agent
   * given it as knowledge) between the checks below and the delete keeps it, with no audit row.
   */
  async delete(id: string): Promise<void> {
    const { db, tenantId } = this.scope;
    this.scope.requireUnrestricted('delete collections');
    const row = await this.get(id);
    if (!row) throw new AppError('NOT_FOUND', 'Collection not found');
    await this.refuseIfNotEmpty(id);
    await this.refuseIfAgentKnowledge(id);
    const isEmpty = notExists(
      db.select({ id: documents.id }).from(documents).where(and(eq(documents.tenantId, tenantId), eq(documents.collectionId, id))),
    );
    const unused = sql`NOT EXISTS (SELECT 1 FROM ${agents}, json_each(${agents.knowledge}) AS k WHERE ${agents.tenantId} = ${tenantId} AND k.value = ${id})`;
    const stillThere = exists(db.select({ id: collections.id }).from(collections).where(and(eq(collections.tenantId, tenantId), eq(collections.id, id))));
    const [, deleted] = await db.batch([
      this.scope.auditStatement(
        { action: 'collection.delete', targetType: 'collection', targetId: id, details: { name: row.name } },
        and(stillThere, isEmpty, unused),
      ),
      db.delete(collections).where(and(eq(collections.tenantId, tenantId), eq(collections.id, id), isEmpty, unused)).returning({ id: collections.id }),
    ]);
    if (deleted.length > 0) return;
    // Lost a race: a document arrived, an agent took it as knowledge, or another request deleted it.
    await this.refuseIfNotEmpty(id);
    await this.refuseIfAgentKnowledge(id);
    throw new AppError('NOT_FOUND', 'Collection not found');
  }

  private async refuseIfAgentKnowledge(id: string): Promise<void> {
    const users = await this.scope.agents.usingCollection(id);
    if (users.length > 0) {
      const slugs = users.map((a) => a.slug);
      throw new AppError(
        'BAD_USER_INPUT',
        `The collection is knowledge of agent(s) ${slugs.join(', ')}: remove it from their knowledge first (updateAgent)`,
        { field: 'id', agents: slugs },
      );
    }
  }

  private async refuseIfNotEmpty(id: string): Promise<void> {
    const { db, tenantId } = this.scope;
    const row = await db
      .select({ n: count() })
      .from(documents)
      .where(and(eq(documents.tenantId, tenantId), eq(documents.collectionId, id)))
      .get();
    const n = row?.n ?? 0;
    if (n > 0) {
      throw new AppError(
        'BAD_USER_INPUT',
        `The collection still has ${n} document(s): delete them first (deleteDocument), or ingest them into another collection and delete these; collections are never emptied by deleteCollection`,
        { field: 'id', documents: n },
      );
    }
  }
}
