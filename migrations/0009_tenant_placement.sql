-- Tenant data placement (DESIGN §11, docs/placement.md). Applied to EVERY database: the
-- global catalogue (DB) and each tenant database (regional, dedicated D1, libSQL), so all of
-- them share one schema; each uses only its own half (catalogue tables or tenant data).

-- Where the tenant's own rows live: 'shared' (DB itself), 'regional:<region>' or
-- 'dedicated:<name>'. Existing tenants have always lived in DB, hence the default.
ALTER TABLE tenants ADD COLUMN placement TEXT NOT NULL DEFAULT 'shared';
-- The placement a running move is taking the tenant to (NULL when no move runs): the
-- request path refuses writes with TENANT_MIGRATING while it is set.
ALTER TABLE tenants ADD COLUMN moving_to TEXT;
CREATE INDEX tenants_placement_idx ON tenants (placement);

-- libSQL tenant databases (placement 'dedicated:<name>' with no D1 binding configured):
-- URL and auth token, each AES-GCM ciphertext under ENCRYPTION_KEY (src/lib/secret-box.ts),
-- key_id naming the key that sealed them so a rotated key is recognised.
CREATE TABLE tenant_databases (
  name TEXT PRIMARY KEY NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('libsql')),
  url_ciphertext TEXT NOT NULL,
  token_ciphertext TEXT NOT NULL,
  key_id TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

-- Resumable moveTenant jobs (src/placement/move.ts), driven by the queue.
CREATE TABLE tenant_moves (
  id TEXT PRIMARY KEY NOT NULL,
  tenant_id TEXT NOT NULL,
  source TEXT NOT NULL,
  target TEXT NOT NULL,
  step TEXT NOT NULL,
  -- JSON: what the step has finished (tables copied, vector/original cursors, counts, hashes).
  state TEXT NOT NULL DEFAULT '{}',
  error TEXT,
  actor TEXT NOT NULL,
  request_id TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  finished_at TEXT
);
CREATE INDEX tenant_moves_tenant_idx ON tenant_moves (tenant_id, created_at);
-- At most one unfinished move per tenant.
CREATE UNIQUE INDEX tenant_moves_active_idx ON tenant_moves (tenant_id) WHERE finished_at IS NULL;

-- The write fence of a move, kept in the tenant's SOURCE database: while a tenant has a row
-- here, every insert, update or delete of its data rows in this database fails (the triggers
-- below), so a write that raced the start of a move is refused as a whole (its batch rolls
-- back) instead of landing in a database that is being copied, and a stale writer that still
-- points here after the switch cannot write either. The mover removes and re-adds the row in
-- the same batch as its own deletes.
CREATE TABLE tenant_fences (
  tenant_id TEXT PRIMARY KEY NOT NULL,
  move_id TEXT NOT NULL,
  reason TEXT NOT NULL CHECK (reason IN ('moving', 'moved')),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

-- RAISE's message is the only thing SQLite can send back from a trigger; src/placement/fence.ts
-- recognises exactly this text and turns it into TENANT_MIGRATING.
CREATE TRIGGER collections_fence_insert BEFORE INSERT ON collections WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id) BEGIN SELECT RAISE(ABORT, 'edgerag:TENANT_MIGRATING'); END;
CREATE TRIGGER collections_fence_update BEFORE UPDATE ON collections WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id) BEGIN SELECT RAISE(ABORT, 'edgerag:TENANT_MIGRATING'); END;
CREATE TRIGGER collections_fence_delete BEFORE DELETE ON collections WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id) BEGIN SELECT RAISE(ABORT, 'edgerag:TENANT_MIGRATING'); END;
CREATE TRIGGER agents_fence_insert BEFORE INSERT ON agents WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id) BEGIN SELECT RAISE(ABORT, 'edgerag:TENANT_MIGRATING'); END;
CREATE TRIGGER agents_fence_update BEFORE UPDATE ON agents WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id) BEGIN SELECT RAISE(ABORT, 'edgerag:TENANT_MIGRATING'); END;
CREATE TRIGGER agents_fence_delete BEFORE DELETE ON agents WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id) BEGIN SELECT RAISE(ABORT, 'edgerag:TENANT_MIGRATING'); END;
CREATE TRIGGER documents_fence_insert BEFORE INSERT ON documents WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id) BEGIN SELECT RAISE(ABORT, 'edgerag:TENANT_MIGRATING'); END;
CREATE TRIGGER documents_fence_update BEFORE UPDATE ON documents WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id) BEGIN SELECT RAISE(ABORT, 'edgerag:TENANT_MIGRATING'); END;
CREATE TRIGGER documents_fence_delete BEFORE DELETE ON documents WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id) BEGIN SELECT RAISE(ABORT, 'edgerag:TENANT_MIGRATING'); END;
CREATE TRIGGER chunks_fence_insert BEFORE INSERT ON chunks WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id) BEGIN SELECT RAISE(ABORT, 'edgerag:TENANT_MIGRATING'); END;
CREATE TRIGGER chunks_fence_update BEFORE UPDATE ON chunks WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id) BEGIN SELECT RAISE(ABORT, 'edgerag:TENANT_MIGRATING'); END;
CREATE TRIGGER chunks_fence_delete BEFORE DELETE ON chunks WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id) BEGIN SELECT RAISE(ABORT, 'edgerag:TENANT_MIGRATING'); END;
CREATE TRIGGER conversations_fence_insert BEFORE INSERT ON conversations WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id) BEGIN SELECT RAISE(ABORT, 'edgerag:TENANT_MIGRATING'); END;
CREATE TRIGGER conversations_fence_update BEFORE UPDATE ON conversations WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id) BEGIN SELECT RAISE(ABORT, 'edgerag:TENANT_MIGRATING'); END;
CREATE TRIGGER conversations_fence_delete BEFORE DELETE ON conversations WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id) BEGIN SELECT RAISE(ABORT, 'edgerag:TENANT_MIGRATING'); END;
CREATE TRIGGER messages_fence_insert BEFORE INSERT ON messages WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = NEW.tenant_id) BEGIN SELECT RAISE(ABORT, 'edgerag:TENANT_MIGRATING'); END;
CREATE TRIGGER messages_fence_update BEFORE UPDATE ON messages WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id) BEGIN SELECT RAISE(ABORT, 'edgerag:TENANT_MIGRATING'); END;
CREATE TRIGGER messages_fence_delete BEFORE DELETE ON messages WHEN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant_id = OLD.tenant_id) BEGIN SELECT RAISE(ABORT, 'edgerag:TENANT_MIGRATING'); END;
