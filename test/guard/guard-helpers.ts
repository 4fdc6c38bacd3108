/** Helpers for the TenantGuard tests: reach a tenant's object and drive its clock. */
import { env, runInDurableObject } from 'cloudflare:test';
import type { TenantGuard } from '../../src/objects/tenant-guard';

/** 2026-01-15T12:00:00Z: a fixed instant in the middle of a month. */
export const MID_JANUARY = Date.UTC(2026, 0, 15, 12, 0, 0);

export function guardStub(tenantId: string): DurableObjectStub<TenantGuard> {
  return env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenantId));
}

/** Freezes the object's clock at `ms` (time moves only when a test says so: no sleeps). */
export async function setClock(tenantId: string, ms: number): Promise<void> {
  await runInDurableObject(guardStub(tenantId), (g: TenantGuard) => {
    g.clock = () => ms;
  });
}

/** The D1 `usage` row the alarm flushed for a tenant and month, if any. */
export async function usageRow(tenantId: string, period: string) {
  return env.DB.prepare('SELECT * FROM usage WHERE tenant_id = ? AND period = ?').bind(tenantId, period).first<Record<string, number | string>>();
}

export const VIEWER = '{ viewer { role } }';
