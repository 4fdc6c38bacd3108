declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import('cloudflare:test').D1Migration[];
    JWT_SECRET: string;
    /** D1 databases without migrations (vitest.config.ts). */
    UNMIGRATED_DB: D1Database;
    PARTLY_MIGRATED_DB: D1Database;
    BEHIND_DB: D1Database;
    /** Migrated by a test in steps, with data written between them. */
    STEPWISE_DB: D1Database;
  }
}
