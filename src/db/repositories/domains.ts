/**
 * A tenant's custom domains (issue 15), in the catalogue (DESIGN §11: domains route before a
 * tenant is known). The primary key on `domain` makes a domain one tenant's at most; every
 * write here is one statement whose condition decides under concurrency (D1 runs one
 * statement at a time), with its audit row in the same batch under the same condition.
 */
import { and, asc, eq, exists, lt, ne, notExists, or, sql } from 'drizzle-orm';
import { nowIso } from '../../lib/ids';
import { tenantDomains, type TenantDomainRow } from '../schema';
import type { TenantScope } from '../tenant-scope';

export type DomainRow = TenantDomainRow;

/** Outcome of an add: the row written, or why none was. */
export type AddOutcome = { kind: 'added'; row: DomainRow } | { kind: 'taken' } | { kind: 'own'; row: DomainRow } | { kind: 'full' };

export class DomainsRepo {
  constructor(private readonly scope: TenantScope) {}

  async list(): Promise<DomainRow[]> {
    const { catalogue: db, tenantId } = this.scope;
    return db.select().from(tenantDomains).where(eq(tenantDomains.tenantId, tenantId)).orderBy(asc(tenantDomains.createdAt), asc(tenantDomains.domain)).all();
  }

  /** This tenant's row for `domain`; null when it is another tenant's or nobody's. */
  async get(domain: string): Promise<DomainRow | null> {
    const { catalogue: db, tenantId } = this.scope;
    return (await db.select().from(tenantDomains).where(and(eq(tenantDomains.domain, domain), eq(tenantDomains.tenantId, tenantId))).get()) ?? null;
  }

  /**
   * Claims `domain` as pending with `token`, in one statement: inserted when nobody has it;
   * taken over when another tenant's claim was never verified and is older than
   * `staleBefore` (so a squatter cannot hold a domain it does not own); otherwise untouched
   * (the primary key decides between concurrent claims). The tenant keeps at most `max` domains.
   */
  async add(domain: string, token: string, max: number, staleBefore: string): Promise<AddOutcome> {
    const { catalogue: db, tenantId } = this.scope;
    const createdAt = nowIso();
    const actor = this.scope.actor;
    const fits = sql`(SELECT count(*) FROM ${tenantDomains} WHERE ${tenantDomains.tenantId} = ${tenantId}) < ${max}`;
    const same = eq(tenantDomains.domain, domain);
    const staleClaim = and(same, ne(tenantDomains.tenantId, tenantId), ne(tenantDomains.status, 'verified'), lt(tenantDomains.createdAt, staleBefore));
    const claimable = or(
      notExists(db.select({ d: tenantDomains.domain }).from(tenantDomains).where(same)),
      exists(db.select({ d: tenantDomains.domain }).from(tenantDomains).where(staleClaim)),
    );
    const [, written] = await db.batch([
      this.scope.auditStatement({ action: 'domain.add', targetType: 'domain', targetId: domain }, and(sql`${fits}`, claimable), db),
      db
        .insert(tenantDomains)
        // WHERE on the SELECT: SQLite needs one before ON CONFLICT (https://sqlite.org/lang_upsert.html, parsing ambiguity).
        .select(
          sql`SELECT ${domain}, ${tenantId}, ${createdAt}, 'pending', ${token}, NULL, NULL, NULL, ${actor} WHERE ${fits}`,
        )
        .onConflictDoUpdate({
          target: tenantDomains.domain,
          set: {
            tenantId, createdAt, status: 'pending', verificationToken: token, verifiedAt: null, checkedAt: null, failureReason: null, createdBy: actor,
          },
          where: and(ne(tenantDomains.tenantId, tenantId), ne(tenantDomains.status, 'verified'), lt(tenantDomains.createdAt, staleBefore)),
        })
        .returning(),
    ]);
    if (written[0]) return { kind: 'added', row: written[0] };
    const row = await db.select().from(tenantDomains).where(same).get();
    if (row?.tenantId === tenantId) return { kind: 'own', row };
    if (row) return { kind: 'taken' };
    return { kind: 'full' };
  }

  /**
   * Records a check's outcome on the row that still carries `token` (a domain removed and
   * added again meanwhile has a new token and is left alone); null when no such row.
   */
  async recordCheck(domain: string, token: string, outcome: { status: 'verified' } | { status: 'failed'; reason: string }): Promise<DomainRow | null> {
    const { catalogue: db, tenantId } = this.scope;
    const at = nowIso();
    const mine = and(eq(tenantDomains.domain, domain), eq(tenantDomains.tenantId, tenantId), eq(tenantDomains.verificationToken, token));
    const patch =
      outcome.status === 'verified'
        ? { status: 'verified' as const, verifiedAt: at, checkedAt: at, failureReason: null }
        : { status: 'failed' as const, checkedAt: at, failureReason: outcome.reason };
    const [, rows] = await db.batch([
      this.scope.auditStatement(
        { action: 'domain.verify', targetType: 'domain', targetId: domain, details: outcome.status === 'verified' ? { status: 'verified' } : { status: 'failed', reason: outcome.reason } },
        exists(db.select({ d: tenantDomains.domain }).from(tenantDomains).where(and(mine, ne(tenantDomains.status, 'verified')))),
        db,
      ),
      // A verified row stays verified: a later failed lookup (the record was cleaned up) changes nothing.
      db.update(tenantDomains).set(patch).where(and(mine, ne(tenantDomains.status, 'verified'))).returning(),
    ]);
    return rows[0] ?? (await this.get(domain));
  }

  /** Deletes this tenant's `domain`; false when it has none by that name. Audited in the same batch. */
  async remove(domain: string): Promise<boolean> {
    const { catalogue: db, tenantId } = this.scope;
    const mine = and(eq(tenantDomains.domain, domain), eq(tenantDomains.tenantId, tenantId));
    const [, deleted] = await db.batch([
      this.scope.auditStatement({ action: 'domain.remove', targetType: 'domain', targetId: domain }, exists(db.select({ d: tenantDomains.domain }).from(tenantDomains).where(mine)), db),
      db.delete(tenantDomains).where(mine).returning({ d: tenantDomains.domain }),
    ]);
    return deleted.length > 0;
  }
}
