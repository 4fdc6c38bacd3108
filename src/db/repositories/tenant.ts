import { eq } from 'drizzle-orm';
import { AppError } from '../../lib/errors';
import { nowIso } from '../../lib/ids';
import { tenants, type TenantRow } from '../schema';
import type { TenantScope } from '../tenant-scope';

/** What a tenant's admins may change about their own tenant (DESIGN §3 settings). */
export interface TenantSettings {
  systemPrompt?: string | null;
  allowedOrigins?: string[];
  chatModel?: string | null;
  temperature?: number | null;
  retrievalTopK?: number | null;
  retrievalMode?: 'VECTOR' | 'KEYWORD' | 'HYBRID' | null;
  /** HYBRID fusion weights for search and ask (src/rag/fusion.ts); null: the embedding provider's default. */
  retrievalWeights?: { keyword: number; vector: number } | null;
  /** search's cap on chunks per document (src/rag/diversity.ts); null: the default (2). */
  searchMaxChunksPerDocument?: number | null;
  /** Rerank search and ask candidates when RERANK_URL is configured; null: off. */
  rerank?: boolean | null;
  /** The tenant's own monthly token caps, at most its plan's (setSpendCaps; src/objects/admission-rules.ts). */
  spendCaps?: { monthlyPromptTokens?: number; monthlyCompletionTokens?: number } | null;
}

/** A change to the settings: an absent (undefined) key keeps its value, null resets it to its default. */
export type TenantSettingsPatch = { [K in keyof TenantSettings]?: TenantSettings[K] | null };

export function parseSettings(row: TenantRow): TenantSettings {
  try {
    return JSON.parse(row.settings) as TenantSettings;
  } catch {
    return {};
  }
}

export class TenantRepo {
  constructor(private readonly scope: TenantScope) {}

  get(): TenantSettings {
    return parseSettings(this.scope.tenant);
  }

  /** Applies `patch`: undefined keeps a setting, null removes it (so its default applies again). */
  async update(patch: TenantSettingsPatch): Promise<TenantRow> {
    this.scope.requireUnrestricted('change tenant settings');
    const { catalogue: db, tenantId, tenant } = this.scope;
    const merged: Record<string, unknown> = { ...parseSettings(tenant) };
    const set: string[] = [];
    const reset: string[] = [];
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      if (v === null) {
        delete merged[k];
        reset.push(k);
      } else {
        merged[k] = v;
        set.push(k);
      }
    }
    const json = JSON.stringify(merged);
    if (json.length > 32_768) throw new AppError('BAD_USER_INPUT', 'settings are larger than 32 KiB');
    const updatedAt = nowIso();
    await this.scope.writeAudited([db.update(tenants).set({ settings: json, updatedAt }).where(eq(tenants.id, tenantId))], {
      action: 'tenant.settings.update', targetType: 'tenant', targetId: tenantId, details: { keys: set, reset },
    }, db);
    return { ...tenant, settings: json, updatedAt };
  }
}
