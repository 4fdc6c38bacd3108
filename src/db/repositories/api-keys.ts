import { and, asc, eq, exists, isNull } from 'drizzle-orm';
import { generateApiKey } from '../../auth/api-keys';
import { MAX_RESTRICTION_IDS, type ApiKeyScope } from '../../auth/principal';
import { AppError } from '../../lib/errors';
import { newId, nowIso } from '../../lib/ids';
import { apiKeys, type ApiKeyRow } from '../schema';
import type { TenantScope } from '../tenant-scope';

export interface CreateApiKeyData {
  name: string;
  scopes: ApiKeyScope[];
  expiresAt?: Date | null;
  rateLimitPerMinute?: number | null;
  /** Restrict the key to these collections (null/undefined: unrestricted). */
  collectionIds?: string[] | null;
  /** Restrict the key to asking through these agents (null/undefined: unrestricted). */
  agentIds?: string[] | null;
}

/** API keys live in the catalogue: authentication finds them by prefix before any tenant is known. */
export class ApiKeysRepo {
  constructor(private readonly scope: TenantScope) {}

  async list(): Promise<ApiKeyRow[]> {
    const { catalogue: db, tenantId } = this.scope;
    this.scope.requireUnrestricted('manage API keys');
    return db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId)).orderBy(asc(apiKeys.createdAt), asc(apiKeys.id)).all();
  }

  async get(id: string): Promise<ApiKeyRow | null> {
    const { catalogue: db, tenantId } = this.scope;
    return (await db.select().from(apiKeys).where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.id, id))).get()) ?? null;
  }

  /** Creates a key; the returned token is the only time the secret exists outside the caller. */
  async create(data: CreateApiKeyData): Promise<{ row: ApiKeyRow; token: string }> {
    const name = data.name.trim();
    if (!name || name.length > 100) throw new AppError('BAD_USER_INPUT', 'name must be 1 to 100 characters', { field: 'name' });
    if (data.scopes.length === 0) throw new AppError('BAD_USER_INPUT', 'give at least one scope', { field: 'scopes' });
    if (data.expiresAt && data.expiresAt.getTime() <= Date.now()) {
      throw new AppError('BAD_USER_INPUT', 'expiresAt must be in the future', { field: 'expiresAt' });
    }
    const rpm = data.rateLimitPerMinute ?? null;
    if (rpm !== null && (!Number.isInteger(rpm) || rpm < 1 || rpm > 100_000)) {
      throw new AppError('BAD_USER_INPUT', 'rateLimitPerMinute must be from 1 to 100000', { field: 'rateLimitPerMinute' });
    }
    // A restricted admin key must not mint a key wider than itself, nor read others' restrictions.
    this.scope.requireUnrestricted('manage API keys');
    const collectionIds = await this.restriction(data.collectionIds, 'collectionIds', async (ids) => (await this.scope.collections.getMany(ids)).length, 'Collection');
    const agentIds = await this.restriction(data.agentIds, 'agentIds', async (ids) => (await Promise.all(ids.map((id) => this.scope.agents.get(id)))).filter(Boolean).length, 'Agent');
    const key = await generateApiKey();
    const row: ApiKeyRow = {
      id: newId(), tenantId: this.scope.tenantId, name, prefix: key.prefix, secretHash: key.secretHash,
      scopes: JSON.stringify([...new Set(data.scopes)]), rateLimitPerMinute: rpm,
      expiresAt: data.expiresAt ? data.expiresAt.toISOString() : null, lastUsedAt: null, revokedAt: null,
      createdBy: this.scope.actor, createdAt: nowIso(),
      collectionIds: collectionIds ? JSON.stringify(collectionIds) : null, agentIds: agentIds ? JSON.stringify(agentIds) : null,
    };
    await this.scope.writeAudited([this.scope.catalogue.insert(apiKeys).values(row)], {
      action: 'api_key.create', targetType: 'api_key', targetId: row.id,
      details: { name, scopes: data.scopes, ...(collectionIds ? { collectionIds } : {}), ...(agentIds ? { agentIds } : {}) },
    }, this.scope.catalogue);
    return { row, token: key.token };
  }

  /**
   * A restriction list given at creation: null/undefined = none; otherwise 1 to
   * MAX_RESTRICTION_IDS ids of this tenant (an unknown or foreign id is NOT_FOUND, the same
   * answer for both). An empty list is refused: it would read as "nothing" to some and
   * "everything" to others.
   */
  private async restriction(ids: string[] | null | undefined, field: string, found: (ids: string[]) => Promise<number>, what: string): Promise<string[] | null> {
    if (ids === null || ids === undefined) return null;
    const unique = [...new Set(ids.map((id) => id.trim()))];
    if (unique.length === 0) throw new AppError('BAD_USER_INPUT', `${field} must name at least one id: omit it for an unrestricted key`, { field });
    if (unique.some((id) => !id)) throw new AppError('BAD_USER_INPUT', `${field} must not contain an empty id`, { field });
    if (unique.length > MAX_RESTRICTION_IDS) throw new AppError('BAD_USER_INPUT', `${field} takes at most ${MAX_RESTRICTION_IDS} ids`, { field });
    if ((await found(unique)) !== unique.length) throw new AppError('NOT_FOUND', `${what} not found`, { field });
    return unique;
  }

  /**
   * Revokes a key of this tenant; a foreign or unknown id is NOT_FOUND. Idempotent: revoking
   * a revoked key returns it unchanged. The update is conditional (still unrevoked) and the
   * audit row is written under the same condition, so of concurrent revokes exactly one
   * records a revocation and all answer with the same revokedAt.
   */
  async revoke(id: string): Promise<ApiKeyRow> {
    const { catalogue: db, tenantId } = this.scope;
    this.scope.requireUnrestricted('manage API keys');
    const row = await this.get(id);
    if (!row) throw new AppError('NOT_FOUND', 'API key not found');
    if (row.revokedAt) return row;
    const revokedAt = nowIso();
    const unrevoked = and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.id, id), isNull(apiKeys.revokedAt));
    const [, updated] = await db.batch([
      this.scope.auditStatement({ action: 'api_key.revoke', targetType: 'api_key', targetId: id }, exists(db.select({ id: apiKeys.id }).from(apiKeys).where(unrevoked)), db),
      db.update(apiKeys).set({ revokedAt }).where(unrevoked).returning(),
    ]);
    if (updated[0]) return updated[0];
    // Another request revoked it (or it was deleted) between the read and the update.
    const now = await this.get(id);
    if (!now) throw new AppError('NOT_FOUND', 'API key not found');
    return now;
  }
}
