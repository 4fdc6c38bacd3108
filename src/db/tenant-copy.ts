/**
 * Whole-tenant data operations for placement (src/placement): the residence row a placement
 * database needs, and (for moveTenant) reading, writing, fingerprinting and deleting all of one
 * tenant's rows in one database. Like TenantScope, every statement names the tenant.
 */
import { and, asc, count, eq, getTableColumns, gt, inArray, like, not, or, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { sha256Hex } from '../lib/ids';
import type { Database } from './client';
import { CATALOGUE_AUDIT_PREFIXES } from './repositories/audit';
import { agents, auditLog, chunks, collections, conversations, documents, messages, tenantFences, tenants, type TenantRow } from './schema';

/**
 * Mirrors the tenant's row into a placement database that is not the catalogue. The
 * tenant-owned tables of migration 0001 reference tenants(id), so each database that holds a
 * tenant's rows needs that row; the copy is a residence marker only (the catalogue's row is
 * the one every request reads). Idempotent.
 */
export async function writeResidence(db: Database, tenant: TenantRow): Promise<void> {
  await db.insert(tenants).values({ ...tenant, movingTo: null }).onConflictDoNothing({ target: tenants.id }).run();
}

/** What moves with a tenant, in insert order (parents first), with each table's keyset column. */
export const TENANT_TABLES = [
  { name: 'collections', table: collections, key: collections.id },
  { name: 'agents', table: agents, key: agents.id },
  { name: 'documents', table: documents, key: documents.id },
  { name: 'chunks', table: chunks, key: chunks.id },
  { name: 'conversations', table: conversations, key: conversations.id },
  { name: 'messages', table: messages, key: messages.id },
  { name: 'audit_log', table: auditLog, key: auditLog.id },
] as const;

export type TenantTableName = (typeof TENANT_TABLES)[number]['name'];

const tableOf = (name: TenantTableName) => TENANT_TABLES.find((t) => t.name === name)!;

/**
 * The rows of `name` that belong to the tenant's placement database. Audit rows of catalogue
 * actions stay in the catalogue (src/db/repositories/audit.ts); chunks lose `seq`, the
 * database-local rowid of the FTS index, which the target assigns anew (its triggers index it).
 */
function ownRows(name: TenantTableName, tenantId: string): SQL {
  const t = tableOf(name);
  const own = eq(t.table.tenantId, tenantId);
  if (name !== 'audit_log') return own;
  return and(own, not(or(...CATALOGUE_AUDIT_PREFIXES.map((p) => like(auditLog.action, `${p}%`)))!))!;
}

function columnsOf(name: TenantTableName) {
  const cols = { ...getTableColumns(tableOf(name).table) } as Record<string, unknown>;
  if (name === 'chunks') delete cols.seq;
  return cols as ReturnType<typeof getTableColumns<typeof chunks>>;
}

/** One keyset page of the tenant's rows of `name`, ordered by key, after `after`. */
export async function readTenantRows(db: Database, name: TenantTableName, tenantId: string, after: string | null, limit: number): Promise<Record<string, unknown>[]> {
  const t = tableOf(name);
  return db
    .select(columnsOf(name))
    .from(t.table as typeof chunks)
    .where(and(ownRows(name, tenantId), after === null ? undefined : gt(t.key, after)))
    .orderBy(asc(t.key))
    .limit(limit)
    .all() as Promise<Record<string, unknown>[]>;
}

/** D1 binds at most 100 parameters per statement. */
const MAX_PARAMS = 100;

/** Inserts copied rows; a row already there (a resumed page) is skipped. One transaction. */
export async function insertTenantRows(db: Database, name: TenantTableName, rows: Record<string, unknown>[]): Promise<void> {
  if (rows.length === 0) return;
  const t = tableOf(name);
  const perStatement = Math.max(1, Math.floor(MAX_PARAMS / Object.keys(columnsOf(name)).length));
  const statements: BatchItem<'sqlite'>[] = [];
  for (let i = 0; i < rows.length; i += perStatement) {
    statements.push(db.insert(t.table as typeof chunks).values(rows.slice(i, i + perStatement) as never).onConflictDoNothing());
  }
  await db.batch(statements as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]);
}

/** Count and content hash of the tenant's rows of `name` (SHA-256 chained over keyset pages). */
export async function fingerprintTenantRows(db: Database, name: TenantTableName, tenantId: string, page = 500): Promise<{ count: number; hash: string }> {
  let after: string | null = null;
  let count = 0;
  let hash = '';
  for (;;) {
    const rows = await readTenantRows(db, name, tenantId, after, page);
    if (rows.length === 0) break;
    count += rows.length;
    // Canonical JSON: keys in column order as drizzle returns them, the same on both engines.
    hash = await sha256Hex(hash + JSON.stringify(rows.map((r) => Object.keys(r).sort().map((k) => [k, r[k]]))));
    // Every moved table is keyed by its `id` column.
    after = String(rows.at(-1)!.id);
  }
  return { count, hash };
}

/** Ids of the tenant's chunks (the vector ids), one keyset page. */
export async function chunkIdsPage(db: Database, tenantId: string, after: string | null, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: chunks.id })
    .from(chunks)
    .where(and(eq(chunks.tenantId, tenantId), after === null ? undefined : gt(chunks.id, after)))
    .orderBy(asc(chunks.id))
    .limit(limit)
    .all();
  return rows.map((r) => r.id);
}

/** Raises (reason 'moving') or keeps (reason 'moved') the tenant's write fence in `db`. */
export async function setFence(db: Database, tenantId: string, moveId: string, reason: 'moving' | 'moved'): Promise<void> {
  await db
    .insert(tenantFences)
    .values({ tenantId, moveId, reason })
    .onConflictDoUpdate({ target: tenantFences.tenantId, set: { moveId, reason } })
    .run();
}

export async function clearFence(db: Database, tenantId: string): Promise<void> {
  await db.delete(tenantFences).where(eq(tenantFences.tenantId, tenantId)).run();
}

export async function fenceOf(db: Database, tenantId: string): Promise<{ moveId: string; reason: string } | null> {
  return (await db.select({ moveId: tenantFences.moveId, reason: tenantFences.reason }).from(tenantFences).where(eq(tenantFences.tenantId, tenantId)).get()) ?? null;
}

/**
 * Deletes up to `limit` of the tenant's rows of `name` behind its fence: the fence is lifted
 * and put back (`reason`) in the same transaction, so no other writer passes meanwhile.
 * Returns how many rows were deleted (0: none left).
 */
export async function deleteTenantRowsPage(db: Database, name: TenantTableName, tenantId: string, moveId: string, reason: 'moving' | 'moved', limit = 500): Promise<number> {
  const t = tableOf(name);
  const ids = (await db.select({ id: t.key }).from(t.table as typeof chunks).where(ownRows(name, tenantId)).limit(limit).all()).map((r) => r.id as string);
  if (ids.length === 0) return 0;
  const lists: string[][] = [];
  for (let i = 0; i < ids.length; i += 90) lists.push(ids.slice(i, i + 90));
  await db.batch([
    db.delete(tenantFences).where(eq(tenantFences.tenantId, tenantId)),
    ...lists.map((l) => db.delete(t.table as typeof chunks).where(and(eq(t.table.tenantId, tenantId), inArray(t.key, l)))),
    db.insert(tenantFences).values({ tenantId, moveId, reason }),
  ]);
  return ids.length;
}

/** Removes the tenant's residence row (never in the catalogue, where it is the tenant). */
export async function deleteResidence(db: Database, tenantId: string): Promise<void> {
  await db.delete(tenants).where(eq(tenants.id, tenantId)).run();
}

/** How many of the tenant's rows of `name` this database holds (the purge's inventory and check). */
export async function countTenantRows(db: Database, name: TenantTableName, tenantId: string): Promise<number> {
  const t = tableOf(name);
  const row = await db.select({ n: count() }).from(t.table as typeof chunks).where(ownRows(name, tenantId)).get();
  return row?.n ?? 0;
}
