/**
 * What a tenant's purge (src/lifecycle/tenant-deletion.ts) counts and deletes, and its export
 * (src/lifecycle/tenant-export.ts) reads, besides the
 * tenant tables moveTenant knows (src/db/tenant-copy.ts): the keyword index's per-tenant row
 * and the residence row in the placement database, and the tenant's catalogue rows (API keys,
 * domains, memberships, its model provider, its webhook and outbox, its exports, the audit rows of those). Every
 * statement names the tenant.
 */
import { and, asc, count, eq, gt, like, or } from 'drizzle-orm';
import { sqliteTable, text } from 'drizzle-orm/sqlite-core';
import type { Database } from './client';
import { CATALOGUE_AUDIT_PREFIXES } from './repositories/audit';
import { apiKeys, auditLog, memberRemovals, tenantEmbedders, memberships, tenantDomains, tenantExports, tenantModelProviders, tenants, tenantWebhooks, usage, webhookDeliveries } from './schema';

/** BM25 statistics and the term prefix of a tenant (migration 0007); only the purge reads it from TypeScript. */
const keywordTenants = sqliteTable('keyword_tenants', { tenantId: text('tenant_id').primaryKey() });

/**
 * Catalogue audit actions that are the tenant's own doing (its keys, members, domains, settings,
 * model provider, embedding switches, webhook: their details may carry its prompts or URLs), not platform
 * administration (tenant.create / update / move / delete / restore / export stay).
 */
const TENANT_CATALOGUE_AUDIT = ['api_key.', 'member.', 'domain.', 'tenant.settings.', 'tenant.model_provider.', 'tenant.embedding.', 'tenant.webhook.'] as const;

const tenantAudit = (tenantId: string) =>
  and(eq(auditLog.tenantId, tenantId), or(...TENANT_CATALOGUE_AUDIT.map((p) => like(auditLog.action, `${p}%`))));

/** The placement database's own rows about the tenant: its keyword-index row and (not shared) its residence row. */
export async function countPlacementExtras(db: Database, tenantId: string, residence: boolean): Promise<{ keywordIndex: number; residence: number }> {
  const [kw, res] = await db.batch([
    db.select({ n: count() }).from(keywordTenants).where(eq(keywordTenants.tenantId, tenantId)),
    db.select({ n: count() }).from(tenants).where(eq(tenants.id, tenantId)),
  ]);
  return { keywordIndex: kw[0]?.n ?? 0, residence: residence ? (res[0]?.n ?? 0) : 0 };
}

/** Deletes the keyword-index row (its chunks left the index with them) and, when asked, the residence row. */
export async function deletePlacementExtras(db: Database, tenantId: string, residence: boolean): Promise<void> {
  await db.batch([
    db.delete(keywordTenants).where(eq(keywordTenants.tenantId, tenantId)),
    ...(residence ? [db.delete(tenants).where(eq(tenants.id, tenantId))] : []),
  ]);
}

export interface CatalogueCounts {
  apiKeys: number;
  domains: number;
  memberships: number;
  memberRemovals: number;
  modelProvider: number;
  embedders: number;
  exports: number;
  webhooks: number;
  webhookDeliveries: number;
  auditRows: number;
}

/** The tenant's own catalogue rows, counted in one batch. */
export async function countCatalogueRows(db: Database, tenantId: string): Promise<CatalogueCounts> {
  const [k, d, m, mr, p, em, e, w, wd, a] = await db.batch([
    db.select({ n: count() }).from(apiKeys).where(eq(apiKeys.tenantId, tenantId)),
    db.select({ n: count() }).from(tenantDomains).where(eq(tenantDomains.tenantId, tenantId)),
    db.select({ n: count() }).from(memberships).where(eq(memberships.tenantId, tenantId)),
    db.select({ n: count() }).from(memberRemovals).where(eq(memberRemovals.tenantId, tenantId)),
    db.select({ n: count() }).from(tenantModelProviders).where(eq(tenantModelProviders.tenantId, tenantId)),
    db.select({ n: count() }).from(tenantEmbedders).where(eq(tenantEmbedders.tenantId, tenantId)),
    db.select({ n: count() }).from(tenantExports).where(eq(tenantExports.tenantId, tenantId)),
    db.select({ n: count() }).from(tenantWebhooks).where(eq(tenantWebhooks.tenantId, tenantId)),
    db.select({ n: count() }).from(webhookDeliveries).where(eq(webhookDeliveries.tenantId, tenantId)),
    db.select({ n: count() }).from(auditLog).where(tenantAudit(tenantId)),
  ]);
  const n = (r: { n: number }[]) => r[0]?.n ?? 0;
  return { apiKeys: n(k), domains: n(d), memberships: n(m), memberRemovals: n(mr), modelProvider: n(p), embedders: n(em), exports: n(e), webhooks: n(w), webhookDeliveries: n(wd), auditRows: n(a) };
}

/**
 * Every embedding generation the tenant ever had (tenant_embedders, any status) and 0: the
 * purge reaches each generation's vector namespace and ids (src/vector/generations.ts) —
 * after a model switch the live vectors are not in the tenant id's namespace at all.
 */
export async function embeddingGenerations(db: Database, tenantId: string): Promise<number[]> {
  const rows = await db.select({ g: tenantEmbedders.generation }).from(tenantEmbedders).where(eq(tenantEmbedders.tenantId, tenantId)).all();
  return [...new Set([0, ...rows.map((r) => r.g)])].sort((a, b) => a - b);
}

/**
 * Deletes the tenant's own catalogue rows in one batch, and clears the tombstone's settings
 * and limit overrides (system prompts, CORS origins: tenant content). The tenant row itself,
 * its platform audit trail (`tenant.*`), its usage aggregates and its move jobs stay.
 */
export async function deleteCatalogueRows(db: Database, tenantId: string): Promise<void> {
  await db.batch([
    db.delete(apiKeys).where(eq(apiKeys.tenantId, tenantId)),
    db.delete(tenantDomains).where(eq(tenantDomains.tenantId, tenantId)),
    db.delete(memberships).where(eq(memberships.tenantId, tenantId)),
    db.delete(memberRemovals).where(eq(memberRemovals.tenantId, tenantId)),
    db.delete(tenantModelProviders).where(eq(tenantModelProviders.tenantId, tenantId)),
    // Embedding generations (issue 16b) carry a sealed provider key.
    db.delete(tenantEmbedders).where(eq(tenantEmbedders.tenantId, tenantId)),
    db.delete(tenantExports).where(eq(tenantExports.tenantId, tenantId)),
    // The outbox first: a delivery job that runs later finds nothing to send.
    db.delete(webhookDeliveries).where(eq(webhookDeliveries.tenantId, tenantId)),
    db.delete(tenantWebhooks).where(eq(tenantWebhooks.tenantId, tenantId)),
    db.delete(auditLog).where(tenantAudit(tenantId)),
    db.update(tenants).set({ settings: '{}', limits: '{}' }).where(eq(tenants.id, tenantId)),
  ]);
}

/**
 * The tenant's catalogue rows for its export, one keyset page on a unique key: API keys (never
 * the secret hash), memberships, domains, its webhook (never the secret), usage aggregates, the
 * catalogue audit rows.
 */
export function cataloguePage(
  db: Database, tenantId: string, which: 'api_keys' | 'memberships' | 'domains' | 'webhooks' | 'usage' | 'audit', pageRows: number,
): (after: string | null) => Promise<Record<string, unknown>[]> {
  switch (which) {
    case 'api_keys':
      return (after) => db.select({
        id: apiKeys.id, tenantId: apiKeys.tenantId, name: apiKeys.name, prefix: apiKeys.prefix, scopes: apiKeys.scopes,
        rateLimitPerMinute: apiKeys.rateLimitPerMinute, expiresAt: apiKeys.expiresAt, lastUsedAt: apiKeys.lastUsedAt, revokedAt: apiKeys.revokedAt,
        createdBy: apiKeys.createdBy, createdAt: apiKeys.createdAt, collectionIds: apiKeys.collectionIds, agentIds: apiKeys.agentIds,
      }).from(apiKeys).where(and(eq(apiKeys.tenantId, tenantId), after === null ? undefined : gt(apiKeys.id, after))).orderBy(asc(apiKeys.id)).limit(pageRows).all();
    case 'memberships':
      return (after) => db.select().from(memberships).where(and(eq(memberships.tenantId, tenantId), after === null ? undefined : gt(memberships.userId, after)))
        .orderBy(asc(memberships.userId)).limit(pageRows).all();
    case 'domains':
      return (after) => db.select().from(tenantDomains).where(and(eq(tenantDomains.tenantId, tenantId), after === null ? undefined : gt(tenantDomains.domain, after)))
        .orderBy(asc(tenantDomains.domain)).limit(pageRows).all();
    case 'webhooks':
      // Never the sealed signing secret.
      return (after) => db.select({
        id: tenantWebhooks.id, tenantId: tenantWebhooks.tenantId, url: tenantWebhooks.url, events: tenantWebhooks.events,
        createdBy: tenantWebhooks.createdBy, createdAt: tenantWebhooks.createdAt, updatedAt: tenantWebhooks.updatedAt,
      }).from(tenantWebhooks).where(and(eq(tenantWebhooks.tenantId, tenantId), after === null ? undefined : gt(tenantWebhooks.id, after)))
        .orderBy(asc(tenantWebhooks.id)).limit(pageRows).all();
    case 'usage':
      return (after) => db.select().from(usage).where(and(eq(usage.tenantId, tenantId), after === null ? undefined : gt(usage.period, after)))
        .orderBy(asc(usage.period)).limit(pageRows).all();
    case 'audit':
      return (after) => db.select().from(auditLog)
        .where(and(eq(auditLog.tenantId, tenantId), or(...CATALOGUE_AUDIT_PREFIXES.map((p) => like(auditLog.action, `${p}%`))), after === null ? undefined : gt(auditLog.id, after)))
        .orderBy(asc(auditLog.id)).limit(pageRows).all();
  }
}
