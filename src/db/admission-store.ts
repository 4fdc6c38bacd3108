/**
 * What admission needs to know about a tenant and its API keys, read from D1 (the source
 * of truth). The TenantGuard holds the result in memory and answers it with every admit
 * (src/objects/tenant-guard.ts); with the guard switched off the request pipeline reads it
 * per request. Nothing here is cached: callers decide.
 */
import { and, eq } from 'drizzle-orm';
import { storedIdList } from '../auth/api-keys';
import type { ApiKeyScope } from '../auth/principal';
import type { Database } from './client';
import { apiKeys, tenantDomains, tenants, type TenantRow } from './schema';

/** The tenant row and the custom domains that name it. */
export interface AdmissionRecord {
  tenant: TenantRow;
  domains: string[];
}

/** What an API key may do; the secret hash is not here (the isolate checks it, src/auth/directory.ts). */
export interface KeyGrant {
  id: string;
  tenantId: string;
  scopes: ApiKeyScope[];
  rateLimitPerMinute: number | null;
  expiresAt: string | null;
  revokedAt: string | null;
  /** Collections / agents the key is restricted to (null: unrestricted; docs/agents.md). */
  collectionIds: string[] | null;
  agentIds: string[] | null;
}

type GrantRow = Omit<KeyGrant, 'scopes' | 'collectionIds' | 'agentIds'> & { scopes: string; collectionIds: string | null; agentIds: string | null };

/** A stored key row as a grant; a restriction that does not parse throws (fails closed, never unrestricted). */
function grantOf(row: GrantRow): KeyGrant {
  return { ...row, scopes: JSON.parse(row.scopes) as ApiKeyScope[], collectionIds: storedIdList(row.collectionIds), agentIds: storedIdList(row.agentIds) };
}

/** The tenant's admission record in one D1 round trip, or null when the tenant does not exist. */
export async function loadAdmissionRecord(db: Database, tenantId: string): Promise<AdmissionRecord | null> {
  const [rows, domains] = await db.batch([
    db.select().from(tenants).where(eq(tenants.id, tenantId)),
    db.select({ domain: tenantDomains.domain }).from(tenantDomains).where(eq(tenantDomains.tenantId, tenantId)),
  ]);
  const tenant = rows[0];
  return tenant ? { tenant, domains: domains.map((d) => d.domain) } : null;
}

/** One key's grant, only if it belongs to `tenantId`. */
export async function loadKeyGrant(db: Database, tenantId: string, keyId: string): Promise<KeyGrant | null> {
  const row = await db
    .select({
      id: apiKeys.id, tenantId: apiKeys.tenantId, scopes: apiKeys.scopes, rateLimitPerMinute: apiKeys.rateLimitPerMinute,
      expiresAt: apiKeys.expiresAt, revokedAt: apiKeys.revokedAt, collectionIds: apiKeys.collectionIds, agentIds: apiKeys.agentIds,
    })
    .from(apiKeys)
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.tenantId, tenantId)))
    .get();
  return row ? grantOf(row) : null;
}

/**
 * Guard switched off: the record and the key in one D1 batch (so admission is still exact
 * about suspension and revocation, at the price of one D1 round trip per request).
 */
export async function loadAdmissionDirect(
  db: Database, tenantId: string, keyId: string | null,
): Promise<{ record: AdmissionRecord | null; key: KeyGrant | null }> {
  const keyQuery = db
    .select({
      id: apiKeys.id, tenantId: apiKeys.tenantId, scopes: apiKeys.scopes, rateLimitPerMinute: apiKeys.rateLimitPerMinute,
      expiresAt: apiKeys.expiresAt, revokedAt: apiKeys.revokedAt, collectionIds: apiKeys.collectionIds, agentIds: apiKeys.agentIds,
    })
    .from(apiKeys)
    .where(and(eq(apiKeys.id, keyId ?? ''), eq(apiKeys.tenantId, tenantId)));
  const [rows, domains, keys] = await db.batch([
    db.select().from(tenants).where(eq(tenants.id, tenantId)),
    db.select({ domain: tenantDomains.domain }).from(tenantDomains).where(eq(tenantDomains.tenantId, tenantId)),
    keyQuery,
  ]);
  const tenant = rows[0];
  const k = keyId ? keys[0] : undefined;
  return {
    record: tenant ? { tenant, domains: domains.map((d) => d.domain) } : null,
    key: k ? grantOf(k) : null,
  };
}
