import { and, asc, eq } from 'drizzle-orm';
import type { Role } from '../../auth/principal';
import { nowIso } from '../../lib/ids';
import { memberships } from '../schema';
import type { TenantScope } from '../tenant-scope';

export interface MemberView {
  userId: string;
  role: Role;
  email: string | null;
  name: string | null;
  createdAt: string;
  lastSeenAt: string | null;
}

/** Memberships live in the catalogue with the API keys: who may act in a tenant, read before its data. */
export class MembersRepo {
  constructor(private readonly scope: TenantScope) {}

  async list(): Promise<MemberView[]> {
    this.scope.requireUnrestricted('list members');
    const { catalogue: db, tenantId } = this.scope;
    const rows = await db
      .select({
        userId: memberships.userId, role: memberships.role, createdAt: memberships.createdAt,
        lastSeenAt: memberships.lastSeenAt, email: memberships.email, name: memberships.name,
      })
      // The profile is the membership's own: a `sub` seen in two tenants is two members.
      .from(memberships)
      .where(eq(memberships.tenantId, tenantId))
      .orderBy(asc(memberships.createdAt), asc(memberships.userId))
      .all();
    return rows.map((r) => ({ ...r, email: r.email ?? null, name: r.name ?? null }));
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

  async get(userId: string): Promise<MemberView | null> {
    return (await this.list()).find((m) => m.userId === userId) ?? null;
  }

  async exists(userId: string): Promise<boolean> {
    const { catalogue: db, tenantId } = this.scope;
    const row = await db.select({ u: memberships.userId }).from(memberships)
      .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId))).get();
    return !!row;
  }
}
