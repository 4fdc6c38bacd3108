/** Shared keyset predicate for (created_at, id) ordered listings inside one tenant. */
import { and, eq, gt, or, type SQL } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { decodeCursor } from '../../lib/pagination';

export function afterCursor(createdAt: SQLiteColumn, id: SQLiteColumn, after: string | null | undefined): SQL | undefined {
  const k = decodeCursor(after);
  if (!k) return undefined;
  return or(gt(createdAt, k.createdAt), and(eq(createdAt, k.createdAt), gt(id, k.id)));
}
