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
  /**
   * Collections the credential is restricted to (API key `collectionIds`, JWT claim
   * `collection_ids`); null = every collection of the tenant. Outside them the tenant's
   * data behaves as if it did not exist (docs/agents.md).
   */
  collectionIds: string[] | null;
  /** Agents the credential may ask through (API key `agentIds`, JWT claim `agent_ids`); null = any. */
  agentIds: string[] | null;
}

/** Most ids a restriction may name (API key input and JWT claims alike). */
export const MAX_RESTRICTION_IDS = 50;

/** True when the credential is limited to some collections or agents. */
export function isRestricted(p: Pick<Principal, 'collectionIds' | 'agentIds'>): boolean {
  return p.collectionIds !== null || p.agentIds !== null;
}

/** `user:<sub>` / `key:<id>`: the actor written to audit rows and conversation owners. */
export function actorId(p: Principal): string {
  if (p.kind === 'apiKey') return `key:${p.apiKeyId}`;
  return `${p.platformAdmin && !p.tenantRef ? 'platform' : 'user'}:${p.userId}`;
}

export const roleAtLeast = (role: Role, min: Role): boolean => ROLES.indexOf(role) >= ROLES.indexOf(min);
