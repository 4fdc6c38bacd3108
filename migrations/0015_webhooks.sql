-- Tenant webhooks (issue 15, DESIGN §13 "signed webhooks"). Mirrors src/db/schema.ts.
--
-- One webhook per tenant, in the catalogue beside the tenant row (like the sealed provider
-- key): secret_sealed is the signing secret sealed with src/lib/secret-box.ts under
-- ENCRYPTION_KEY (associated data binds it to this tenant), shown to the tenant once.
-- webhook_deliveries is the outbox the queue job works through: one row per event (id is the
-- event id, deterministic, so an event produced twice is delivered once), its status,
-- attempts and the last outcome (docs/guard.md "Webhooks"). Both go with the tenant row.
CREATE TABLE tenant_webhooks (
  tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id TEXT NOT NULL UNIQUE,
  url TEXT NOT NULL,
  events TEXT NOT NULL DEFAULT '[]',
  secret_sealed TEXT NOT NULL,
  key_id TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

CREATE TABLE webhook_deliveries (
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  webhook_id TEXT NOT NULL,
  event TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  response_status INTEGER,
  error TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  last_attempt_at TEXT,
  next_attempt_at TEXT,
  delivered_at TEXT,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (tenant_id, webhook_id, created_at);
