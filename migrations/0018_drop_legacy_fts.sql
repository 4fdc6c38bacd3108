-- The one shared FTS5 index of 0001 (chunks_fts) and its triggers. Since 0007 keyword search
-- reads the tenant-qualified index (chunks_kw) only, but every chunk insert, update and delete
-- still wrote the shared index too: ingestion paid for a second index, one that every tenant's
-- writes share. 0007 kept it so that a Worker of the previous release could still search during
-- the rollout; that release is gone, so the index and its triggers go.
DROP TRIGGER IF EXISTS chunks_ai;
DROP TRIGGER IF EXISTS chunks_ad;
DROP TRIGGER IF EXISTS chunks_au;
DROP TABLE IF EXISTS chunks_fts;
