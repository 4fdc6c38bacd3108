-- One document per name within a collection (or among a tenant's documents without a
-- collection). Ingestion looks the name up and then inserts; two concurrent first
-- ingests of one new name could both miss and create two rows. This index makes the
-- second insert a conflict, which ingestion handles as "someone else came first"
-- (src/rag/ingestion.ts). collection_id is nullable and NULLs never compare equal in a
-- UNIQUE index, so the index is over ifnull(collection_id, '') (collection ids are
-- UUIDs, never ''). Mirrors the note on `documents` in src/db/schema.ts.
--
-- Databases made before this migration may already hold such duplicates, and the index
-- cannot be created over them. They are renamed, never deleted: a delete here could not
-- remove their chunks' vectors or their R2 originals, and would leave the TenantGuard's
-- document and byte counts above what the tenant stores. The document that ingestion
-- already treated as "the" document of that name (oldest created_at, then id — the
-- order of DocumentsRepo.findByName) keeps the name; every other one becomes
-- "<name> (duplicate <id>)", stays searchable under its id, and can be deleted or
-- re-ingested by its owner. Each rename gets an audit_log row. On a database without
-- duplicates the statements below change nothing.

CREATE TABLE migration_0003_renames (
  id TEXT PRIMARY KEY NOT NULL,
  tenant_id TEXT NOT NULL,
  collection_key TEXT NOT NULL,
  previous_name TEXT NOT NULL,
  new_name TEXT NOT NULL
);

INSERT INTO migration_0003_renames (id, tenant_id, collection_key, previous_name, new_name)
SELECT id, tenant_id, collection_key, name, name || ' (duplicate ' || id || ')'
FROM (
  SELECT id, tenant_id, ifnull(collection_id, '') AS collection_key, name,
         row_number() OVER (PARTITION BY tenant_id, ifnull(collection_id, ''), name ORDER BY created_at, id) AS position
  FROM documents
)
WHERE position > 1;

-- The new names differ from each other (each ends with its own row id). A document that
-- already carries one of them (someone named a document "x (duplicate <that id>)") would
-- make the index fail: that rename gets a random tail as well.
UPDATE migration_0003_renames
SET new_name = previous_name || ' (duplicate ' || id || ' ' || lower(hex(randomblob(8))) || ')'
WHERE EXISTS (
  SELECT 1 FROM documents AS d
  WHERE d.tenant_id = migration_0003_renames.tenant_id
    AND ifnull(d.collection_id, '') = migration_0003_renames.collection_key
    AND d.name = migration_0003_renames.new_name
);

UPDATE documents
SET name = (SELECT r.new_name FROM migration_0003_renames AS r WHERE r.id = documents.id),
    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
WHERE id IN (SELECT id FROM migration_0003_renames);

INSERT INTO audit_log (id, tenant_id, actor, action, target_type, target_id, details, request_id)
SELECT lower(hex(randomblob(16))), tenant_id, 'platform:migration', 'document.rename', 'document', id,
       json_object('previousName', previous_name, 'name', new_name, 'reason', 'duplicate name (migration 0003)'),
       'migration:0003_documents_unique_name'
FROM migration_0003_renames;

DROP TABLE migration_0003_renames;

CREATE UNIQUE INDEX documents_tenant_collection_name_idx ON documents (tenant_id, ifnull(collection_id, ''), name);
