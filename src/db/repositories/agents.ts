/**
 * Agents of this tenant (docs/agents.md): named assistants with their own prompt, model,
 * temperature, answer length, retrieval defaults and knowledge (collection ids). Reads see
 * only the agents the principal may use; writes are audited in the same batch, and every
 * check that another request could invalidate (the plan limit, a free slug, knowledge
 * collections that still exist) is part of the write statement itself.
 */
import { and, asc, count, eq, exists, ne, notExists, sql, type SQL } from 'drizzle-orm';
import { AppError } from '../../lib/errors';
import { newId, nowIso } from '../../lib/ids';
import type { Page } from '../../lib/pagination';
import { STANDING_RETRY_SECONDS } from '../../objects/guard-types';
import { agents, collections, type AgentRow } from '../schema';
import type { TenantScope } from '../tenant-scope';
import { insertIf } from './conditional-insert';
import { afterCursor } from './keyset';
import { inIdList } from './restriction';

/** An agent's settings, already validated (src/rag/agents.ts). Null inherits the tenant's setting. */
export interface AgentData {
  slug: string;
  name: string;
  description: string | null;
  systemPrompt: string | null;
  chatModel: string | null;
  temperature: number | null;
  maxTokens: number | null;
  retrievalMode: AgentRow['retrievalMode'];
  retrievalTopK: number | null;
  /** Collection ids; empty = every collection the caller may see. */
  knowledge: string[];
  active: boolean;
}

/** An agent's knowledge as stored (a JSON array of collection ids). */
export function knowledgeOf(row: Pick<AgentRow, 'knowledge'>): string[] {
  const list = JSON.parse(row.knowledge) as unknown;
  // Fail closed: unreadable knowledge must never widen into "every collection".
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'string')) throw new Error('agent knowledge is not a JSON array of ids');
  return list as string[];
}

export class AgentsRepo {
  constructor(private readonly scope: TenantScope) {}

  /** This tenant's agents the principal may use (a credential limited to agents: only those). */
  private own(...conds: (SQL | undefined)[]): SQL {
    const { tenantId, allowedAgents } = this.scope;
    return and(eq(agents.tenantId, tenantId), allowedAgents === null ? undefined : inIdList(agents.id, allowedAgents), ...conds)!;
  }

  async get(id: string): Promise<AgentRow | null> {
    return (await this.scope.db.select().from(agents).where(this.own(eq(agents.id, id))).get()) ?? null;
  }

  async getBySlug(slug: string): Promise<AgentRow | null> {
    return (await this.scope.db.select().from(agents).where(this.own(eq(agents.slug, slug.toLowerCase()))).get()) ?? null;
  }

  async list(first: number, after: string | null | undefined): Promise<Page<AgentRow>> {
    const rows = await this.scope.db
      .select()
      .from(agents)
      .where(this.own(afterCursor(agents.createdAt, agents.id, after)))
      .orderBy(asc(agents.createdAt), asc(agents.id))
      .limit(first + 1)
      .all();
    return { items: rows.slice(0, first), hasNextPage: rows.length > first };
  }

  /** Agents that have `collectionId` in their knowledge (deleteCollection refuses while there are any). */
  async usingCollection(collectionId: string): Promise<AgentRow[]> {
    const { db, tenantId } = this.scope;
    return db
      .select()
      .from(agents)
      .where(and(eq(agents.tenantId, tenantId), sql`EXISTS (SELECT 1 FROM json_each(${agents.knowledge}) AS k WHERE k.value = ${collectionId})`))
      .orderBy(asc(agents.slug))
      .all();
  }

  /**
   * Creates an agent within the plan's agent limit (null = unlimited). Exactly as many of
   * concurrent creates succeed as fit: the limit, the free slug and the existence of every
   * knowledge collection are the WHERE of the insert, and the audit row has the same one.
   */
  async create(data: AgentData, limit: number | null): Promise<AgentRow> {
    const { db, tenantId } = this.scope;
    const ts = nowIso();
    const row: AgentRow = {
      id: newId(), tenantId, ...data, knowledge: JSON.stringify(data.knowledge), createdBy: this.scope.actor, createdAt: ts, updatedAt: ts,
    };
    const fits = limit === null ? sql`1` : sql`(select count(*) from ${agents} where ${agents.tenantId} = ${tenantId}) < ${limit}`;
    const allowed = and(this.slugFree(data.slug, null), this.knowledgeExists(data.knowledge), fits)!;
    const [, inserted] = await db.batch([
      this.scope.auditStatement(
        { action: 'agent.create', targetType: 'agent', targetId: row.id, details: { slug: data.slug, name: data.name, knowledge: data.knowledge } },
        allowed,
      ),
      insertIf(db, agents, row, allowed).returning({ id: agents.id }),
    ]);
    if (inserted.length > 0) return row;
    await this.explainRefusal(data, null);
    const used = (await db.select({ n: count() }).from(agents).where(eq(agents.tenantId, tenantId)).get())?.n ?? 0;
    // The same extensions as the collection limit (docs/guard.md): a slot frees up only by deleteAgent or a higher limit.
    throw new AppError('QUOTA_EXCEEDED', `Your plan allows ${limit} agent(s): delete one with deleteAgent first`, {
      quota: 'agents', limit, used, retryAfter: STANDING_RETRY_SECONDS,
    });
  }

  /** Replaces an agent's settings with `data` (a merged patch); NOT_FOUND when it is gone. */
  async update(current: AgentRow, data: AgentData, changed: { set: string[]; reset: string[] }): Promise<AgentRow> {
    const { db, tenantId } = this.scope;
    const updatedAt = nowIso();
    const patch = { ...data, knowledge: JSON.stringify(data.knowledge), updatedAt };
    const allowed = and(this.slugFree(data.slug, current.id), this.knowledgeExists(data.knowledge))!;
    const stillThere = exists(db.select({ id: agents.id }).from(agents).where(and(eq(agents.tenantId, tenantId), eq(agents.id, current.id))));
    const [, updated] = await db.batch([
      this.scope.auditStatement(
        { action: 'agent.update', targetType: 'agent', targetId: current.id, details: { slug: data.slug, keys: changed.set, reset: changed.reset } },
        and(stillThere, allowed),
      ),
      db.update(agents).set(patch).where(and(eq(agents.tenantId, tenantId), eq(agents.id, current.id), allowed)).returning(),
    ]);
    if (updated[0]) return updated[0];
    if (!(await this.get(current.id))) throw new AppError('NOT_FOUND', 'Agent not found');
    await this.explainRefusal(data, current.id);
    throw new Error('agent update matched nothing for no known reason');
  }

  /**
   * Deletes an agent (audited). Its conversations and messages keep their agent id, so their
   * history still says which agent answered, and that it has been deleted.
   */
  async delete(id: string): Promise<void> {
    const { db, tenantId } = this.scope;
    const row = await this.get(id);
    if (!row) throw new AppError('NOT_FOUND', 'Agent not found');
    const mine = and(eq(agents.tenantId, tenantId), eq(agents.id, id));
    const [, deleted] = await db.batch([
      this.scope.auditStatement(
        { action: 'agent.delete', targetType: 'agent', targetId: id, details: { slug: row.slug, name: row.name } },
        exists(db.select({ id: agents.id }).from(agents).where(mine)),
      ),
      db.delete(agents).where(mine).returning({ id: agents.id }),
    ]);
    if (deleted.length === 0) throw new AppError('NOT_FOUND', 'Agent not found');
  }

  private slugFree(slug: string, except: string | null): SQL {
    const { db, tenantId } = this.scope;
    return notExists(
      db.select({ id: agents.id }).from(agents).where(and(eq(agents.tenantId, tenantId), eq(agents.slug, slug), except ? ne(agents.id, except) : undefined)),
    );
  }

  /** Every knowledge collection is one of this tenant's (checked when the write runs). */
  private knowledgeExists(ids: string[]): SQL {
    const { tenantId } = this.scope;
    if (ids.length === 0) return sql`1`;
    return sql`(select count(*) from ${collections} where ${collections.tenantId} = ${tenantId} and ${inIdList(collections.id, ids)}) = ${ids.length}`;
  }

  /** Why a conditional write matched nothing: a taken slug or a missing knowledge collection (else returns). */
  private async explainRefusal(data: AgentData, except: string | null): Promise<void> {
    const { db, tenantId } = this.scope;
    const taken = await db
      .select({ id: agents.id })
      .from(agents)
      .where(and(eq(agents.tenantId, tenantId), eq(agents.slug, data.slug), except ? ne(agents.id, except) : undefined))
      .get();
    if (taken) throw new AppError('BAD_USER_INPUT', `An agent with the slug "${data.slug}" already exists`, { field: 'slug' });
    if (data.knowledge.length > 0) {
      const found = await db
        .select({ n: count() })
        .from(collections)
        .where(and(eq(collections.tenantId, tenantId), inIdList(collections.id, data.knowledge)))
        .get();
      // The same answer for an unknown and a foreign collection.
      if ((found?.n ?? 0) !== data.knowledge.length) throw new AppError('NOT_FOUND', 'Collection not found', { field: 'knowledge' });
    }
  }
}
