/**
 * The tenant's own model provider record (DESIGN §14). The sealed key is written and read
 * here as opaque text: sealing and opening happen in src/ai/provider-settings.ts, so this
 * repository never sees a plaintext key. Writes are audited in the same batch; the audit
 * details name the base URL, models and the key's last four characters, never the key.
 */
import { eq } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { nowIso } from '../../lib/ids';
import { tenantModelProviders, type ModelProviderRow } from '../schema';
import type { TenantScope } from '../tenant-scope';
import { switchWrite } from './embedders';

export interface ModelProviderWrite {
  baseUrl: string;
  apiKeySealed: string;
  keyId: string;
  keyLast4: string;
  chatModels: string[];
  embeddingModel: string;
  embeddingDimensions: number;
}

/** The chat models of a stored record (a JSON array), failing closed on anything else. */
export function chatModelsOf(row: Pick<ModelProviderRow, 'chatModels'>): string[] {
  const list = JSON.parse(row.chatModels) as unknown;
  if (!Array.isArray(list) || list.length === 0 || list.some((m) => typeof m !== 'string')) {
    throw new Error('tenant_model_providers.chat_models is not a non-empty JSON array of names');
  }
  return list as string[];
}

/** The tenant's own model provider lives in the catalogue beside its settings (a sealed credential, like libSQL's). */
export class ModelProviderRepo {
  constructor(private readonly scope: TenantScope) {}

  async get(): Promise<ModelProviderRow | null> {
    const { catalogue: db, tenantId } = this.scope;
    const rows = await db.select().from(tenantModelProviders).where(eq(tenantModelProviders.tenantId, tenantId)).limit(1);
    return rows[0] ?? null;
  }

  /**
   * Inserts or replaces the record (one row per tenant), audited. `with` are catalogue
   * statements of the same change (the embedding switch it starts), in the same batch;
   * `embedding` names what happened to the embedding, for the audit row.
   */
  async set(w: ModelProviderWrite, withStatements: BatchItem<'sqlite'>[] = [], embedding = 'none'): Promise<ModelProviderRow> {
    this.scope.requireUnrestricted('change the model provider');
    const { catalogue: db, tenantId, actor } = this.scope;
    const at = nowIso();
    const row: ModelProviderRow = {
      tenantId, baseUrl: w.baseUrl, apiKeySealed: w.apiKeySealed, keyId: w.keyId, keyLast4: w.keyLast4,
      chatModels: JSON.stringify(w.chatModels), embeddingModel: w.embeddingModel, embeddingDimensions: w.embeddingDimensions,
      setBy: actor, keySetAt: at, updatedAt: at,
    };
    await switchWrite(() => this.scope.writeAudited(
      [...withStatements, db.insert(tenantModelProviders).values(row).onConflictDoUpdate({ target: tenantModelProviders.tenantId, set: { ...row, tenantId: undefined } })],
      {
        action: 'tenant.model_provider.set', targetType: 'tenant', targetId: tenantId,
        details: { baseUrl: w.baseUrl, chatModels: w.chatModels, embeddingModel: w.embeddingModel, embeddingDimensions: w.embeddingDimensions, keyLast4: w.keyLast4, keyId: w.keyId, embeddingSwitch: embedding },
      },
      db,
    ));
    return row;
  }

  /** Removes the record (the deployment's provider applies again); true if there was one. */
  async clear(withStatements: BatchItem<'sqlite'>[] = [], embedding = 'none'): Promise<boolean> {
    this.scope.requireUnrestricted('change the model provider');
    const { catalogue: db, tenantId } = this.scope;
    const existing = await this.get();
    if (!existing) return false;
    await switchWrite(() => this.scope.writeAudited([...withStatements, db.delete(tenantModelProviders).where(eq(tenantModelProviders.tenantId, tenantId))], {
      action: 'tenant.model_provider.clear', targetType: 'tenant', targetId: tenantId, details: { baseUrl: existing.baseUrl, keyLast4: existing.keyLast4, embeddingSwitch: embedding },
    }, db));
    return true;
  }
}
