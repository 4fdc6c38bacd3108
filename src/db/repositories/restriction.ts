/**
 * SQL for restricted principals (docs/agents.md "Scoped credentials"): a credential limited to
 * some collections sees the rest of its tenant exactly as it would see a foreign tenant. The
 * repositories add these predicates next to `tenant_id = ?`, so every read that can reach a
 * document, a chunk or a collection is narrowed in the statement itself, never afterwards.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';

/**
 * `column IN (<ids>)` with the list bound as ONE JSON parameter (json_each): D1 refuses
 * statements with more than 100 bound parameters, and a restriction may name 50 ids.
 */
export function inIdList(column: SQLiteColumn | SQL, ids: readonly string[]): SQL {
  return sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`;
}

/**
 * The predicate on a `collection_id` column for a principal restricted to `allowed`
 * (undefined when unrestricted). A NULL collection is outside every restriction: documents
 * without a collection belong to no boundary a restricted credential was given.
 */
export function collectionAllowed(column: SQLiteColumn, allowed: readonly string[] | null): SQL | undefined {
  return allowed === null ? undefined : inIdList(column, allowed);
}
