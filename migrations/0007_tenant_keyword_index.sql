-- Keyword search that no neighbour can slow down (docs/retrieval.md "Keyword index").
--
-- Before: one FTS5 index (chunks_fts) held every tenant's postings, so a tenant's MATCH
-- walked the postings of every tenant using the term and the tenant filter discarded them
-- afterwards: cost grew with other tenants' data, and the time told whether some other
-- tenant held a word. Now every indexed term carries its tenant: the index chunks_kw holds
-- "<tag>x<word>" where <tag> is a small per-tenant number (keyword_tenants), and a query
-- asks for "<its tag>x<word>". A term's doclist therefore holds one tenant's chunks, and a
-- keyword lookup reads only the caller's postings: the cost grows with its own chunks only.
--
-- How the tenant gets into every term, in SQL only (so triggers, this backfill and every
-- database with this schema do it alike): chunks_kw_source maps each separator character
-- (the list below, mirrored by KEYWORD_SEPARATORS in src/rag/fts-query.ts) to a space,
-- collapses runs, and puts "<tag>x" before every word. The tokenizer treats ONLY the space
-- as a separator (categories lists every Unicode category as token characters), so every
-- token starts right after a space or at the start, exactly where the prefix is: no token
-- can escape its tenant, whatever the text contains. unicode61 then folds case and
-- diacritics and porter stems as before (the prefix is digits and 'x', consonants to
-- porter, so stems are the same except for words of one or two letters, which porter now
-- stems: "is" and "i" become one term).
--
-- Only VISIBLE chunks are indexed (the current version of their document): a version's
-- chunks enter the index when ingestion flips documents.version and leave when it moves
-- on or the document is deleted. So a term's doclist length IS the tenant's document
-- frequency for BM25, and keyword_tenants keeps N (chunks) and the total length (tokens)
-- of the tenant's visible chunks, maintained by the same triggers: BM25's statistics cost
-- one row read instead of a scan of the tenant's chunks.
--
-- Online and lossless: the new structures sit beside the old ones and are filled here from
-- the existing chunks (the same visible rows search returned before); chunks_fts and its
-- triggers stay, so a Worker still running the previous code keeps searching while the new
-- one is rolled out. Nothing reads chunks_fts any more; a later migration drops it.
-- Separator code points: 9 10 11 12 13 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 58 59 60 61 62 63 64 91 92 93 94 95 96 123 124 125 126 160 161 167 171 173 182 183 187 191 8194 8195 8201 8203 8208 8209 8211 8212 8216 8217 8220 8221 8226 8230 8232 8233 8239 12288 12289 12290 65292

CREATE TABLE keyword_tenants (
  tenant_id TEXT PRIMARY KEY NOT NULL,
  -- The tenant's term prefix in chunks_kw ("<tag>x"); never reused, never changed.
  tag INTEGER NOT NULL UNIQUE,
  -- BM25 statistics over the tenant's visible chunks: N and the sum of token_count.
  chunks INTEGER NOT NULL DEFAULT 0,
  tokens INTEGER NOT NULL DEFAULT 0
);

-- The text chunks_kw indexes: tenant-qualified words, computed when a chunk enters the index.
-- chunks_kw keeps its own copy (not external content): highlight(), whose markers count tf,
-- and deletes then read the stored text instead of recomputing ~70 replace() calls per row
-- (measured: 60 us per 300-byte chunk on a loaded machine, 10x the rest of a lookup).
-- libSQL's parser (and SQLite's default YYSTACKDEPTH) refuses more than about 25 nested
-- calls in one expression, so the separator folding is a chain of views of at most 20
-- replace() calls each; SQLite flattens the chain into one expression per row.

CREATE VIEW chunks_kw_fold1 AS
SELECT c.seq AS seq, c.tenant_id AS tenant_id, replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(c.text, char(9), ' '), char(10), ' '), char(11), ' '), char(12), ' '), char(13), ' '), char(33), ' '), char(34), ' '), char(35), ' '), char(36), ' '), char(37), ' '), char(38), ' '), char(39), ' '), char(40), ' '), char(41), ' '), char(42), ' '), char(43), ' '), char(44), ' ') AS t
FROM chunks c;

CREATE VIEW chunks_kw_fold2 AS
SELECT f.seq AS seq, f.tenant_id AS tenant_id, replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(f.t, char(45), ' '), char(46), ' '), char(47), ' '), char(58), ' '), char(59), ' '), char(60), ' '), char(61), ' '), char(62), ' '), char(63), ' '), char(64), ' '), char(91), ' '), char(92), ' '), char(93), ' '), char(94), ' '), char(95), ' '), char(96), ' '), char(123), ' ') AS t
FROM chunks_kw_fold1 f;

CREATE VIEW chunks_kw_fold3 AS
SELECT f.seq AS seq, f.tenant_id AS tenant_id, replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(f.t, char(124), ' '), char(125), ' '), char(126), ' '), char(160), ' '), char(161), ' '), char(167), ' '), char(171), ' '), char(173), ' '), char(182), ' '), char(183), ' '), char(187), ' '), char(191), ' '), char(8194), ' '), char(8195), ' '), char(8201), ' '), char(8203), ' '), char(8208), ' ') AS t
FROM chunks_kw_fold2 f;

CREATE VIEW chunks_kw_fold4 AS
SELECT f.seq AS seq, f.tenant_id AS tenant_id, replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(f.t, char(8209), ' '), char(8211), ' '), char(8212), ' '), char(8216), ' '), char(8217), ' '), char(8220), ' '), char(8221), ' '), char(8226), ' '), char(8230), ' '), char(8232), ' '), char(8233), ' '), char(8239), ' '), char(12288), ' '), char(12289), ' '), char(12290), ' '), char(65292), ' '), '  ', ' '), '  ', ' '), '  ', ' '), '  ', ' ') AS t
FROM chunks_kw_fold3 f;

CREATE VIEW chunks_kw_source AS
SELECT f.seq AS seq,
       k.tag || 'x' || replace(trim(f.t), ' ', ' ' || k.tag || 'x') AS text
FROM chunks_kw_fold4 f JOIN keyword_tenants k ON k.tenant_id = f.tenant_id;

CREATE VIRTUAL TABLE chunks_kw USING fts5(
  text,
  tokenize="porter unicode61 categories 'L* N* Co M* P* S* Z* C*' separators ' '"
);

-- Backfill: tags in order of each tenant's first chunk, statistics, then the visible chunks.
INSERT INTO keyword_tenants (tenant_id, tag)
SELECT tenant_id, row_number() OVER (ORDER BY first_seq)
FROM (SELECT tenant_id, min(seq) AS first_seq FROM chunks GROUP BY tenant_id);

UPDATE keyword_tenants SET
  chunks = (SELECT count(*) FROM documents d JOIN chunks c ON c.tenant_id = d.tenant_id AND c.document_id = d.id AND c.version = d.version
            WHERE d.tenant_id = keyword_tenants.tenant_id),
  tokens = (SELECT ifnull(sum(c.token_count), 0) FROM documents d JOIN chunks c ON c.tenant_id = d.tenant_id AND c.document_id = d.id AND c.version = d.version
            WHERE d.tenant_id = keyword_tenants.tenant_id);

INSERT INTO chunks_kw (rowid, text)
SELECT s.seq, s.text
FROM chunks c
JOIN documents d ON d.id = c.document_id AND d.tenant_id = c.tenant_id AND d.version = c.version
JOIN chunks_kw_source s ON s.seq = c.seq
ORDER BY c.seq;

-- A chunk is indexed when written only if its document already points at its version
-- (normally it does not: the flip below indexes the version). Its tenant gets a tag first.
CREATE TRIGGER chunks_kw_ai AFTER INSERT ON chunks BEGIN
  INSERT INTO keyword_tenants (tenant_id, tag)
    SELECT new.tenant_id, (SELECT ifnull(max(tag), 0) + 1 FROM keyword_tenants)
    WHERE NOT EXISTS (SELECT 1 FROM keyword_tenants WHERE tenant_id = new.tenant_id);
  INSERT INTO chunks_kw (rowid, text)
    SELECT s.seq, s.text FROM chunks_kw_source s
    WHERE s.seq = new.seq
      AND EXISTS (SELECT 1 FROM documents d WHERE d.id = new.document_id AND d.tenant_id = new.tenant_id AND d.version = new.version);
  UPDATE keyword_tenants SET chunks = chunks + 1, tokens = tokens + new.token_count
    WHERE tenant_id = new.tenant_id
      AND EXISTS (SELECT 1 FROM documents d WHERE d.id = new.document_id AND d.tenant_id = new.tenant_id AND d.version = new.version);
END;

CREATE TRIGGER chunks_kw_ad AFTER DELETE ON chunks
WHEN EXISTS (SELECT 1 FROM documents d WHERE d.id = old.document_id AND d.tenant_id = old.tenant_id AND d.version = old.version)
BEGIN
  DELETE FROM chunks_kw WHERE rowid = old.seq;
  UPDATE keyword_tenants SET chunks = chunks - 1, tokens = tokens - old.token_count WHERE tenant_id = old.tenant_id;
END;

-- Chunks are written once; should a visible one's text or length change, it is re-indexed.
CREATE TRIGGER chunks_kw_bu BEFORE UPDATE OF text, token_count ON chunks
WHEN EXISTS (SELECT 1 FROM documents d WHERE d.id = old.document_id AND d.tenant_id = old.tenant_id AND d.version = old.version)
BEGIN
  DELETE FROM chunks_kw WHERE rowid = old.seq;
  UPDATE keyword_tenants SET chunks = chunks - 1, tokens = tokens - old.token_count WHERE tenant_id = old.tenant_id;
END;

CREATE TRIGGER chunks_kw_au AFTER UPDATE OF text, token_count ON chunks
WHEN EXISTS (SELECT 1 FROM documents d WHERE d.id = new.document_id AND d.tenant_id = new.tenant_id AND d.version = new.version)
BEGIN
  INSERT INTO chunks_kw (rowid, text) SELECT s.seq, s.text FROM chunks_kw_source s WHERE s.seq = new.seq;
  UPDATE keyword_tenants SET chunks = chunks + 1, tokens = tokens + new.token_count WHERE tenant_id = new.tenant_id;
END;

-- The flip (src/db/repositories/documents.ts complete): the old version's chunks leave the
-- index and the statistics, the new version's enter, in the same statement as the flip.
CREATE TRIGGER documents_kw_version AFTER UPDATE OF version ON documents
WHEN old.version IS NOT new.version
BEGIN
  UPDATE keyword_tenants SET
    chunks = chunks
      - (SELECT count(*) FROM chunks c WHERE c.tenant_id = old.tenant_id AND c.document_id = old.id AND c.version = old.version)
      + (SELECT count(*) FROM chunks c WHERE c.tenant_id = new.tenant_id AND c.document_id = new.id AND c.version = new.version),
    tokens = tokens
      - (SELECT ifnull(sum(c.token_count), 0) FROM chunks c WHERE c.tenant_id = old.tenant_id AND c.document_id = old.id AND c.version = old.version)
      + (SELECT ifnull(sum(c.token_count), 0) FROM chunks c WHERE c.tenant_id = new.tenant_id AND c.document_id = new.id AND c.version = new.version)
  WHERE tenant_id = new.tenant_id;
  DELETE FROM chunks_kw
    WHERE rowid IN (SELECT c.seq FROM chunks c WHERE c.tenant_id = old.tenant_id AND c.document_id = old.id AND c.version = old.version);
  INSERT INTO chunks_kw (rowid, text)
    SELECT s.seq, s.text FROM chunks_kw_source s
    WHERE s.seq IN (SELECT c.seq FROM chunks c WHERE c.tenant_id = new.tenant_id AND c.document_id = new.id AND c.version = new.version);
END;

-- Deleting a document before its chunks (either order is handled): its visible chunks leave.
CREATE TRIGGER documents_kw_ad AFTER DELETE ON documents BEGIN
  UPDATE keyword_tenants SET
    chunks = chunks - (SELECT count(*) FROM chunks c WHERE c.tenant_id = old.tenant_id AND c.document_id = old.id AND c.version = old.version),
    tokens = tokens - (SELECT ifnull(sum(c.token_count), 0) FROM chunks c WHERE c.tenant_id = old.tenant_id AND c.document_id = old.id AND c.version = old.version)
  WHERE tenant_id = old.tenant_id;
  DELETE FROM chunks_kw
    WHERE rowid IN (SELECT c.seq FROM chunks c WHERE c.tenant_id = old.tenant_id AND c.document_id = old.id AND c.version = old.version);
END;

-- A document row that arrives after chunks of its version (a copy between databases).
CREATE TRIGGER documents_kw_ai AFTER INSERT ON documents BEGIN
  UPDATE keyword_tenants SET
    chunks = chunks + (SELECT count(*) FROM chunks c WHERE c.tenant_id = new.tenant_id AND c.document_id = new.id AND c.version = new.version),
    tokens = tokens + (SELECT ifnull(sum(c.token_count), 0) FROM chunks c WHERE c.tenant_id = new.tenant_id AND c.document_id = new.id AND c.version = new.version)
  WHERE tenant_id = new.tenant_id;
  INSERT INTO chunks_kw (rowid, text)
    SELECT s.seq, s.text FROM chunks_kw_source s
    WHERE s.seq IN (SELECT c.seq FROM chunks c WHERE c.tenant_id = new.tenant_id AND c.document_id = new.id AND c.version = new.version);
END;
