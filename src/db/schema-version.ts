/**
 * The schema version this code needs: the number of the newest file in migrations/.
 * test/placement/schema-and-sessions.test.ts fails when a migration is added without raising
 * it or without listing it in MIGRATIONS.
 * Every database (catalogue, regional, dedicated D1, libSQL) records what it has applied in
 * wrangler's `d1_migrations` table (`npm run db:migrate` writes the same table into libSQL).
 */
import { sql } from 'drizzle-orm';
import type { Database } from './client';

export const SCHEMA_VERSION = 18;

/**
 * Every migration number in migrations/ (some numbers were never used). Numbers are given out
 * to work in parallel, so a later number can be applied before an earlier one: the newest
 * applied number alone would hide a missing one.
 */
export const MIGRATIONS: readonly number[] = [1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 18];

/**
 * The database's schema version: the newest migration applied with every earlier one of
 * MIGRATIONS applied too (so a gap counts as "behind"); 0 when none is.
 */
export async function schemaVersionOf(db: Database): Promise<number> {
  const table = await db.get<{ n: number }>(sql`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'd1_migrations'`);
  if (!table?.n) return 0;
  const rows = await db.all<{ v: number | null }>(sql`SELECT CAST(substr(name, 1, instr(name, '_') - 1) AS INTEGER) AS v FROM d1_migrations`);
  return versionOf(rows.map((r) => Number(r.v)));
}

/** The schema version of a set of applied migration numbers (see schemaVersionOf). */
export function versionOf(applied: Iterable<number>): number {
  const have = new Set(applied);
  const firstMissing = MIGRATIONS.findIndex((n) => !have.has(n));
  if (firstMissing === -1) return Math.max(0, ...have);
  return firstMissing === 0 ? 0 : MIGRATIONS[firstMissing - 1]!;
}
