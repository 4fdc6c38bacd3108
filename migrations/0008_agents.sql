-- Agents and scoped access (issue 14, DESIGN §12). Mirrors src/db/schema.ts.
--
-- agents: per-tenant assistants. Every behaviour column is nullable: null means "inherit
-- the tenant's settings" (system prompt, model, temperature, retrieval defaults) or the
-- deployment default (max tokens). knowledge is a JSON array of collection ids (empty = all
-- the collections the caller may see). The slug is unique per tenant; the UNIQUE index is
-- the backstop, createAgent's INSERT … SELECT … WHERE is what callers meet.
CREATE TABLE agents (
  id TEXT PRIMARY KEY NOT NULL,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  slug TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT,
  system_prompt TEXT,
  chat_model TEXT,
  temperature REAL,
  max_tokens INTEGER,
  retrieval_mode TEXT CHECK (retrieval_mode IS NULL OR retrieval_mode IN ('VECTOR','KEYWORD','HYBRID')),
  retrieval_top_k INTEGER,
  knowledge TEXT NOT NULL DEFAULT '[]',
  active INTEGER NOT NULL DEFAULT 1,
  created_by TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE UNIQUE INDEX agents_tenant_slug_idx ON agents (tenant_id, slug);
CREATE INDEX agents_tenant_created_idx ON agents (tenant_id, created_at, id);

-- API keys restricted to collections and/or agents: JSON arrays of ids; NULL = unrestricted
-- (every existing key stays unrestricted).
ALTER TABLE api_keys ADD COLUMN collection_ids TEXT;
ALTER TABLE api_keys ADD COLUMN agent_ids TEXT;

-- The agent a conversation (and each of its messages) belongs to; NULL = the tenant's
-- defaults (every existing conversation). Kept when the agent is deleted, so history says so.
ALTER TABLE conversations ADD COLUMN agent_id TEXT;
ALTER TABLE messages ADD COLUMN agent_id TEXT;
CREATE INDEX conversations_tenant_agent_idx ON conversations (tenant_id, agent_id, created_at, id);
