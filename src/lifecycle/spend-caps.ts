/**
 * Spend caps (DESIGN §14, issue 16): a tenant's owners and admins cap its monthly prompt and
 * completion tokens at or below what its plan allows, with its own provider key or the
 * deployment's. The caps live in the tenant settings (`spendCaps`), which are part of the
 * guard's admission record, so `limitsOf` lowers the enforced limits on the next request and
 * the guard's reservations (src/rag/answer.ts) refuse exactly at the cap.
 */
import type { PlanLimits } from '../env';
import { AppError } from '../lib/errors';
import { SPEND_CAP_FIELDS, type SpendCapField, type SpendCaps } from '../objects/admission-rules';

/** A change of the caps: an absent (undefined) field keeps its cap, null removes it. */
export type SpendCapsPatch = Partial<Record<SpendCapField, number | null | undefined>>;

/** GraphQL's Int is 32-bit; a cap above it could not be read back. */
const MAX_CAP = 2_147_483_647;

/**
 * The caps after `patch`, checked against the plan's limits (plan merged with platform
 * overrides, before any cap): BAD_USER_INPUT naming the field for a cap that is not a whole
 * number from 0 to the plan's limit.
 */
export function applySpendCaps(current: SpendCaps, patch: SpendCapsPatch, plan: PlanLimits): SpendCaps {
  const next: SpendCaps = { ...current };
  for (const field of SPEND_CAP_FIELDS) {
    const v = patch[field];
    if (v === undefined) continue;
    if (v === null) {
      delete next[field];
      continue;
    }
    const limit = plan[field];
    if (!Number.isSafeInteger(v) || v < 0 || v > MAX_CAP) {
      throw new AppError('BAD_USER_INPUT', `${field} must be a whole number of tokens from 0 to ${limit ?? MAX_CAP}`, { field });
    }
    if (limit !== null && v > limit) {
      throw new AppError('BAD_USER_INPUT', `${field} must be at most the plan's ${limit} tokens a month (omit or null: no cap)`, { field, limit });
    }
    next[field] = v;
  }
  return next;
}
