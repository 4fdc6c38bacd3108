/**
 * Per-person erasure inside one tenant (issue 15): a user's conversations and their messages,
 * removed in ONE batch (one transaction) together with an audit row that records counts
 * only, never the erased content; the user's membership row (in the catalogue) just before.
 *
 * Usage aggregates (the `usage` table, the TenantGuard's counters) are not touched: they
 * are per tenant and month, not per person, and billing needs them intact.
 *
 * Reached only through TenantScope: every statement carries `tenant_id = ?`, so a user id
 * of another tenant simply owns nothing here and the result is all zeros — the same answer
 * as for an id nobody uses (no existence leak across tenants).
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import { newId } from '../../lib/ids';
import { auditLog, conversations, memberships, messages } from '../schema';
import type { TenantScope } from '../tenant-scope';

export interface ErasureResult {
  userId: string;
  conversations: number;
  messages: number;
  /** True when the user had a membership row in this tenant (now removed). */
  membership: boolean;
}

export class ErasureRepo {
  constructor(private readonly scope: TenantScope) {}

  /**
   * Erases what `userId` (a JWT `sub`) owns in this tenant. Counting, the audit row and the
   * content deletes sit in one batch, so the counts are exactly what the deletes removed even
   * with a concurrent `ask` from the same user (it lands wholly before or wholly after).
   */
  async eraseUser(userId: string): Promise<ErasureResult> {
    const { db, catalogue, tenantId } = this.scope;
    const owner = `user:${userId}`;
    const owned = and(eq(conversations.tenantId, tenantId), eq(conversations.ownerId, owner));
    const ownedIds = db.select({ id: conversations.id }).from(conversations).where(owned);
    const inOwned = and(eq(messages.tenantId, tenantId), inArray(messages.conversationId, ownedIds));

    // Memberships live in the catalogue, conversations in the tenant's placement database
    // (DESIGN §11), and a batch never spans two databases. The membership goes first: if the
    // second batch fails, a retry (erasure is idempotent) finishes the content.
    const removed = await catalogue
      .delete(memberships)
      .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)))
      .returning({ userId: memberships.userId });
    const membership = removed.length > 0;

    const convCount = sql<number>`(SELECT count(*) FROM ${conversations} WHERE ${owned})`;
    const msgCount = sql<number>`(SELECT count(*) FROM ${messages} WHERE ${inOwned})`;
    // The audit row's details are computed by SQL in the same transaction as the deletes: counts, no content.
    const details = sql`json_object('conversations', ${convCount}, 'messages', ${msgCount}, 'membership', json(${membership ? 'true' : 'false'}))`;
    const audit = db.insert(auditLog).select(
      sql`SELECT ${newId()}, ${tenantId}, ${this.scope.actor}, 'user.erase', 'user', ${userId}, ${details}, ${this.scope.requestId},
          strftime('%Y-%m-%dT%H:%M:%fZ','now')`,
    );
    const [counts] = await db.batch([
      db.select({ conversations: convCount, messages: msgCount }).from(sql`(SELECT 1)`),
      audit,
      db.delete(messages).where(inOwned),
      db.delete(conversations).where(owned),
    ]);
    const c = counts[0]!;
    return { userId, conversations: Number(c.conversations), messages: Number(c.messages), membership };
  }
}
