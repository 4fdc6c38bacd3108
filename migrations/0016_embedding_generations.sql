-- Embedding generations per tenant (issue 16, DESIGN §14 "switch embedding models through a
-- background re-embedding that never leaves search empty"). Mirrors src/db/schema.ts.
--
-- A generation is one embedding space of a tenant: the model and dimensions its vectors were
-- made with, and the provider that makes its query embeddings (base_url NULL = the
-- deployment's; else the tenant's own, with its key sealed exactly as in
-- tenant_model_providers, so the old provider keeps answering queries while a new one
-- re-embeds). Generation 0's vectors live in the namespace = tenant id (every vector written
-- before this migration); generation n > 0 in `<tenant id>-g<n>`, with vector ids
-- `<chunk id>:g<n>` (Vectorize ids are index-wide: docs/retrieval.md "Embedding generations").
--
-- At most one generation is `active` (search, ask, ingestion) and at most one `building` (the
-- re-embedding job; ingestion writes it too). The switch is one batch here: active → retired,
-- building → active. Retired, superseded and failed generations keep cleaned = 0 until the
-- job has deleted their vectors. done/total/cursor/error/attempts are the job's progress
-- (`reembedding { status done total }`). Catalogue table, beside tenant_model_providers.
-- Existing tenants get no row: a tenant without one uses the current configuration, as
-- before (docs/chat.md "Switch a model": run reembedTenants once before changing
-- EMBEDDING_MODEL so every tenant's embedder is recorded).
CREATE TABLE tenant_embedders (
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  generation INTEGER NOT NULL CHECK (generation >= 0),
  status TEXT NOT NULL CHECK (status IN ('active', 'building', 'retired', 'superseded', 'failed')),
  model TEXT NOT NULL,
  dimensions INTEGER NOT NULL CHECK (dimensions BETWEEN 1 AND 1536),
  base_url TEXT,
  api_key_sealed TEXT,
  key_id TEXT,
  -- Why the generation exists: 'recorded' (the embedder found in use), 'provider' (a
  -- setModelProvider / clearModelProvider) or 'deployment' (reembedTenants).
  reason TEXT NOT NULL DEFAULT 'recorded',
  previous_generation INTEGER,
  done INTEGER NOT NULL DEFAULT 0,
  total INTEGER NOT NULL DEFAULT 0,
  cursor INTEGER,
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  cleaned INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  finished_at TEXT,
  PRIMARY KEY (tenant_id, generation)
);
CREATE UNIQUE INDEX tenant_embedders_one_active ON tenant_embedders (tenant_id) WHERE status = 'active';
CREATE UNIQUE INDEX tenant_embedders_one_building ON tenant_embedders (tenant_id) WHERE status = 'building';
