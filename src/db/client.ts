/** The database handle: drizzle over the D1 binding (libSQL for dedicated tiers uses the same API). */
import { drizzle, type DrizzleD1Database } from 'drizzle-orm/d1';
import * as schema from './schema';

export type Database = DrizzleD1Database<typeof schema>;

const cache = new WeakMap<D1Database, Database>();

/** One drizzle instance per D1 binding for the isolate's life (it holds no connection state). */
export function databaseFor(d1: D1Database): Database {
  let db = cache.get(d1);
  if (!db) {
    db = drizzle(d1, { schema });
    cache.set(d1, db);
  }
  return db;
}
