import { and, asc, eq, isNull } from 'drizzle-orm';
import { generateApiKey } from '../../auth/api-keys';
import type { ApiKeyScope } from '../../auth/principal';
import { AppError } from '../../lib/errors';
import { newId, nowIso } from '../../lib/ids';
import { apiKeys, type ApiKeyRow } from '../schema';
import type { TenantScope } from '../tenant-scope';

export interface CreateApiKeyData {
  name: string;
  scopes: ApiKeyScope[];
  expiresAt?: Date | null;
  rateLimitPerMinute?: number | null;
}

export class ApiKeysRepo {
  constructor(private readonly scope: TenantScope) {}

  async list(): Promise<ApiKeyRow[]> {
    const { db, tenantId } = this.scope;
    return db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId)).orderBy(asc(apiKeys.createdAt), asc(apiKeys.id)).all();
  }

  async get(id: string): Promise<ApiKeyRow | null> {
    const { db, tenantId } = this.scope;
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
    const key = await generateApiKey();
    const row: ApiKeyRow = {
      id: newId(), tenantId: this.scope.tenantId, name, prefix: key.prefix, secretHash: key.secretHash,
      scopes: JSON.stringify([...new Set(data.scopes)]), rateLimitPerMinute: rpm,
      expiresAt: data.expiresAt ? data.expiresAt.toISOString() : null, lastUsedAt: null, revokedAt: null,
      createdBy: this.scope.actor, createdAt: nowIso(),
    };
    await this.scope.writeAudited([this.scope.db.insert(apiKeys).values(row)], {
      action: 'api_key.create', targetType: 'api_key', targetId: row.id, details: { name, scopes: data.scopes },
    });
    return { row, token: key.token };
  }

  /** Revokes a key of this tenant; a foreign or unknown id is NOT_FOUND. Idempotent. */
  async revoke(id: string): Promise<ApiKeyRow> {
    const { db, tenantId } = this.scope;
    const row = await this.get(id);
    if (!row) throw new AppError('NOT_FOUND', 'API key not found');
    if (row.revokedAt) return row;
    const revokedAt = nowIso();
    await this.scope.writeAudited(
      [db.update(apiKeys).set({ revokedAt }).where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))],
      { action: 'api_key.revoke', targetType: 'api_key', targetId: id },
    );
    return { ...row, revokedAt };
  }
}
