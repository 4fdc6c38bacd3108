/**
 * What admission needs to know about a tenant and its API keys, read from D1 (the source
 * of truth). The TenantGuard holds the result in memory and answers it with every admit
 * (src/objects/tenant-guard.ts); with the guard switched off the request pipeline reads it
 * per request. Nothing here is cached: callers decide.
 */
import { and, eq, sql } from 'drizzle-orm';
import { storedIdList } from '../auth/api-keys';
import type { ApiKeyScope } from '../auth/principal';
import type { Database } from './client';
import { apiKeys, memberRemovals, tenantDomains, tenants, type TenantRow } from './schema';

/** The tenant row, the verified custom domains that name it and the users removed from it. */
export interface AdmissionRecord {
  tenant: TenantRow;
  /** Verified domains only: a pending or failed one never routes. */
  domains: string[];
  /**
   * Users (JWT `sub`) removed from the tenant (member_removals). Bounded: removeMember keeps
   * at most MAX_REMOVED_MEMBERS per tenant (src/lifecycle/members.ts).
   */
  removedUsers: ReadonlySet<string>;
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

/** Verified custom domains of a tenant (what routes, DESIGN §4). */
const verifiedDomains = (db: Database, tenantId: string) =>
  db.select({ domain: tenantDomains.domain }).from(tenantDomains).where(and(eq(tenantDomains.tenantId, tenantId), eq(tenantDomains.status, 'verified')));

/**
 * The tenant's admission record in one D1 round trip (two statements, as before removals
 * existed: the removed users come with the tenant row as one JSON array), or null when the
 * tenant does not exist.
 */
export async function loadAdmissionRecord(db: Database, tenantId: string): Promise<AdmissionRecord | null> {
  const removed = sql<string>`(SELECT json_group_array(${memberRemovals.userId}) FROM ${memberRemovals} WHERE ${memberRemovals.tenantId} = ${tenants.id})`;
  const [rows, domains] = await db.batch([
    db.select({ tenant: tenants, removed }).from(tenants).where(eq(tenants.id, tenantId)),
    verifiedDomains(db, tenantId),
  ]);
  const row = rows[0];
  return row ? { tenant: row.tenant, domains: domains.map((d) => d.domain), removedUsers: new Set(JSON.parse(row.removed) as string[]) } : null;
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
 * about suspension, revocation and removal, at the price of one D1 round trip per request).
 * Of the removed users only `userId` is looked up (a point query, not the whole set).
 */
export async function loadAdmissionDirect(
  db: Database, tenantId: string, keyId: string | null, userId: string | null = null,
): Promise<{ record: AdmissionRecord | null; key: KeyGrant | null }> {
  const keyQuery = db
    .select({
      id: apiKeys.id, tenantId: apiKeys.tenantId, scopes: apiKeys.scopes, rateLimitPerMinute: apiKeys.rateLimitPerMinute,
      expiresAt: apiKeys.expiresAt, revokedAt: apiKeys.revokedAt, collectionIds: apiKeys.collectionIds, agentIds: apiKeys.agentIds,
    })
    .from(apiKeys)
    .where(and(eq(apiKeys.id, keyId ?? ''), eq(apiKeys.tenantId, tenantId)));
  const removed = sql<number>`EXISTS (SELECT 1 FROM ${memberRemovals} WHERE ${memberRemovals.tenantId} = ${tenants.id} AND ${memberRemovals.userId} = ${userId ?? ''})`;
  const [rows, domains, keys] = await db.batch([
    db.select({ tenant: tenants, removed }).from(tenants).where(eq(tenants.id, tenantId)),
    verifiedDomains(db, tenantId),
    keyQuery,
  ]);
  const row = rows[0];
  const k = keyId ? keys[0] : undefined;
  return {
    record: row ? { tenant: row.tenant, domains: domains.map((d) => d.domain), removedUsers: new Set(userId && row.removed ? [userId] : []) } : null,
    key: k ? grantOf(k) : null,
  };
}
