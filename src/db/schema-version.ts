/**
 * The schema version this code needs: the number of the newest file in migrations/.
 * test/foundation/schema-version.test.ts fails when a migration is added without raising it.
 * Every database (catalogue, regional, dedicated D1, libSQL) records what it has applied in
 * wrangler's `d1_migrations` table (`npm run db:migrate` writes the same table into libSQL).
 */
import { sql } from 'drizzle-orm';
import type { Database } from './client';

export const SCHEMA_VERSION = 18;

/** The newest migration number applied to the database; 0 when none is. */
export async function schemaVersionOf(db: Database): Promise<number> {
  const table = await db.get<{ n: number }>(sql`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'd1_migrations'`);
  if (!table?.n) return 0;
  const row = await db.get<{ v: number | null }>(sql`SELECT max(CAST(substr(name, 1, instr(name, '_') - 1) AS INTEGER)) AS v FROM d1_migrations`);
  return row?.v ?? 0;
}
