/** Who is calling, as established by a verified credential. */
export type Role = 'owner' | 'admin' | 'member' | 'viewer';
export const ROLES: readonly Role[] = ['viewer', 'member', 'admin', 'owner'];
export type ApiKeyScope = 'search' | 'chat' | 'ingest' | 'admin';
export const API_KEY_SCOPES: readonly ApiKeyScope[] = ['search', 'chat', 'ingest', 'admin'];

export interface Principal {
  kind: 'user' | 'apiKey';
  /** Tenant id or slug as the credential names it (a platform admin may have none). */
  tenantRef: string | null;
  userId: string | null;
  apiKeyId: string | null;
  role: Role;
  /** JWT `scope` claim split on spaces, or the API key's scopes. */
  scopes: string[];
  platformAdmin: boolean;
  /** Per-key token bucket size, when the API key sets one. */
  rateLimitPerMinute: number | null;
}

/** `user:<sub>` / `key:<id>`: the actor written to audit rows and conversation owners. */
export function actorId(p: Principal): string {
  if (p.kind === 'apiKey') return `key:${p.apiKeyId}`;
  return `${p.platformAdmin && !p.tenantRef ? 'platform' : 'user'}:${p.userId}`;
}

export const roleAtLeast = (role: Role, min: Role): boolean => ROLES.indexOf(role) >= ROLES.indexOf(min);
