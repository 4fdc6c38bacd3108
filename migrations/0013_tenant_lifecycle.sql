-- Tenant deletion and export (issue 15, DESIGN §13, docs/lifecycle.md). Catalogue tables:
-- like tenant_moves they live in the global DB; applied to every database so all share one
-- schema (a placement database simply never has rows in them).

-- deleteTenant jobs (src/lifecycle/tenant-deletion.ts). One row per deletion; the row stays
-- after the purge as the tombstone's record (who, when, the receipt), next to the tenant row
-- that stays with status 'cancelled'.
CREATE TABLE tenant_deletions (
  id TEXT PRIMARY KEY NOT NULL,
  tenant_id TEXT NOT NULL,
  -- scheduled (grace period: restoreTenant works) → fence → inventory → vectors → originals →
  -- rows → objects → catalogue → verify → purged; or restored.
  step TEXT NOT NULL,
  -- The tenant's status before the deletion (restoreTenant puts it back).
  previous_status TEXT NOT NULL,
  -- When the purge may start (ISO-8601); the creation time for purge: true.
  purge_after TEXT NOT NULL,
  -- JSON: cursors and the inventory (counts per store) the receipt reports.
  state TEXT NOT NULL DEFAULT '{}',
  -- JSON: counts removed per store, written when the purge is done.
  receipt TEXT,
  error TEXT,
  actor TEXT NOT NULL,
  request_id TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  finished_at TEXT
);
CREATE INDEX tenant_deletions_tenant_idx ON tenant_deletions (tenant_id, created_at);
-- At most one unfinished deletion per tenant (a second deleteTenant finds the first).
CREATE UNIQUE INDEX tenant_deletions_active_idx ON tenant_deletions (tenant_id) WHERE finished_at IS NULL;

-- Tenant exports (src/lifecycle/tenant-export.ts): one ZIP archive per row in the tenant's
-- placement bucket, under <tenant_id>/exports/<id>.zip (so it moves and is purged with the tenant).
CREATE TABLE tenant_exports (
  id TEXT PRIMARY KEY NOT NULL,
  tenant_id TEXT NOT NULL,
  -- pending → running → completed | failed
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed')),
  object_key TEXT NOT NULL,
  -- JSON: rows written per table, files, bytes (progress while running, totals when completed).
  progress TEXT NOT NULL DEFAULT '{}',
  bytes INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  actor TEXT NOT NULL,
  request_id TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  finished_at TEXT
);
CREATE INDEX tenant_exports_tenant_idx ON tenant_exports (tenant_id, created_at, id);
