/** INSERT … SELECT <row> WHERE <condition>: a row written only if a condition holds when the statement runs. */
import { getTableColumns, is, SQL, sql } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Database } from '../client';

/**
 * The insert of `row` into `table`, guarded by `condition` in the same statement. Used where
 * a check and the write must not be split by another request (a plan limit, a unique name,
 * referenced rows that must still exist): D1 runs one statement at a time, so the check holds
 * for the write. drizzle lists every column in table order, so the values follow that order;
 * a column not given takes its SQL default (or null), and values go through the column's own
 * mapping (booleans to 0/1, and so on).
 */
export function insertIf<T extends SQLiteTable>(db: Database, table: T, row: T['$inferInsert'], condition: SQL) {
  const given = row as Record<string, unknown>;
  const values = Object.entries(getTableColumns(table)).map(([key, column]) => {
    if (given[key] !== undefined) return sql`${column.mapToDriverValue(given[key])}`;
    return is(column.default, SQL) ? column.default : column.default !== undefined ? sql`${column.mapToDriverValue(column.default)}` : sql`null`;
  });
  return db.insert(table).select(sql`select ${sql.join(values, sql`, `)} where ${condition}`);
}
