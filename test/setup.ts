import { applyD1Migrations, env } from 'cloudflare:test';

// Idempotent: applyD1Migrations records what it applied. Every configured D1 database gets
// the same migrations (the catalogue DB and the placements' databases, wrangler.toml).
for (const db of [env.DB, env.DB_EU, env.DB_DEDICATED_1]) {
  if (db) await applyD1Migrations(db, env.TEST_MIGRATIONS);
}
