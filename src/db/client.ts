/**
 * Database handles: drizzle over a D1 binding, a D1 session (read replicas, DESIGN §10) or a
 * libSQL client (Turso / sqld over HTTP). One drizzle schema and one set of migrations
 * serve all of them.
 */
import type { Client as LibsqlClient } from '@libsql/client/web';
import { drizzle, type DrizzleD1Database } from 'drizzle-orm/d1';
import { drizzle as drizzleLibsql } from 'drizzle-orm/libsql/web';
import * as schema from './schema';

/**
 * The handle repositories take. Typed as the D1 driver's database; a libSQL database is the
 * same BaseSQLiteDatabase<'async'> with a different `run()` result (ResultSet instead of
 * D1Result). Repositories use only what both drivers share — select/insert/update/delete
 * with `returning()`, `get()`, `all()`, `batch()` — and never read a `run()` result; the
 * repository suite (test/repositories) runs against both engines so a difference fails CI.
 */
export type Database = DrizzleD1Database<typeof schema>;

const cache = new WeakMap<object, Database>();

/** One drizzle instance per D1 binding (or session) for its life (it holds no connection state). */
export function databaseFor(d1: D1Database | D1DatabaseSession): Database {
  let db = cache.get(d1);
  if (!db) {
    // A D1DatabaseSession offers prepare() and batch(), all drizzle's D1 driver calls.
    db = drizzle(d1 as D1Database, { schema });
    cache.set(d1, db);
  }
  return db;
}

/** Drizzle over a libSQL client (`@libsql/client/web` in the Worker, a `file:` client in Node tests). */
export function libsqlDatabase(client: LibsqlClient): Database {
  let db = cache.get(client);
  if (!db) {
    db = drizzleLibsql(client, { schema }) as unknown as Database;
    cache.set(client, db);
  }
  return db;
}
