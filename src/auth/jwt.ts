/**
 * JWT verification with jose (DESIGN §4, §9): HS256 with JWT_SECRET or RS256/ES256 via
 * JWKS_URL, algorithms pinned per key type (so an HS256 token can never be checked
 * against a public key, and `alg: none` is never accepted); `exp` required (jose
 * accepts tokens without it otherwise), `nbf` honoured, 30 s clock tolerance.
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../env';
import { AppError } from '../lib/errors';
import { INPUT_LIMITS } from '../lib/input';
import { MAX_RESTRICTION_IDS, ROLES, type Principal, type Role } from './principal';

const CLOCK_TOLERANCE_S = 30;
// One remote key set per URL for the isolate's life: jose caches keys and rate-limits refetches.
const jwksCache = new Map<string, JWTVerifyGetKey>();

function jwksFor(url: string): JWTVerifyGetKey {
  let set = jwksCache.get(url);
  if (!set) {
    set = createRemoteJWKSet(new URL(url));
    jwksCache.set(url, set);
  }
  return set;
}

// The HS256 key imported once per isolate (jose imports a raw secret on every verify otherwise).
const hmacKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();

function hmacKeyFor(secret: Uint8Array): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', secret as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    hmacKeys.set(secret, key);
  }
  return key;
}

const unauthenticated = (why: string) => new AppError('UNAUTHENTICATED', why);

/** Verifies a compact JWT and maps its claims to a Principal. Throws UNAUTHENTICATED. */
export async function verifyJwt(token: string, config: Config): Promise<Principal> {
  const header = decodeHeader(token);
  const common = {
    requiredClaims: ['exp'],
    clockTolerance: CLOCK_TOLERANCE_S,
    ...(config.jwt.issuer ? { issuer: config.jwt.issuer } : {}),
    ...(config.jwt.audience ? { audience: config.jwt.audience } : {}),
  };
  let payload: JWTPayload;
  try {
    if (header.alg === 'HS256' && config.jwt.secret) {
      ({ payload } = await jwtVerify(token, await hmacKeyFor(config.jwt.secret), { ...common, algorithms: ['HS256'] }));
    } else if ((header.alg === 'RS256' || header.alg === 'ES256') && config.jwt.jwksUrl) {
      ({ payload } = await jwtVerify(token, jwksFor(config.jwt.jwksUrl), {
        ...common,
        algorithms: ['RS256', 'ES256'],
      }));
    } else {
      throw unauthenticated(`Token algorithm ${String(header.alg)} is not accepted`);
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (err instanceof errors.JWTExpired) throw unauthenticated('Token has expired');
    if (err instanceof errors.JWTClaimValidationFailed) throw unauthenticated(`Token claim invalid: ${err.claim}`);
    // The key set could not be fetched or read (timeout, non-200, not JSON, not a key set):
    // the issuer's problem, not the token's. jose throws a bare JOSEError only from its JWKS fetch.
    if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || (err as errors.JOSEError)?.code === 'ERR_JOSE_GENERIC') {
      throw new AppError('UPSTREAM_UNAVAILABLE', 'Could not fetch signing keys');
    }
    if (err instanceof errors.JOSEError) throw unauthenticated('Token is invalid');
    // Network failure fetching the JWKS: an upstream problem, not the caller's.
    throw new AppError('UPSTREAM_UNAVAILABLE', 'Could not fetch signing keys');
  }
  checkLifetime(payload, config.jwt.maxAgeSeconds, Math.floor(Date.now() / 1000));
  return principalFromClaims(payload, config.jwt.tenantClaim);
}

/**
 * JWT_MAX_AGE: a token may live at most `maxAge` seconds, judged both by what it says of
 * itself (exp - iat) and by what is left of it (exp - now, with the clock tolerance for an
 * issuer whose clock runs ahead). The second catches a token minted without `iat`, or with
 * a back-dated one, that is valid for a year. jose has already required `exp` and checked
 * that `iat`, when present, is a number.
 */
function checkLifetime(p: JWTPayload, maxAge: number | null, now: number): void {
  if (maxAge === null) return;
  const exp = p.exp as number;
  const lifetime = typeof p.iat === 'number' ? exp - p.iat : null;
  if ((lifetime !== null && lifetime > maxAge) || exp - now > maxAge + CLOCK_TOLERANCE_S) {
    throw unauthenticated(`Token lifetime is longer than the accepted maximum of ${maxAge} seconds`);
  }
}

function decodeHeader(token: string): { alg?: unknown } {
  const part = token.split('.')[0];
  if (!part || token.split('.').length !== 3) throw unauthenticated('Token is malformed');
  let header: unknown;
  try {
    header = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    throw unauthenticated('Token is malformed');
  }
  // `null` or a list parses fine but is no JOSE header (reading `.alg` of null would surface as a 503).
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw unauthenticated('Token is malformed');
  return header as { alg?: unknown };
}

function principalFromClaims(p: JWTPayload, tenantClaim: string): Principal {
  if (typeof p.sub !== 'string' || !p.sub) throw unauthenticated('Token has no sub');
  // The subject becomes a stored member id: an issuer that sends kilobytes is not one we trust.
  if (p.sub.length > INPUT_LIMITS.jwtSubject) throw unauthenticated(`Token sub is longer than ${INPUT_LIMITS.jwtSubject} characters`);
  const platformAdmin = p.platform_admin === true;
  const tenantRef = typeof p[tenantClaim] === 'string' && p[tenantClaim] ? (p[tenantClaim] as string) : null;
  if (!tenantRef && !platformAdmin) throw unauthenticated(`Token has no ${tenantClaim} claim`);
  // No role claim means viewer; a role we cannot read (["owner"], 1, null) is refused, like a
  // malformed scope: guessing the weakest role would hide the issuer's mistake, guessing any other would grant.
  if (p.role !== undefined && typeof p.role !== 'string') throw unauthenticated('Token role must be one of owner, admin, member, viewer');
  const roleRaw = typeof p.role === 'string' ? p.role.toLowerCase() : 'viewer';
  if (!ROLES.includes(roleRaw as Role)) throw unauthenticated('Token role is not one of owner, admin, member, viewer');
  // A scope claim restricts the token; one we cannot read must not leave it unrestricted.
  if (p.scope !== undefined && typeof p.scope !== 'string') throw unauthenticated('Token scope must be a space-separated string');
  const scopes = typeof p.scope === 'string' ? p.scope.split(' ').filter(Boolean) : [];
  // An empty scope claim names no scope at all; granting everything would read it the wrong way round.
  if (typeof p.scope === 'string' && scopes.length === 0) throw unauthenticated('Token scope is empty: omit the claim for an unrestricted token');
  return {
    kind: 'user',
    tenantRef,
    userId: p.sub,
    apiKeyId: null,
    role: roleRaw as Role,
    scopes,
    platformAdmin,
    rateLimitPerMinute: null,
    collectionIds: restrictionClaim(p, 'collection_ids'),
    agentIds: restrictionClaim(p, 'agent_ids'),
  };
}

/**
 * `collection_ids` / `agent_ids` (docs/agents.md): the same restriction an API key's
 * collectionIds / agentIds carry. Absent = unrestricted. Like `scope`, a claim that is
 * there but cannot be read, or names nothing, is refused rather than read as "everything".
 */
function restrictionClaim(p: JWTPayload, claim: 'collection_ids' | 'agent_ids'): string[] | null {
  const v = p[claim];
  if (v === undefined) return null;
  if (!Array.isArray(v) || v.some((id) => typeof id !== 'string' || !id.trim() || id.length > 200)) {
    throw unauthenticated(`Token ${claim} must be an array of ids`);
  }
  if (v.length === 0) throw unauthenticated(`Token ${claim} is empty: omit the claim for an unrestricted token`);
  if (v.length > MAX_RESTRICTION_IDS) throw unauthenticated(`Token ${claim} names more than ${MAX_RESTRICTION_IDS} ids`);
  return [...new Set(v as string[])];
}
