/**
 * TenantScope: the only door to tenant data (DESIGN §3). It is built by the tenant session
 * (src/tenant-session.ts) from the verified credential's tenant and handed to resolvers and
 * services. Every repository it exposes adds `tenant_id = ?` to every statement; the vector
 * namespace is the tenant id. Nothing else in src/ may query tenant-owned tables.
 *
 * Two handles (DESIGN §11): `db`, the tenant's placement database (collections, documents,
 * chunks, conversations, messages and their audit rows), and `catalogue`, the global
 * database (the tenant row and its settings, API keys, memberships, domains). For a `shared` tenant
 * both are DB. Which database a repository uses is fixed here, never chosen by a caller.
 */
import { getTableColumns, is, SQL, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { Principal } from '../auth/principal';
import { actorId, isRestricted } from '../auth/principal';
import { AppError } from '../lib/errors';
import { newId } from '../lib/ids';
import type { Database } from './client';
import { AgentsRepo } from './repositories/agents';
import { ApiKeysRepo } from './repositories/api-keys';
import { ChunksRepo } from './repositories/chunks';
import { CollectionsRepo } from './repositories/collections';
import { ConversationsRepo } from './repositories/conversations';
import { DocumentsRepo } from './repositories/documents';
import { DomainsRepo } from './repositories/domains';
import { ErasureRepo } from './repositories/erasure';
import { ChatUsageRepo } from './repositories/chat-usage';
import { MembersRepo } from './repositories/members';
import { ModelProviderRepo } from './repositories/model-provider';
import { WebhooksRepo } from './repositories/webhooks';
import { EmbeddersRepo } from './repositories/embedders';
import { AuditRepo } from './repositories/audit';
import { TenantRepo } from './repositories/tenant';
import { auditLog, type TenantRow } from './schema';

export interface AuditEntry {
  action: string;
  targetType?: string;
  targetId?: string;
  details?: Record<string, unknown>;
}

export class TenantScope {
  readonly tenantId: string;
  readonly collections: CollectionsRepo;
  readonly documents: DocumentsRepo;
  readonly chunks: ChunksRepo;
  readonly apiKeys: ApiKeysRepo;
  readonly members: MembersRepo;
  readonly audit: AuditRepo;
  readonly settings: TenantRepo;
  readonly conversations: ConversationsRepo;
  /** The tenant's own model provider (sealed key), DESIGN §14. */
  readonly modelProvider: ModelProviderRepo;
  /** The tenant's webhook and its delivery outbox (issue 15). */
  readonly webhooks: WebhooksRepo;
  /** Embedding generations and the re-embedding job (catalogue). */
  readonly embedders: EmbeddersRepo;
  readonly agents: AgentsRepo;
  /** Per-person erasure (issue 15). */
  readonly erasure: ErasureRepo;
  /** Asks and tokens per person / API key, from stored messages (issue 15). */
  readonly chatUsage: ChatUsageRepo;
  /** Custom domains (catalogue), issue 15. */
  readonly domains: DomainsRepo;
  /**
   * Collections the principal may reach (null = all of the tenant's). Every repository that
   * reads collections, documents or chunks applies it in SQL (src/db/repositories/restriction.ts).
   */
  readonly allowedCollections: readonly string[] | null;
  /** Agents the principal may see and ask through (null = all). */
  readonly allowedAgents: readonly string[] | null;

  constructor(
    readonly db: Database,
    readonly tenant: TenantRow,
    readonly principal: Principal,
    readonly requestId: string,
    /** The global catalogue; the same handle as `db` for a shared tenant. */
    readonly catalogue: Database = db,
  ) {
    this.tenantId = tenant.id;
    this.collections = new CollectionsRepo(this);
    this.documents = new DocumentsRepo(this);
    this.chunks = new ChunksRepo(this);
    this.apiKeys = new ApiKeysRepo(this);
    this.members = new MembersRepo(this);
    this.audit = new AuditRepo(this);
    this.settings = new TenantRepo(this);
    this.conversations = new ConversationsRepo(this);
    this.modelProvider = new ModelProviderRepo(this);
    this.webhooks = new WebhooksRepo(this);
    this.embedders = new EmbeddersRepo(this);
    this.agents = new AgentsRepo(this);
    this.erasure = new ErasureRepo(this);
    this.chatUsage = new ChatUsageRepo(this);
    this.domains = new DomainsRepo(this);
    this.allowedCollections = principal.collectionIds;
    this.allowedAgents = principal.agentIds;
  }

  /** True when the principal is limited to some collections or agents. */
  get restricted(): boolean {
    return isRestricted(this.principal);
  }

  /**
   * Tenant administration (keys, members, settings, agents, the audit log, new collections)
   * spans every collection, so a restricted credential may not do it: FORBIDDEN.
   */
  requireUnrestricted(what: string): void {
    if (this.restricted) throw new AppError('FORBIDDEN', `A credential restricted to collections or agents cannot ${what}`);
  }

  /** Vector namespace for this tenant in the shared index (DESIGN §3). */
  get vectorNamespace(): string {
    return this.tenantId;
  }

  get actor(): string {
    return actorId(this.principal);
  }

  /**
   * An audit_log insert to put in the same batch() as the change it records (DESIGN §9).
   * With `onlyIf` the row is written only when that condition holds when the statement runs:
   * placed after a conditional change (an insert that may conflict, a compare-and-set) and
   * given a condition that is true exactly when the change happened, it records only
   * changes that took place.
   */
  auditStatement(entry: AuditEntry, onlyIf?: SQL, db: Database = this.db): BatchItem<'sqlite'> {
    const row: typeof auditLog.$inferInsert = {
      id: newId(),
      tenantId: this.tenantId,
      actor: this.actor,
      action: entry.action,
      targetType: entry.targetType ?? null,
      targetId: entry.targetId ?? null,
      details: JSON.stringify(entry.details ?? {}),
      requestId: this.requestId,
    };
    if (!onlyIf) return db.insert(auditLog).values(row);
    // INSERT … SELECT <values> WHERE <condition>: drizzle lists every column in table order,
    // so the values follow that order (a column not given takes its SQL default).
    const given = row as Record<string, unknown>;
    const values = Object.entries(getTableColumns(auditLog)).map(([key, column]) =>
      given[key] !== undefined ? sql`${given[key]}` : is(column.default, SQL) ? column.default : sql`null`,
    );
    return db.insert(auditLog).select(sql`select ${sql.join(values, sql`, `)} where ${onlyIf}`);
  }

  /**
   * Runs the statements and the audit row as one transaction, in `db` (the tenant data
   * database unless the statements are the catalogue's: a batch never spans two databases).
   */
  async writeAudited(statements: BatchItem<'sqlite'>[], entry: AuditEntry, db: Database = this.db): Promise<void> {
    await db.batch([this.auditStatement(entry, undefined, db), ...statements]);
  }
}
