/**
 * Per-person erasure (issue 15): the service behind `eraseUser`. Plain code over a
 * TenantScope; the GraphQL module only checks the caller's role.
 */
import type { ErasureResult } from '../db/repositories/erasure';
import type { TenantScope } from '../db/tenant-scope';
import { badInput } from '../lib/errors';
import { INPUT_LIMITS } from '../lib/input';
import type { GuardClient } from '../objects/guard-types';

export type { ErasureResult };

/**
 * Removes `userId`'s conversations, messages and membership in the scope's tenant and
 * says what was removed. A user with nothing here (unknown, or of another tenant) gets
 * zeros: erasure is idempotent and never tells whether an id exists elsewhere.
 */
export async function eraseUser(scope: TenantScope, guard: GuardClient, userId: string): Promise<ErasureResult> {
  scope.requireUnrestricted('erase a user');
  // Same bounds as the JWT `sub` it matches (src/auth/jwt.ts): anything else can own nothing.
  if (!userId.trim() || userId.length > INPUT_LIMITS.jwtSubject) {
    throw badInput(`userId must be 1-${INPUT_LIMITS.jwtSubject} characters`, 'userId');
  }
  // The guard coalesces membership upserts (last seen, role) and writes them later: write them
  // now, so none of this user's lands after the delete and brings the membership back. Only
  // a new request by the user does that (erasure is not a ban).
  await guard.flushActivity();
  return scope.erasure.eraseUser(userId);
}
