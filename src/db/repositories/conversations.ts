/**
 * Conversations and their messages (DESIGN §6), always inside one tenant. Members and
 * viewers see only the conversations they own (`user:<sub>` / `key:<id>`); admins and
 * owners see every conversation of the tenant. A conversation the caller may not see
 * behaves exactly like one that does not exist.
 */
import { and, count, desc, eq, exists, lt, or, sql, type SQL } from 'drizzle-orm';
import { roleAtLeast } from '../../auth/principal';
import { AppError } from '../../lib/errors';
import { decodeCursor, type Page } from '../../lib/pagination';
import { conversations, messages, type ConversationRow, type MessageRow } from '../schema';
import type { AuditEntry, TenantScope } from '../tenant-scope';
import { inIdList } from './restriction';

/** A retrieved chunk as stored with an assistant message (enough to cite it again later). */
export interface StoredSource {
  chunkId: string;
  documentId: string;
  chunkIndex: number;
  score: number;
  text: string;
  page: number | null;
  heading: string | null;
}

export interface NewMessage {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  sources: StoredSource[];
  model: string | null;
  promptTokens: number;
  completionTokens: number;
  createdAt: string;
}

export interface NewTurn {
  /** The conversation the turn belongs to; `isNew` inserts it in the same batch. */
  conversation: { id: string; title: string | null; createdAt: string; isNew: boolean; agentId: string | null };
  /** The question and its answer: stored together or not at all. */
  messages: NewMessage[];
  audit: AuditEntry;
}

/** Upper bound on messages returned for one conversation. */
export const MAX_MESSAGES = 500;

export class ConversationsRepo {
  constructor(private readonly scope: TenantScope) {}

  /**
   * Admins and owners see all conversations of the tenant; everyone else only their own. A
   * restricted credential sees only its own whatever its role: other people's conversations
   * quote collections outside its boundary (docs/agents.md).
   */
  get seesAll(): boolean {
    return roleAtLeast(this.scope.principal.role, 'admin') && !this.scope.restricted;
  }

  private visible(): SQL {
    const tenant = eq(conversations.tenantId, this.scope.tenantId);
    // A credential limited to agents sees only those agents' conversations (never the agent-less ones).
    const agents = this.scope.allowedAgents;
    const agentOk = agents === null ? undefined : inIdList(conversations.agentId, agents);
    return this.seesAll ? tenant : and(tenant, eq(conversations.ownerId, this.scope.actor), agentOk)!;
  }

  /** A conversation the caller may see, or null (foreign, someone else's, or missing). */
  async get(id: string): Promise<ConversationRow | null> {
    const { db } = this.scope;
    return (await db.select().from(conversations).where(and(this.visible(), eq(conversations.id, id))).get()) ?? null;
  }

  /** Visible conversations, newest first (keyset on created_at, id descending). */
  async list(first: number, after: string | null | undefined): Promise<Page<ConversationRow>> {
    const { db } = this.scope;
    const k = decodeCursor(after);
    const before = k
      ? or(lt(conversations.createdAt, k.createdAt), and(eq(conversations.createdAt, k.createdAt), lt(conversations.id, k.id)))
      : undefined;
    const rows = await db
      .select()
      .from(conversations)
      .where(and(this.visible(), before))
      .orderBy(desc(conversations.createdAt), desc(conversations.id))
      .limit(first + 1)
      .all();
    return { items: rows.slice(0, first), hasNextPage: rows.length > first };
  }

  /**
   * The last `limit` messages of a conversation, oldest first. The caller has already
   * established that the conversation is visible (get()).
   */
  async messages(conversationId: string, limit = MAX_MESSAGES): Promise<MessageRow[]> {
    const { db, tenantId } = this.scope;
    const rows = await db
      .select()
      .from(messages)
      .where(and(eq(messages.tenantId, tenantId), eq(messages.conversationId, conversationId)))
      .orderBy(desc(messages.createdAt), desc(messages.id))
      .limit(Math.min(Math.max(limit, 1), MAX_MESSAGES))
      .all();
    return rows.reverse();
  }

  async messageCount(conversationId: string): Promise<number> {
    const { db, tenantId } = this.scope;
    const row = await db
      .select({ n: count() })
      .from(messages)
      .where(and(eq(messages.tenantId, tenantId), eq(messages.conversationId, conversationId)))
      .get();
    return row?.n ?? 0;
  }

  /**
   * Stores a question with its answer (and the conversation when it is new) plus the
   * audit row as ONE D1 batch, i.e. one transaction: either all of it exists or none.
   * Each message takes its conversation_id from a sub-select of the conversation row,
   * so if the conversation was deleted meanwhile the NOT NULL constraint fails the
   * whole batch instead of leaving orphan messages.
   */
  async appendTurn(turn: NewTurn): Promise<void> {
    const { db, tenantId } = this.scope;
    const c = turn.conversation;
    const lastAt = turn.messages.at(-1)?.createdAt ?? c.createdAt;
    const head = c.isNew
      ? db.insert(conversations).values({
          id: c.id, tenantId, ownerId: this.scope.actor, title: c.title, createdAt: c.createdAt, updatedAt: lastAt, agentId: c.agentId,
        })
      : db
          .update(conversations)
          .set({ updatedAt: lastAt })
          .where(and(eq(conversations.tenantId, tenantId), eq(conversations.id, c.id)));
    const owned = sql`(SELECT ${conversations.id} FROM ${conversations} WHERE ${conversations.tenantId} = ${tenantId} AND ${conversations.id} = ${c.id})`;
    const inserts = turn.messages.map((m) =>
      db.insert(messages).values({
        id: m.id, tenantId, conversationId: owned, role: m.role, content: m.content,
        sources: JSON.stringify(m.sources), model: m.model, promptTokens: m.promptTokens,
        completionTokens: m.completionTokens, createdAt: m.createdAt, agentId: c.agentId,
      }),
    );
    try {
      await db.batch([head, ...inserts, this.scope.auditStatement(turn.audit)]);
    } catch (err) {
      // Tell "deleted while we were answering" apart from a real failure by looking, not by the message text.
      if (!c.isNew && !(await this.exists(c.id))) throw new AppError('NOT_FOUND', 'Conversation not found');
      throw err;
    }
  }

  private async exists(id: string): Promise<boolean> {
    const { db, tenantId } = this.scope;
    const row = await db
      .select({ id: conversations.id })
      .from(conversations)
      .where(and(eq(conversations.tenantId, tenantId), eq(conversations.id, id)))
      .get();
    return !!row;
  }

  /**
   * Deletes a visible conversation and its messages (one batch, audited); else NOT_FOUND.
   * The audit row and the answer follow the statement that removed the row (DELETE …
   * RETURNING): of concurrent deletes of one conversation one answers true with one audit
   * row, the others NOT_FOUND.
   */
  async delete(id: string): Promise<void> {
    const { db, tenantId } = this.scope;
    const row = await this.get(id);
    if (!row) throw new AppError('NOT_FOUND', 'Conversation not found');
    const own = and(eq(conversations.tenantId, tenantId), eq(conversations.id, id));
    const [, , removed] = await db.batch([
      this.scope.auditStatement(
        { action: 'conversation.delete', targetType: 'conversation', targetId: id, details: { owner: row.ownerId } },
        exists(db.select({ id: conversations.id }).from(conversations).where(own)),
      ),
      db.delete(messages).where(and(eq(messages.tenantId, tenantId), eq(messages.conversationId, id))),
      db.delete(conversations).where(own).returning({ id: conversations.id }),
    ]);
    if (removed.length === 0) throw new AppError('NOT_FOUND', 'Conversation not found');
  }
}
