/**
 * Applies migrations/ to a libSQL database, recording them in the same `d1_migrations` table
 * wrangler keeps in D1, so one schema-version check (src/db/schema-version.ts) serves both
 * engines. Used by `npm run db:migrate` (scripts/db-migrate.mjs) and the Node test project;
 * never by the Worker (migrations are not applied at start-up).
 */

/** The part of a libSQL client this needs (`@libsql/client` and `@libsql/client/web` both fit). */
export interface MigratableClient {
  execute(stmt: string | { sql: string; args: unknown[] }): Promise<{ rows: ArrayLike<Record<string, unknown>> }>;
  executeMultiple(sql: string): Promise<void>;
}

export interface Migration {
  name: string;
  sql: string;
}

/** Applies the migrations not yet recorded, in name order; returns the names applied. */
export async function migrateLibsql(client: MigratableClient, migrations: Migration[]): Promise<string[]> {
  await client.executeMultiple(
    `CREATE TABLE IF NOT EXISTS d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL);`,
  );
  const done = new Set(Array.from((await client.execute('SELECT name FROM d1_migrations')).rows, (r) => String(r.name)));
  const applied: string[] = [];
  for (const m of [...migrations].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (done.has(m.name)) continue;
    // One transaction per file, with its record: a failed file leaves nothing half-applied.
    const escaped = m.name.replace(/'/g, "''");
    try {
      await client.executeMultiple(`BEGIN;\n${m.sql}\n;INSERT INTO d1_migrations (name) VALUES ('${escaped}');\nCOMMIT;`);
    } catch (err) {
      await client.executeMultiple('ROLLBACK;').catch(() => undefined);
      throw new Error(`migration ${m.name} failed`, { cause: err });
    }
    applied.push(m.name);
  }
  return applied;
}
