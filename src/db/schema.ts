/**
 * Drizzle schema (sqlite-core) for D1 / libSQL. The SQL that creates these tables
 * lives in migrations/ and is applied by `wrangler d1 migrations apply`; keep both in
 * step (test/db/schema.test.ts checks every table and column here exists).
 *
 * Every tenant-owned table has `tenant_id NOT NULL` and an index that starts with it,
 * so every TenantScope query is an index range scan inside one tenant.
 */
import { sql } from 'drizzle-orm';
import { integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`;

export const tenants = sqliteTable('tenants', {
  id: text('id').primaryKey(),
  slug: text('slug').notNull().unique(),
  name: text('name').notNull(),
  plan: text('plan', { enum: ['free', 'starter', 'pro', 'enterprise'] }).notNull().default('free'),
  status: text('status', { enum: ['trial', 'active', 'suspended', 'cancelled'] }).notNull().default('active'),
  region: text('region'),
  tier: text('tier', { enum: ['shared', 'dedicated'] }).notNull().default('shared'),
  /** Where the tenant's own rows live: `shared`, `regional:<region>` or `dedicated:<name>` (src/placement). */
  placement: text('placement').notNull().default('shared'),
  /** The placement a running move is taking the tenant to; writes are refused while set. */
  movingTo: text('moving_to'),
  /** JSON: TenantSettings (system prompt, CORS origins, model, retrieval defaults). */
  settings: text('settings').notNull().default('{}'),
  /** JSON: per-tenant overrides of plan limits (platform admins only). */
  limits: text('limits').notNull().default('{}'),
  createdAt: text('created_at').notNull().default(now),
  updatedAt: text('updated_at').notNull().default(now),
  trialEndsAt: text('trial_ends_at'),
});

/**
 * Custom domains that name a tenant (besides `<slug>.<BASE_DOMAIN>`). The primary key makes a
 * domain one tenant's at most. Only `verified` rows route (migration 0014; a row inserted by
 * hand defaults to verified, addDomain writes `pending`).
 */
export const tenantDomains = sqliteTable('tenant_domains', {
  domain: text('domain').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  createdAt: text('created_at').notNull().default(now),
  status: text('status', { enum: ['pending', 'verified', 'failed'] }).notNull().default('verified'),
  /** The TXT token the tenant publishes at `_edgerag-challenge.<domain>`. */
  verificationToken: text('verification_token'),
  verifiedAt: text('verified_at'),
  /** Last DNS check (verifyDomain), whatever its outcome. */
  checkedAt: text('checked_at'),
  /** Why the last check failed (status `failed`). */
  failureReason: text('failure_reason'),
  createdBy: text('created_by'),
});

/**
 * Users an owner or admin removed from a tenant (migration 0014): their tokens are refused in
 * this tenant while the row exists. Apart from memberships so that erasure does not lift it.
 */
export const memberRemovals = sqliteTable(
  'member_removals',
  {
    tenantId: text('tenant_id').notNull(),
    userId: text('user_id').notNull(),
    /** The membership's role when the user was removed. */
    role: text('role', { enum: ['owner', 'admin', 'member', 'viewer'] }).notNull(),
    removedAt: text('removed_at').notNull().default(now),
    removedBy: text('removed_by').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.userId] })],
);

/** Development stand-in for DNS TXT records (DOMAIN_VERIFIER=local; never read in production). */
export const localDnsRecords = sqliteTable(
  'local_dns_records',
  {
    name: text('name').notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.name, t.value] })],
);

/**
 * Legacy global profiles keyed by JWT `sub` alone (one tenant's "hank" is not another's).
 * Since migration 0006 nothing reads or writes it: profiles live on the membership.
 */
export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  email: text('email'),
  name: text('name'),
  createdAt: text('created_at').notNull().default(now),
});

export const memberships = sqliteTable(
  'memberships',
  {
    tenantId: text('tenant_id').notNull(),
    userId: text('user_id').notNull(),
    role: text('role', { enum: ['owner', 'admin', 'member', 'viewer'] }).notNull(),
    createdAt: text('created_at').notNull().default(now),
    lastSeenAt: text('last_seen_at'),
    /** Profile of this user in this tenant (migration 0006); never shared across tenants. */
    email: text('email'),
    name: text('name'),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.userId] })],
);

export const apiKeys = sqliteTable('api_keys', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  name: text('name').notNull(),
  /** Public, unique lookup handle: `erk_<prefix>_<secret>`. */
  prefix: text('prefix').notNull().unique(),
  /** SHA-256 (hex) of the secret part; the secret itself is never stored. */
  secretHash: text('secret_hash').notNull(),
  /** JSON array of scopes: search | chat | ingest | admin. */
  scopes: text('scopes').notNull(),
  rateLimitPerMinute: integer('rate_limit_per_minute'),
  expiresAt: text('expires_at'),
  lastUsedAt: text('last_used_at'),
  revokedAt: text('revoked_at'),
  createdBy: text('created_by'),
  createdAt: text('created_at').notNull().default(now),
  /** JSON array of collection ids the key is restricted to; null = unrestricted (migration 0008). */
  collectionIds: text('collection_ids'),
  /** JSON array of agent ids the key may ask through; null = unrestricted (migration 0008). */
  agentIds: text('agent_ids'),
});

export const collections = sqliteTable('collections', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  name: text('name').notNull(),
  description: text('description'),
  createdAt: text('created_at').notNull().default(now),
});

/**
 * Documents. A name is unique within a collection, and among the tenant's documents without
 * one: UNIQUE INDEX documents_tenant_collection_name_idx ON (tenant_id, ifnull(collection_id, ''),
 * name) (migration 0003; NULLs never collide in a UNIQUE index, hence the ifnull). Ingestion
 * relies on it: of two concurrent first ingests of one name, the second insert is a conflict.
 * The other indexes are in migrations/ only; this file lists none of them.
 */
export const documents = sqliteTable('documents', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  collectionId: text('collection_id'),
  name: text('name').notNull(),
  /** text | file | url */
  sourceType: text('source_type').notNull(),
  mimeType: text('mime_type').notNull().default('text/plain'),
  sourceUrl: text('source_url'),
  contentHash: text('content_hash').notNull(),
  status: text('status', { enum: ['pending', 'processing', 'completed', 'failed'] }).notNull().default('pending'),
  error: text('error'),
  chunkCount: integer('chunk_count').notNull().default(0),
  sizeBytes: integer('size_bytes').notNull().default(0),
  /**
   * UTF-8 bytes of the visible version's chunk texts (migration 0004): derived storage,
   * counted against the plan's storedBytes with size_bytes; 0 until a version completes.
   */
  indexedBytes: integer('indexed_bytes').notNull().default(0),
  /** JSON array of strings. */
  tags: text('tags').notNull().default('[]'),
  /** JSON object supplied by the client. */
  metadata: text('metadata').notNull().default('{}'),
  /**
   * R2 key of the newest accepted original: `<tenant_id>/<document_id>/<version>-<nonce>` (keys
   * written before the nonce are `<tenant_id>/<document_id>/<version>`). Every write attempt has
   * its own key, so two concurrent replacements never write the same object; replacing is a
   * compare-and-set on this column.
   */
  objectKey: text('object_key'),
  /** Bumped on every replacement so late queue messages for an old version are ignored. */
  version: integer('version').notNull().default(1),
  attempts: integer('attempts').notNull().default(0),
  createdBy: text('created_by'),
  createdAt: text('created_at').notNull().default(now),
  updatedAt: text('updated_at').notNull().default(now),
});

export const chunks = sqliteTable('chunks', {
  /** Integer rowid: also the FTS5 content rowid and the basis of the vector id. */
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  id: text('id').notNull().unique(),
  tenantId: text('tenant_id').notNull(),
  documentId: text('document_id').notNull(),
  /** Document version the chunk belongs to; only the document's current version is visible. */
  version: integer('version').notNull().default(1),
  chunkIndex: integer('chunk_index').notNull(),
  text: text('text').notNull(),
  page: integer('page'),
  heading: text('heading'),
  tokenCount: integer('token_count').notNull().default(0),
  createdAt: text('created_at').notNull().default(now),
});

export const conversations = sqliteTable('conversations', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  /** Owner: `user:<sub>` or `key:<api key id>`. */
  ownerId: text('owner_id').notNull(),
  title: text('title'),
  createdAt: text('created_at').notNull().default(now),
  updatedAt: text('updated_at').notNull().default(now),
  /** The agent that answers in this conversation; null = tenant defaults. Kept after the agent is deleted. */
  agentId: text('agent_id'),
});

export const messages = sqliteTable('messages', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  conversationId: text('conversation_id').notNull(),
  /** user | assistant */
  role: text('role').notNull(),
  content: text('content').notNull(),
  /** JSON array of stored sources (chunk id, document id, score, text, page). */
  sources: text('sources').notNull().default('[]'),
  model: text('model'),
  promptTokens: integer('prompt_tokens').notNull().default(0),
  completionTokens: integer('completion_tokens').notNull().default(0),
  createdAt: text('created_at').notNull().default(now),
  /** The conversation's agent when the message was written (null = tenant defaults). */
  agentId: text('agent_id'),
});

/**
 * Agents (migration 0008): per-tenant assistants. A null behaviour column inherits the
 * tenant's settings; `knowledge` is a JSON array of collection ids (empty = every collection
 * the caller may see). UNIQUE INDEX agents_tenant_slug_idx ON (tenant_id, slug).
 */
export const agents = sqliteTable('agents', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  slug: text('slug').notNull(),
  name: text('name').notNull(),
  description: text('description'),
  systemPrompt: text('system_prompt'),
  chatModel: text('chat_model'),
  temperature: real('temperature'),
  maxTokens: integer('max_tokens'),
  retrievalMode: text('retrieval_mode', { enum: ['VECTOR', 'KEYWORD', 'HYBRID'] }),
  retrievalTopK: integer('retrieval_top_k'),
  knowledge: text('knowledge').notNull().default('[]'),
  active: integer('active', { mode: 'boolean' }).notNull().default(true),
  createdBy: text('created_by'),
  createdAt: text('created_at').notNull().default(now),
  updatedAt: text('updated_at').notNull().default(now),
});

/**
 * A tenant's own OpenAI-compatible provider (docs/chat.md "Bring your own provider"); no row
 * = the deployment's. The key is sealed (src/lib/secret-box.ts) and never read back by the API.
 */
export const tenantModelProviders = sqliteTable('tenant_model_providers', {
  tenantId: text('tenant_id').primaryKey(),
  baseUrl: text('base_url').notNull(),
  apiKeySealed: text('api_key_sealed').notNull(),
  keyId: text('key_id').notNull(),
  keyLast4: text('key_last4').notNull(),
  /** JSON array; the first is the default chat model. */
  chatModels: text('chat_models').notNull().default('[]'),
  embeddingModel: text('embedding_model').notNull(),
  embeddingDimensions: integer('embedding_dimensions').notNull(),
  setBy: text('set_by').notNull(),
  keySetAt: text('key_set_at').notNull().default(now),
  updatedAt: text('updated_at').notNull().default(now),
});

/** A tenant's webhook (docs/guard.md "Webhooks"); the signing secret is sealed and never read back by the API. */
export const tenantWebhooks = sqliteTable('tenant_webhooks', {
  tenantId: text('tenant_id').primaryKey(),
  id: text('id').notNull(),
  url: text('url').notNull(),
  /** JSON array of event types (document.completed, document.failed, quota.threshold). */
  events: text('events').notNull().default('[]'),
  secretSealed: text('secret_sealed').notNull(),
  keyId: text('key_id').notNull(),
  createdBy: text('created_by').notNull(),
  createdAt: text('created_at').notNull().default(now),
  updatedAt: text('updated_at').notNull().default(now),
});

/** One event for a tenant's webhook and its delivery state (the queue job's outbox). */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    tenantId: text('tenant_id').notNull(),
    id: text('id').notNull(),
    webhookId: text('webhook_id').notNull(),
    event: text('event').notNull(),
    payload: text('payload').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    responseStatus: integer('response_status'),
    error: text('error'),
    createdAt: text('created_at').notNull().default(now),
    lastAttemptAt: text('last_attempt_at'),
    nextAttemptAt: text('next_attempt_at'),
    deliveredAt: text('delivered_at'),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] })],
);

/**
 * A tenant's embedding generations (migration 0016, docs/retrieval.md "Embedding generations"):
 * the model and provider each vector space was made with; one `active`, at most one `building`
 * (the re-embedding job, with its progress). base_url NULL = the deployment's provider.
 */
export const tenantEmbedders = sqliteTable(
  'tenant_embedders',
  {
    tenantId: text('tenant_id').notNull(),
    generation: integer('generation').notNull(),
    status: text('status', { enum: ['active', 'building', 'retired', 'superseded', 'failed'] }).notNull(),
    model: text('model').notNull(),
    dimensions: integer('dimensions').notNull(),
    baseUrl: text('base_url'),
    apiKeySealed: text('api_key_sealed'),
    keyId: text('key_id'),
    reason: text('reason', { enum: ['recorded', 'provider', 'deployment'] }).notNull().default('recorded'),
    previousGeneration: integer('previous_generation'),
    done: integer('done').notNull().default(0),
    total: integer('total').notNull().default(0),
    /** The last chunk `seq` the job embedded (or, cleaning, deleted). */
    cursor: integer('cursor'),
    error: text('error'),
    attempts: integer('attempts').notNull().default(0),
    cleaned: integer('cleaned', { mode: 'boolean' }).notNull().default(false),
    createdAt: text('created_at').notNull().default(now),
    updatedAt: text('updated_at').notNull().default(now),
    finishedAt: text('finished_at'),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.generation] })],
);

/** Monthly aggregates written by the TenantGuard alarm (absolute values: a retried flush is idempotent). */
export const usage = sqliteTable(
  'usage',
  {
    tenantId: text('tenant_id').notNull(),
    /** Calendar month, UTC: YYYY-MM. */
    period: text('period').notNull(),
    requests: integer('requests').notNull().default(0),
    asks: integer('asks').notNull().default(0),
    embeddingTokens: integer('embedding_tokens').notNull().default(0),
    promptTokens: integer('prompt_tokens').notNull().default(0),
    completionTokens: integer('completion_tokens').notNull().default(0),
    documents: integer('documents').notNull().default(0),
    storedBytes: integer('stored_bytes').notNull().default(0),
    rateLimited: integer('rate_limited').notNull().default(0),
    updatedAt: text('updated_at').notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.period] })],
);

export const auditLog = sqliteTable('audit_log', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  /** `user:<sub>`, `key:<id>` or `platform:<sub>`. */
  actor: text('actor').notNull(),
  action: text('action').notNull(),
  targetType: text('target_type'),
  targetId: text('target_id'),
  /** JSON details (never secrets). */
  details: text('details').notNull().default('{}'),
  requestId: text('request_id'),
  createdAt: text('created_at').notNull().default(now),
});

/** libSQL tenant databases: URL and token as AES-GCM ciphertext under ENCRYPTION_KEY (migration 0009). */
export const tenantDatabases = sqliteTable('tenant_databases', {
  name: text('name').primaryKey(),
  kind: text('kind', { enum: ['libsql'] }).notNull(),
  urlCiphertext: text('url_ciphertext').notNull(),
  tokenCiphertext: text('token_ciphertext').notNull(),
  keyId: text('key_id').notNull(),
  createdAt: text('created_at').notNull().default(now),
});

/** Resumable moveTenant jobs (src/placement/move.ts). */
export const tenantMoves = sqliteTable('tenant_moves', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  source: text('source').notNull(),
  target: text('target').notNull(),
  step: text('step', { enum: ['fence', 'copy', 'vectors', 'originals', 'verify', 'switch', 'cleanup', 'done', 'failed'] }).notNull(),
  /** JSON MoveState: progress and the verification figures. */
  state: text('state').notNull().default('{}'),
  error: text('error'),
  actor: text('actor').notNull(),
  requestId: text('request_id'),
  createdAt: text('created_at').notNull().default(now),
  updatedAt: text('updated_at').notNull().default(now),
  finishedAt: text('finished_at'),
});

/** A move's write fence, in the tenant's source database (triggers of migration 0009). */
export const tenantFences = sqliteTable('tenant_fences', {
  tenantId: text('tenant_id').primaryKey(),
  moveId: text('move_id').notNull(),
  reason: text('reason', { enum: ['moving', 'moved'] }).notNull(),
  createdAt: text('created_at').notNull().default(now),
});

export type TenantRow = typeof tenants.$inferSelect;
export type TenantMoveRow = typeof tenantMoves.$inferSelect;
export type TenantDatabaseRow = typeof tenantDatabases.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type CollectionRow = typeof collections.$inferSelect;
export type DocumentRow = typeof documents.$inferSelect;
export type ChunkRow = typeof chunks.$inferSelect;
export type ConversationRow = typeof conversations.$inferSelect;
export type MessageRow = typeof messages.$inferSelect;
export type UsageRow = typeof usage.$inferSelect;
export type AuditRow = typeof auditLog.$inferSelect;
export type MembershipRow = typeof memberships.$inferSelect;
export type TenantDomainRow = typeof tenantDomains.$inferSelect;
export type MemberRemovalRow = typeof memberRemovals.$inferSelect;
export type AgentRow = typeof agents.$inferSelect;
export type ModelProviderRow = typeof tenantModelProviders.$inferSelect;
export type WebhookRow = typeof tenantWebhooks.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
export type EmbedderRow = typeof tenantEmbedders.$inferSelect;


/** deleteTenant jobs (src/lifecycle/tenant-deletion.ts, migration 0013); kept after the purge with its receipt. */
export const tenantDeletions = sqliteTable('tenant_deletions', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  step: text('step', {
    enum: ['scheduled', 'fence', 'inventory', 'vectors', 'originals', 'rows', 'objects', 'catalogue', 'verify', 'purged', 'restored'],
  }).notNull(),
  previousStatus: text('previous_status', { enum: ['trial', 'active', 'suspended', 'cancelled'] }).notNull(),
  purgeAfter: text('purge_after').notNull(),
  /** JSON DeletionState: cursors and the inventory. */
  state: text('state').notNull().default('{}'),
  /** JSON: counts removed per store, once purged. */
  receipt: text('receipt'),
  error: text('error'),
  actor: text('actor').notNull(),
  requestId: text('request_id'),
  createdAt: text('created_at').notNull().default(now),
  updatedAt: text('updated_at').notNull().default(now),
  finishedAt: text('finished_at'),
});

/** Tenant exports (src/lifecycle/tenant-export.ts, migration 0013): one ZIP archive in the tenant's bucket each. */
export const tenantExports = sqliteTable('tenant_exports', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  status: text('status', { enum: ['pending', 'running', 'completed', 'failed'] }).notNull(),
  objectKey: text('object_key').notNull(),
  /** JSON ExportProgress. */
  progress: text('progress').notNull().default('{}'),
  bytes: integer('bytes').notNull().default(0),
  error: text('error'),
  actor: text('actor').notNull(),
  requestId: text('request_id'),
  createdAt: text('created_at').notNull().default(now),
  updatedAt: text('updated_at').notNull().default(now),
  finishedAt: text('finished_at'),
});

export type TenantDeletionRow = typeof tenantDeletions.$inferSelect;
export type TenantExportRow = typeof tenantExports.$inferSelect;
