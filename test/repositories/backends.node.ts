/**
 * The repository suite's backend in Node: the real libSQL engine (`@libsql/client` with a
 * `file:` database, the engine that ships with the npm package) through drizzle's libSQL
 * driver — the same `libsqlDatabase()` the Worker uses over HTTP — with migrations/ applied by
 * the same code as `npm run db:migrate`. A dedicated libSQL tenant: its own database for data,
 * a second one standing in for the D1 catalogue.
 */
import { createClient } from '@libsql/client';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { libsqlDatabase } from '../../src/db/client';
import { migrateLibsql } from '../../src/db/migrate-libsql';
import type { Backend } from './backend-types';

export const MIGRATIONS = readdirSync('migrations')
  .filter((f) => f.endsWith('.sql'))
  .map((name) => ({ name, sql: readFileSync(join('migrations', name), 'utf8') }));

/** A fresh, migrated libSQL file database. */
export async function freshLibsql(label: string) {
  const dir = mkdtempSync(join(tmpdir(), 'edgerag-libsql-'));
  const client = createClient({ url: `file:${join(dir, `${label}.db`)}` });
  await migrateLibsql(client, MIGRATIONS);
  return client;
}

/**
 * Every migration parses on libSQL (test/placement/libsql-drift.node.test.ts checks it). The
 * switch stays so a future drift can be pinned in one place, with a failing test beside it.
 */
export const LIBSQL_MIGRATIONS_PARSE = true;

export const backends: Backend[] = LIBSQL_MIGRATIONS_PARSE ? [
  {
    name: 'libsql dedicated',
    async open() {
      const db = libsqlDatabase(await freshLibsql('tenant') as never);
      const catalogue = libsqlDatabase(await freshLibsql('catalogue') as never);
      return { db, catalogue };
    },
  },
] : [];
