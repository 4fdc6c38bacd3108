/**
 * Turns the request's credential into what admission needs (DESIGN §4), from the isolate's
 * directory where it can: a JWT is verified here entirely (its claims are the principal);
 * an API key's secret is checked here against the immutable hash the directory holds, and
 * what may change about the key (scopes, expiry, revocation) is left to the tenant's guard.
 */
import type { KeyGrant } from '../db/admission-store';
import type { PlatformStore } from '../db/platform-store';
import type { Config } from '../env';
import { AppError } from '../lib/errors';
import { parseApiKey, secretMatches } from './api-keys';
import type { Directory } from './directory';
import { verifyJwt } from './jwt';
import type { Principal } from './principal';

export function credentialFrom(request: Request): string | null {
  const auth = request.headers.get('authorization');
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (!m) throw new AppError('UNAUTHENTICATED', 'Authorization must be "Bearer <token>"');
    return m[1]!;
  }
  return request.headers.get('x-api-key')?.trim() || null;
}

/** A checked credential: a JWT's principal, or an API key whose secret matched (its grant comes from the guard). */
export type Identity =
  | { kind: 'jwt'; principal: Principal; tenantId: string | null }
  | { kind: 'apiKey'; keyId: string; tenantId: string };

export interface IdentifyDeps {
  config: Config;
  platform: PlatformStore;
  directory: Directory;
  /** Called before a lookup the directory cannot answer from memory (the pre-auth limit). */
  beforeLookup: () => Promise<void>;
}

/** Checks the credential; throws UNAUTHENTICATED. D1 is asked only for names this isolate has not seen. */
export async function identify(request: Request, deps: IdentifyDeps): Promise<Identity> {
  const credential = credentialFrom(request);
  if (!credential) throw new AppError('UNAUTHENTICATED', 'Send Authorization: Bearer <JWT or API key>');
  if (credential.startsWith('erk_')) {
    const parsed = parseApiKey(credential);
    if (!parsed) throw new AppError('UNAUTHENTICATED', 'API key is invalid');
    if (!deps.directory.cachedKey(parsed.prefix)) await deps.beforeLookup();
    const entry = await deps.directory.apiKey(deps.platform, parsed.prefix);
    if (!(await secretMatches(entry?.secretHash ?? null, parsed.secret)) || !entry) throw new AppError('UNAUTHENTICATED', 'API key is invalid');
    return { kind: 'apiKey', keyId: entry.id, tenantId: entry.tenantId };
  }
  const principal = await verifyJwt(credential, deps.config);
  let tenantId: string | null = null;
  if (principal.tenantRef) {
    // The token is signed: its tenant reference is not a guess, so no pre-auth unit is spent.
    tenantId = await deps.directory.tenantIdOfRef(deps.platform, principal.tenantRef);
    if (!tenantId) throw new AppError('UNAUTHENTICATED', 'The credential names no known tenant');
  }
  return { kind: 'jwt', principal, tenantId };
}

/** The principal of an API key the guard has admitted. */
export function keyPrincipal(grant: KeyGrant): Principal {
  return {
    kind: 'apiKey',
    tenantRef: grant.tenantId,
    userId: null,
    apiKeyId: grant.id,
    // Keys act as members; the admin scope lifts them to admin (key and settings management).
    role: grant.scopes.includes('admin') ? 'admin' : 'member',
    scopes: grant.scopes,
    platformAdmin: false,
    rateLimitPerMinute: grant.rateLimitPerMinute,
    collectionIds: grant.collectionIds,
    agentIds: grant.agentIds,
  };
}
