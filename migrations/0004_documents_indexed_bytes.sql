-- Derived storage of a document: the bytes of its visible version's chunk texts (what
-- extraction produced and D1 stores for search), metered against the plan's storedBytes
-- together with the original's size_bytes. A small original can expand into far more text
-- (a PDF whose page tree repeats one page), so metering only the upload let a 1 KB file park
-- megabytes of chunks.
--
-- Existing documents start at 0: their chunks were never counted, so 0 is what the
-- TenantGuard holds for them and what deleting them must give back. Re-ingesting such a
-- document (new content) counts its chunks from then on.
ALTER TABLE documents ADD COLUMN indexed_bytes INTEGER NOT NULL DEFAULT 0;
