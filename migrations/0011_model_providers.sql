-- Bring-your-own model provider per tenant (issue 16, DESIGN §14). Mirrors src/db/schema.ts.
--
-- One row per tenant that brings its own OpenAI-compatible provider; no row = the
-- deployment's provider. api_key_sealed is AES-GCM ciphertext under ENCRYPTION_KEY
-- (src/lib/secret-box.ts: `v1.<keyId>.<iv>.<ct>`, associated data binds it to this tenant's
-- row); key_id names the sealing key for rotation; key_last4 is all the API ever shows.
-- It lives beside the tenant row in the catalogue (like libSQL credentials), not in the
-- tenant's placement database.
CREATE TABLE tenant_model_providers (
  tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  base_url TEXT NOT NULL,
  api_key_sealed TEXT NOT NULL,
  key_id TEXT NOT NULL,
  key_last4 TEXT NOT NULL,
  chat_models TEXT NOT NULL DEFAULT '[]',
  embedding_model TEXT NOT NULL,
  embedding_dimensions INTEGER NOT NULL CHECK (embedding_dimensions BETWEEN 1 AND 1536),
  set_by TEXT NOT NULL,
  key_set_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
