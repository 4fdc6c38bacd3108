import { and, asc, count, eq, exists, notExists, sql } from 'drizzle-orm';
import type { Role } from '../../auth/principal';
import { nowIso } from '../../lib/ids';
import { memberRemovals, memberships } from '../schema';
import type { TenantScope } from '../tenant-scope';
import { insertIf } from './conditional-insert';

export interface MemberView {
  userId: string;
  role: Role;
  email: string | null;
  name: string | null;
  createdAt: string;
  lastSeenAt: string | null;
  /** Set while the user is removed from the tenant (removeMember); null otherwise. */
  removedAt: string | null;
  /** Who removed them (`user:<sub>` or `key:<id>`). */
  removedBy: string | null;
}

/** Memberships live in the catalogue with the API keys: who may act in a tenant, read before its data. */
export class MembersRepo {
  constructor(private readonly scope: TenantScope) {}

  /**
   * Every member: the memberships (users whose token once called in), with their removal if
   * any, and removed users whose membership was erased since (eraseUser does not lift a
   * removal), with the role they had when removed.
   */
  async list(): Promise<MemberView[]> {
    this.scope.requireUnrestricted('list members');
    const { catalogue: db, tenantId } = this.scope;
    const removal = and(eq(memberRemovals.tenantId, memberships.tenantId), eq(memberRemovals.userId, memberships.userId));
    const [rows, orphans] = await db.batch([
      db
        .select({
          userId: memberships.userId, role: memberships.role, createdAt: memberships.createdAt,
          lastSeenAt: memberships.lastSeenAt, email: memberships.email, name: memberships.name,
          removedAt: memberRemovals.removedAt, removedBy: memberRemovals.removedBy,
        })
        // The profile is the membership's own: a `sub` seen in two tenants is two members.
        .from(memberships)
        .leftJoin(memberRemovals, removal)
        .where(eq(memberships.tenantId, tenantId))
        .orderBy(asc(memberships.createdAt), asc(memberships.userId)),
      db
        .select()
        .from(memberRemovals)
        .where(and(eq(memberRemovals.tenantId, tenantId), notExists(db.select({ u: memberships.userId }).from(memberships).where(removal))))
        .orderBy(asc(memberRemovals.removedAt), asc(memberRemovals.userId)),
    ]);
    return [
      ...rows.map((r) => ({ ...r, email: r.email ?? null, name: r.name ?? null, removedAt: r.removedAt ?? null, removedBy: r.removedBy ?? null })),
      ...orphans.map((r) => ({
        userId: r.userId, role: r.role, email: null, name: null, createdAt: r.removedAt, lastSeenAt: null, removedAt: r.removedAt, removedBy: r.removedBy,
      })),
    ];
  }

  /**
   * Records that a JWT user acted in this tenant, with the role the issuer gave it.
   * The token is authoritative for the role; this table is what `members` lists.
   */
  async recordSeen(userId: string, role: Role): Promise<void> {
    const { catalogue: db, tenantId } = this.scope;
    const ts = nowIso();
    await db
      .insert(memberships)
      .values({ tenantId, userId, role, lastSeenAt: ts })
      .onConflictDoUpdate({ target: [memberships.tenantId, memberships.userId], set: { role, lastSeenAt: ts } })
      .run();
  }

  /** One member of this tenant (removed or not); null for a user id never seen here. */
  async get(userId: string): Promise<MemberView | null> {
    const { catalogue: db, tenantId } = this.scope;
    const [m, r] = await db.batch([
      db.select().from(memberships).where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId))),
      db.select().from(memberRemovals).where(and(eq(memberRemovals.tenantId, tenantId), eq(memberRemovals.userId, userId))),
    ]);
    const membership = m[0];
    const removal = r[0];
    if (!membership && !removal) return null;
    return {
      userId,
      role: membership?.role ?? removal!.role,
      email: membership?.email ?? null,
      name: membership?.name ?? null,
      createdAt: membership?.createdAt ?? removal!.removedAt,
      lastSeenAt: membership?.lastSeenAt ?? null,
      removedAt: removal?.removedAt ?? null,
      removedBy: removal?.removedBy ?? null,
    };
  }

  async exists(userId: string): Promise<boolean> {
    const { catalogue: db, tenantId } = this.scope;
    const row = await db.select({ u: memberships.userId }).from(memberships)
      .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId))).get();
    return !!row;
  }

  /** Users removed from this tenant (what the TenantGuard's record holds). */
  async removedCount(): Promise<number> {
    const { catalogue: db, tenantId } = this.scope;
    const row = await db.select({ n: count() }).from(memberRemovals).where(eq(memberRemovals.tenantId, tenantId)).get();
    return row?.n ?? 0;
  }

  /**
   * Removes `member` from the tenant, keeping at most `max` removed users: the check (not
   * removed yet, room left) is part of the insert and the audit row is written under the same
   * condition in the same batch, so concurrent removals can neither exceed `max` nor write an
   * audit row for a removal that did not happen. False when the user was already removed or
   * the tenant is at `max` (the caller tells them apart).
   */
  async remove(member: MemberView, max: number): Promise<boolean> {
    const { catalogue: db, tenantId } = this.scope;
    const removedAt = nowIso();
    const mine = and(eq(memberRemovals.tenantId, tenantId), eq(memberRemovals.userId, member.userId));
    const allowed = and(
      notExists(db.select({ u: memberRemovals.userId }).from(memberRemovals).where(mine)),
      sql`(SELECT count(*) FROM ${memberRemovals} WHERE ${memberRemovals.tenantId} = ${tenantId}) < ${max}`,
    )!;
    const [, inserted] = await db.batch([
      this.scope.auditStatement(
        { action: 'member.remove', targetType: 'user', targetId: member.userId, details: { role: member.role } }, allowed, db,
      ),
      insertIf(db, memberRemovals, { tenantId, userId: member.userId, role: member.role, removedAt, removedBy: this.scope.actor }, allowed)
        .returning({ u: memberRemovals.userId }),
    ]);
    return inserted.length > 0;
  }

  /** Lifts the removal of `userId`; false when there was none. Audited in the same batch. */
  async restore(userId: string): Promise<boolean> {
    const { catalogue: db, tenantId } = this.scope;
    const mine = and(eq(memberRemovals.tenantId, tenantId), eq(memberRemovals.userId, userId));
    const [, deleted] = await db.batch([
      this.scope.auditStatement(
        { action: 'member.restore', targetType: 'user', targetId: userId }, exists(db.select({ u: memberRemovals.userId }).from(memberRemovals).where(mine)), db,
      ),
      db.delete(memberRemovals).where(mine).returning({ u: memberRemovals.userId }),
    ]);
    return deleted.length > 0;
  }
}
