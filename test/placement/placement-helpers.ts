/** Helpers for placement tests: the local databases and platform-admin calls. */
import { env } from 'cloudflare:test';
import { gql, signToken } from '../helpers';

/** The local D1 database behind each configured placement (wrangler.toml PLACEMENTS). */
export const DATABASES: Record<string, D1Database> = {
  shared: env.DB,
  'regional:eu': env.DB_EU!,
  'dedicated:d1-1': env.DB_DEDICATED_1!,
};

export const platformToken = () => signToken({ platform_admin: true, role: 'owner' }, { sub: 'operator' });

/** Rows of `table` for the tenant in each database, by placement id. */
export async function rowsByDatabase(table: string, tenantId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [placement, db] of Object.entries(DATABASES)) {
    out[placement] = (await db.prepare(`SELECT count(*) AS n FROM ${table} WHERE tenant_id = ?`).bind(tenantId).first<{ n: number }>())!.n;
  }
  return out;
}

export async function createTenantAs(input: Record<string, unknown>) {
  return gql(
    'mutation($input: CreateTenantInput!) { createTenant(input: $input) { id slug region tier placement } }',
    { input: { name: 'Placed Co', ...input } },
    { token: await platformToken() },
  );
}

export const uniqueSlug = (p: string) => `${p}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
