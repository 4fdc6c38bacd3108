/**
 * Whole-tenant data operations for placement (src/placement): the residence row a placement
 * database needs, and (for moveTenant) reading, writing, fingerprinting and deleting all of one
 * tenant's rows in one database. Like TenantScope, every statement names the tenant.
 */
import type { Database } from './client';
import { tenants, type TenantRow } from './schema';

/**
 * Mirrors the tenant's row into a placement database that is not the catalogue. The
 * tenant-owned tables of migration 0001 reference tenants(id), so each database that holds a
 * tenant's rows needs that row; the copy is a residence marker only (the catalogue's row is
 * the one every request reads). Idempotent.
 */
export async function writeResidence(db: Database, tenant: TenantRow): Promise<void> {
  await db.insert(tenants).values({ ...tenant, movingTo: null }).onConflictDoNothing({ target: tenants.id }).run();
}
