/**
 * Deployment-level data that is not owned by one tenant: the tenants table itself,
 * custom domains and the API-key prefix index used before a tenant is known.
 * Only the request pipeline (tenant resolution, auth) and platform-admin resolvers use
 * it; everything inside a tenant goes through TenantScope.
 */
import { and, asc, eq, gt, inArray, or } from 'drizzle-orm';
import type { Plan } from '../env';
import { AppError } from '../lib/errors';
import { newId, nowIso } from '../lib/ids';
import { checkedText, INPUT_LIMITS } from '../lib/input';
import { decodeCursor, type Page } from '../lib/pagination';
import type { Database } from './client';
import { apiKeys, auditLog, localDnsRecords, tenantDatabases, tenantDomains, tenantEmbedders, tenants, type ApiKeyRow, type TenantDatabaseRow, type TenantRow } from './schema';

export type TenantStatus = TenantRow['status'];
export const SLUG_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Labels that must never become tenant subdomains. */
const RESERVED_SLUGS = new Set(['www', 'api', 'admin', 'app', 'graphql', 'localhost', 'static', 'assets']);

export interface CreateTenantData {
  slug: string;
  name: string;
  plan: Plan;
  region?: string | null;
  status?: TenantStatus;
  /** Placement id chosen by src/placement/choose.ts (default shared). */
  placement?: string;
  /** A libSQL database registered with the tenant (its sealed credential). */
  database?: Omit<TenantDatabaseRow, 'createdAt'> | null;
}
export interface UpdateTenantData {
  name?: string | null;
  plan?: Plan | null;
  status?: TenantStatus | null;
  limits?: Record<string, number | null> | null;
  /** Drop all per-tenant overrides before applying `limits`. */
  resetLimits?: boolean;
  /** ISO-8601 end of the trial; null clears it, undefined keeps it. */
  trialEndsAt?: string | null;
}

export class PlatformStore {
  constructor(private readonly db: Database) {}

  async tenantById(id: string): Promise<TenantRow | null> {
    return (await this.db.select().from(tenants).where(eq(tenants.id, id)).get()) ?? null;
  }

  /**
   * Where the tenant's vectors are, for moveTenant: the active embedding generation (0 when
   * none is recorded) and whether a re-embedding is running or still cleaning up (a move then
   * waits: it copies one generation).
   */
  async embeddingGenerationOf(tenantId: string): Promise<{ active: number; busy: boolean }> {
    const rows = await this.db.select({ generation: tenantEmbedders.generation, status: tenantEmbedders.status, cleaned: tenantEmbedders.cleaned })
      .from(tenantEmbedders)
      .where(and(eq(tenantEmbedders.tenantId, tenantId), or(inArray(tenantEmbedders.status, ['active', 'building']), eq(tenantEmbedders.cleaned, false))))
      .all();
    return { active: rows.find((r) => r.status === 'active')?.generation ?? 0, busy: rows.some((r) => r.status !== 'active') };
  }

  /** A credential may name its tenant by id or slug. */
  async tenantByRef(ref: string): Promise<TenantRow | null> {
    return (
      (await this.db.select().from(tenants).where(or(eq(tenants.id, ref), eq(tenants.slug, ref.toLowerCase()))).get()) ??
      null
    );
  }

  /** Hosts name tenants by slug only (`<slug>.<BASE_DOMAIN>`), never by id. */
  async tenantBySlug(slug: string): Promise<TenantRow | null> {
    return (await this.db.select().from(tenants).where(eq(tenants.slug, slug.toLowerCase())).get()) ?? null;
  }

  /** The tenant a verified custom domain names (pending and failed domains name none). */
  async tenantByDomain(domain: string): Promise<TenantRow | null> {
    const row = await this.db
      .select({ tenant: tenants })
      .from(tenantDomains)
      .innerJoin(tenants, eq(tenants.id, tenantDomains.tenantId))
      .where(and(eq(tenantDomains.domain, domain.toLowerCase()), eq(tenantDomains.status, 'verified')))
      .get();
    return row?.tenant ?? null;
  }

  /** Ids only (immutable mappings the isolate caches, src/auth/directory.ts). */
  async tenantIdByRef(ref: string): Promise<string | null> {
    const row = await this.db.select({ id: tenants.id }).from(tenants).where(or(eq(tenants.id, ref), eq(tenants.slug, ref.toLowerCase()))).get();
    return row?.id ?? null;
  }

  async tenantIdBySlug(slug: string): Promise<string | null> {
    return (await this.db.select({ id: tenants.id }).from(tenants).where(eq(tenants.slug, slug.toLowerCase())).get())?.id ?? null;
  }

  async tenantIdByDomain(domain: string): Promise<string | null> {
    const row = await this.db
      .select({ id: tenantDomains.tenantId })
      .from(tenantDomains)
      .where(and(eq(tenantDomains.domain, domain.toLowerCase()), eq(tenantDomains.status, 'verified')))
      .get();
    return row?.id ?? null;
  }

  /** TXT values of the development DNS stand-in (DOMAIN_VERIFIER=local, src/lifecycle/domain-verification.ts). */
  async localTxtRecords(name: string): Promise<string[]> {
    const rows = await this.db.select({ value: localDnsRecords.value }).from(localDnsRecords).where(eq(localDnsRecords.name, name)).all();
    return rows.map((r) => r.value);
  }

  /** The immutable part of a key: which key, whose, and the hash its secret must match. */
  async apiKeyIdentity(prefix: string): Promise<{ id: string; tenantId: string; secretHash: string } | null> {
    const row = await this.db
      .select({ id: apiKeys.id, tenantId: apiKeys.tenantId, secretHash: apiKeys.secretHash })
      .from(apiKeys)
      .where(eq(apiKeys.prefix, prefix))
      .get();
    return row ?? null;
  }

  async apiKeyByPrefix(prefix: string): Promise<ApiKeyRow | null> {
    return (await this.db.select().from(apiKeys).where(eq(apiKeys.prefix, prefix)).get()) ?? null;
  }

  async touchApiKey(id: string): Promise<void> {
    await this.db.update(apiKeys).set({ lastUsedAt: nowIso() }).where(eq(apiKeys.id, id)).run();
  }

  async listTenants(first: number, after: string | null): Promise<Page<TenantRow>> {
    const k = decodeCursor(after);
    const rows = await this.db
      .select()
      .from(tenants)
      .where(k ? or(gt(tenants.createdAt, k.createdAt), and(eq(tenants.createdAt, k.createdAt), gt(tenants.id, k.id))) : undefined)
      .orderBy(asc(tenants.createdAt), asc(tenants.id))
      .limit(first + 1)
      .all();
    return { items: rows.slice(0, first), hasNextPage: rows.length > first };
  }

  async createTenant(
    data: CreateTenantData,
    actor: string,
    requestId: string,
    /** Runs with the row before it is written (the placement's residence row). */
    beforeInsert?: (row: TenantRow) => Promise<void>,
  ): Promise<TenantRow> {
    const slug = data.slug.toLowerCase();
    if (!SLUG_RE.test(slug) || RESERVED_SLUGS.has(slug)) {
      throw new AppError('BAD_USER_INPUT', 'slug must be a DNS label (a-z, 0-9, -) and not reserved', { field: 'slug' });
    }
    const name = checkedText(data.name, 'name', INPUT_LIMITS.tenantName);
    const region = data.region == null ? null : checkedText(data.region, 'region', INPUT_LIMITS.tenantRegion, { allowEmpty: true }) || null;
    if (await this.tenantByRef(slug)) throw new AppError('BAD_USER_INPUT', 'slug is already taken', { field: 'slug' });
    const id = newId();
    const ts = nowIso();
    const placement = data.placement ?? 'shared';
    const row: TenantRow = {
      id, slug, name, plan: data.plan, status: data.status ?? 'active',
      region, tier: placement.startsWith('dedicated:') ? 'dedicated' : 'shared', placement, movingTo: null,
      settings: '{}', limits: '{}', createdAt: ts, updatedAt: ts, trialEndsAt: null,
    };
    await beforeInsert?.(row);
    await this.db.batch([
      this.db.insert(tenants).values(row),
      ...(data.database ? [this.db.insert(tenantDatabases).values(data.database)] : []),
      this.db.insert(auditLog).values({
        id: newId(), tenantId: id, actor, action: 'tenant.create', targetType: 'tenant', targetId: id,
        // The database's name and key id only: never its URL or token, not even sealed.
        details: JSON.stringify({ slug, plan: data.plan, placement, ...(data.database ? { database: { name: data.database.name, kind: data.database.kind, keyId: data.database.keyId } } : {}) }),
        requestId,
      }),
    ]);
    return row;
  }

  /** Tenants whose data lives in the placement (a dedicated placement has at most one). */
  async tenantsIn(placement: string): Promise<TenantRow[]> {
    return this.db.select().from(tenants).where(or(eq(tenants.placement, placement), eq(tenants.movingTo, placement))).all();
  }

  async tenantDatabase(name: string): Promise<TenantDatabaseRow | null> {
    return (await this.db.select().from(tenantDatabases).where(eq(tenantDatabases.name, name)).get()) ?? null;
  }

  /** Every registered libSQL tenant database (for `npm run db:migrate` and key rotation). */
  async tenantDatabases(): Promise<TenantDatabaseRow[]> {
    return this.db.select().from(tenantDatabases).orderBy(asc(tenantDatabases.name)).all();
  }

  async updateTenant(id: string, data: UpdateTenantData, actor: string, requestId: string): Promise<TenantRow> {
    const current = await this.tenantById(id);
    if (!current) throw new AppError('NOT_FOUND', 'Tenant not found');
    const patch: Partial<TenantRow> = { updatedAt: nowIso() };
    if (data.name != null) patch.name = checkedText(data.name, 'name', INPUT_LIMITS.tenantName);
    if (data.plan != null) patch.plan = data.plan;
    if (data.status != null) patch.status = data.status;
    if (data.trialEndsAt !== undefined) patch.trialEndsAt = data.trialEndsAt;
    if (data.limits != null || data.resetLimits) {
      const base = data.resetLimits ? {} : (JSON.parse(current.limits) as Record<string, unknown>);
      patch.limits = JSON.stringify({ ...base, ...(data.limits ?? {}) });
    }
    await this.db.batch([
      this.db.update(tenants).set(patch).where(eq(tenants.id, id)),
      this.db.insert(auditLog).values({
        id: newId(), tenantId: id, actor, action: 'tenant.update', targetType: 'tenant', targetId: id,
        details: JSON.stringify({ ...data, ...(patch.name ? { name: patch.name } : {}) }), requestId,
      }),
    ]);
    return { ...current, ...patch };
  }
}
