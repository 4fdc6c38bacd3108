/**
 * Member removal (issue 15): the service behind `removeMember` / `restoreMember`. Roles stay
 * the IdP's claim; what this changes is whether the tenant admits a user at all. The removal
 * is a catalogue row (member_removals) that the TenantGuard holds in its admission record, so
 * the write is bracketed by changeAdmission: the user's next request, on any isolate, is
 * refused with FORBIDDEN (`extensions.reason: MEMBER_REMOVED`), and a restore applies as fast.
 *
 * Rules (docs/guard.md "Members"):
 * - only users this tenant has seen (a membership or an earlier removal) can be removed:
 *   anything else is NOT_FOUND, like an id of another tenant;
 * - nobody removes themselves (BAD_USER_INPUT), and only an owner removes or restores an
 *   owner (FORBIDDEN for admins): together these keep at least one owner admitted — the
 *   owner who removes another owner is still there;
 * - at most MAX_REMOVED_MEMBERS removed users per tenant (QUOTA_EXCEEDED beyond it): the
 *   guard holds the whole set in memory, so it must stay small.
 */
import { roleAtLeast } from '../auth/principal';
import type { MemberView } from '../db/repositories/members';
import type { TenantScope } from '../db/tenant-scope';
import { AppError, badInput } from '../lib/errors';
import { INPUT_LIMITS } from '../lib/input';
import { changeAdmission } from '../objects/guard-client';
import { STANDING_RETRY_SECONDS, type GuardClient } from '../objects/guard-types';

/**
 * Removed users a tenant may have at once. The TenantGuard keeps them as one in-memory set
 * (at most 1,000 ids of at most 256 characters: well under 1 MB per guard) and loads it with
 * the tenant row; restoreMember frees a place.
 */
export const MAX_REMOVED_MEMBERS = 1_000;

function checkedUserId(userId: string): string {
  // Same bounds as the JWT `sub` it matches (src/auth/jwt.ts).
  if (!userId.trim() || userId.length > INPUT_LIMITS.jwtSubject) throw badInput(`userId must be 1-${INPUT_LIMITS.jwtSubject} characters`, 'userId');
  return userId;
}

/** The member, or NOT_FOUND (the same answer for a user of another tenant and for nobody). */
async function memberOf(scope: TenantScope, guard: GuardClient, userId: string): Promise<MemberView> {
  // Membership rows (and their role) are written by the guard's coalesced bookkeeping: write it first.
  await guard.flushActivity();
  const member = await scope.members.get(userId);
  if (!member) throw new AppError('NOT_FOUND', 'Member not found');
  return member;
}

function checkOwnerRule(scope: TenantScope, member: MemberView, verb: 'remove' | 'restore'): void {
  if (member.role === 'owner' && !roleAtLeast(scope.principal.role, 'owner')) {
    throw new AppError('FORBIDDEN', `Only an owner can ${verb} an owner`);
  }
}

/**
 * Removes `userId` from the scope's tenant: their tokens are refused here from the next
 * request on. Idempotent (an already removed member is returned as it is, with no new audit row).
 */
export async function removeMember(scope: TenantScope, guard: GuardClient, userId: string): Promise<MemberView> {
  scope.requireUnrestricted('remove members');
  checkedUserId(userId);
  if (scope.principal.kind === 'user' && scope.principal.userId === userId) {
    throw badInput('You cannot remove yourself: ask another owner or admin', 'userId');
  }
  const member = await memberOf(scope, guard, userId);
  checkOwnerRule(scope, member, 'remove');
  if (member.removedAt) return member;
  const removed = await changeAdmission(guard, () => scope.members.remove(member, MAX_REMOVED_MEMBERS));
  if (!removed) {
    const now = await scope.members.get(userId);
    if (now?.removedAt) return now; // a concurrent removal won
    const used = await scope.members.removedCount();
    throw new AppError('QUOTA_EXCEEDED', `At most ${MAX_REMOVED_MEMBERS} users can be removed at once: restore one with restoreMember first`, {
      quota: 'removedMembers', limit: MAX_REMOVED_MEMBERS, used, retryAfter: STANDING_RETRY_SECONDS,
    });
  }
  return (await scope.members.get(userId))!;
}

/** Lifts a removal: the user's tokens are admitted again from the next request. Idempotent. */
export async function restoreMember(scope: TenantScope, guard: GuardClient, userId: string): Promise<MemberView> {
  scope.requireUnrestricted('restore members');
  checkedUserId(userId);
  const member = await memberOf(scope, guard, userId);
  checkOwnerRule(scope, member, 'restore');
  if (!member.removedAt) return member;
  await changeAdmission(guard, () => scope.members.restore(userId));
  return (await scope.members.get(userId)) ?? { ...member, removedAt: null, removedBy: null };
}
