/**
 * Bookkeeping with the guard switched off (with it, the TenantGuard coalesces and flushes
 * it, src/objects/tenant-guard.ts): members' last_seen_at and keys' last_used_at, written
 * at most once per ACTIVITY_COALESCE_MS per user or key per isolate (and at once for a
 * first sighting or a new role), off the response path.
 */
import type { Principal, Role } from '../auth/principal';
import type { Database } from '../db/client';
import { PlatformStore } from '../db/platform-store';
import type { TenantRow } from '../db/schema';
import { TenantScope } from '../db/tenant-scope';
import { errorDetail, type Logger } from '../lib/log';
import { ACTIVITY_COALESCE_MS } from '../objects/guard-types';

const written = new Map<string, { at: number; role: Role | null }>();
const MAX_ENTRIES = 20_000;

export async function recordActivityDirect(db: Database, tenant: TenantRow, p: Principal, requestId: string, log: Logger): Promise<void> {
  const key = p.apiKeyId ? `${tenant.id}:key:${p.apiKeyId}` : p.userId && p.tenantRef ? `${tenant.id}:user:${p.userId}` : null;
  if (!key) return;
  const now = Date.now();
  const role = p.apiKeyId ? null : p.role;
  const last = written.get(key);
  if (last && last.role === role && now - last.at < ACTIVITY_COALESCE_MS) return;
  if (written.size >= MAX_ENTRIES) written.delete(written.keys().next().value as string);
  written.set(key, { at: now, role });
  try {
    if (p.apiKeyId) await new PlatformStore(db).touchApiKey(p.apiKeyId);
    else await new TenantScope(db, tenant, p, requestId).members.recordSeen(p.userId!, p.role);
  } catch (err) {
    written.delete(key);
    log.warn('activity bookkeeping failed', errorDetail(err));
  }
}
