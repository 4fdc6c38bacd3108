/**
 * `usage` (DESIGN §7): the current month's metered usage, live from the tenant's
 * TenantGuard, with the tenant's effective limits; `tenantUsage` lets platform admins
 * read any tenant's.
 */
import { effectiveLimits } from '../context';
import type { TenantRow } from '../db/schema';
import type { Config, PlanLimits } from '../env';
import { AppError } from '../lib/errors';
import { applySpendCaps } from '../lifecycle/spend-caps';
import { planLimitsOf, spendCapsOf, type SpendCaps } from '../objects/admission-rules';
import { changeAdmission } from '../objects/guard-client';
import type { UsageSnapshot } from '../objects/guard-types';
import { allow, requirePlatformAdmin } from './access';
import { builder } from './builder';

interface UsageView {
  snapshot: UsageSnapshot;
  /** What the guard enforces: plan, overrides and the tenant's caps. */
  limits: PlanLimits;
  /** Plan merged with platform overrides, before the tenant's caps. */
  plan: PlanLimits;
  caps: SpendCaps;
}

interface SpendCapsView {
  caps: SpendCaps;
  plan: PlanLimits;
}

const capsView = (config: Config, tenant: TenantRow): SpendCapsView => ({ caps: spendCapsOf(tenant), plan: planLimitsOf(config.plans, tenant) });

/** Start of the month after `period` (YYYY-MM), when the monthly counters reset. */
function resetsAt(period: string): string {
  const [y, m] = period.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m, 1)).toISOString();
}

export const Usage = builder.objectRef<UsageView>('Usage').implement({
  description:
    'One UTC calendar month of metered usage with the effective limits (plan merged with per-tenant overrides; null = unlimited). ' +
    'documents and storedBytes are standing totals that carry over between months.',
  fields: (t) => ({
    period: t.string({ description: 'UTC calendar month, YYYY-MM.', resolve: (u) => u.snapshot.period }),
    resetsAt: t.field({ type: 'DateTime', description: 'When the monthly counters reset.', resolve: (u) => resetsAt(u.snapshot.period) }),
    requests: t.int({ description: 'Admitted requests this month.', resolve: (u) => u.snapshot.requests }),
    requestLimit: t.int({ nullable: true, resolve: (u) => u.limits.monthlyRequests }),
    rateLimited: t.int({ description: 'Requests refused this month (rate limits and quotas).', resolve: (u) => u.snapshot.rateLimited }),
    asks: t.int({ resolve: (u) => u.snapshot.asks }),
    askLimit: t.int({ nullable: true, resolve: (u) => u.limits.monthlyAsks }),
    embeddingTokens: t.int({ resolve: (u) => u.snapshot.embeddingTokens }),
    embeddingTokenLimit: t.int({ nullable: true, resolve: (u) => u.limits.monthlyEmbeddingTokens }),
    promptTokens: t.int({
      description: "Tokens sent to the chat model this month: the provider's count, or an estimate (about 4 characters a token) for the offline extractive answers.",
      resolve: (u) => u.snapshot.promptTokens,
    }),
    promptTokenLimit: t.int({ nullable: true, description: 'What the guard enforces: the plan limit, lowered to promptTokenCap if set.', resolve: (u) => u.limits.monthlyPromptTokens }),
    promptTokenCap: t.int({ nullable: true, description: "The tenant's own cap (setSpendCaps); null: none.", resolve: (u) => u.caps.monthlyPromptTokens ?? null }),
    planPromptTokenLimit: t.int({ nullable: true, description: 'The plan limit (with platform overrides), before the cap; null = unlimited.', resolve: (u) => u.plan.monthlyPromptTokens }),
    completionTokens: t.int({ resolve: (u) => u.snapshot.completionTokens }),
    completionTokenLimit: t.int({ nullable: true, description: 'What the guard enforces: the plan limit, lowered to completionTokenCap if set.', resolve: (u) => u.limits.monthlyCompletionTokens }),
    completionTokenCap: t.int({ nullable: true, description: "The tenant's own cap (setSpendCaps); null: none.", resolve: (u) => u.caps.monthlyCompletionTokens ?? null }),
    planCompletionTokenLimit: t.int({ nullable: true, description: 'The plan limit (with platform overrides), before the cap; null = unlimited.', resolve: (u) => u.plan.monthlyCompletionTokens }),
    documents: t.int({ resolve: (u) => u.snapshot.documents }),
    documentLimit: t.int({ nullable: true, resolve: (u) => u.limits.documents }),
    agentLimit: t.int({ nullable: true, description: 'Agents the plan allows (null = unlimited).', resolve: (u) => u.limits.agents }),
    // Bytes outgrow GraphQL's 32-bit Int.
    storedBytes: t.float({ resolve: (u) => u.snapshot.storedBytes }),
    storedBytesLimit: t.float({ nullable: true, resolve: (u) => u.limits.storedBytes }),
    requestsPerMinute: t.int({ description: 'Tenant token bucket: capacity and refill per minute.', resolve: (u) => u.limits.requestsPerMinute }),
    userRequestsPerMinute: t.int({ description: 'Per-user token bucket.', resolve: (u) => u.limits.userRequestsPerMinute }),
  }),
});

builder.queryFields((t) => ({
  usage: t.field({
    type: Usage,
    description: "This tenant's usage this month, live (admin role, or an API key with the admin scope).",
    resolve: async (_r, _a, ctx) => {
      const scope = allow(ctx, 'admin', 'admin');
      const app = ctx.app;
      // The guard answered the figures with the admission (one guard call per request). With
      // admission switched off (GUARD_ENABLED=false) the guard still holds them: ask it.
      const snapshot = { ...(app.usageAtAdmission ?? (await (app.guard ?? app.services.guards.forTenant(scope.tenant.id)).usage())) };
      // A credential restricted to collections counts only what it can see: the tenant's
      // totals would tell it how much lies outside its boundary (docs/agents.md).
      if (scope.allowedCollections !== null) Object.assign(snapshot, await scope.documents.totals());
      return { snapshot, limits: app.limits!, ...capsView(app.config, scope.tenant) };
    },
  }),
  tenantUsage: t.field({
    type: Usage,
    description: "Any tenant's usage this month, live (platform admins only).",
    args: { tenantId: t.arg.id({ required: true }) },
    resolve: async (_r, { tenantId }, ctx) => {
      const app = requirePlatformAdmin(ctx);
      const tenant = await app.platform.tenantById(String(tenantId));
      if (!tenant) throw new AppError('NOT_FOUND', 'Tenant not found');
      return { snapshot: await app.services.guards.forTenant(tenant.id).usage(), limits: effectiveLimits(app.config, tenant), ...capsView(app.config, tenant) };
    },
  }),
}));

const SpendCapsType = builder.objectRef<SpendCapsView>('SpendCaps').implement({
  description: "The tenant's monthly token caps and the plan limits they stay within (null cap: none; null plan limit: unlimited).",
  fields: (t) => ({
    monthlyPromptTokens: t.int({ nullable: true, resolve: (v) => v.caps.monthlyPromptTokens ?? null }),
    monthlyCompletionTokens: t.int({ nullable: true, resolve: (v) => v.caps.monthlyCompletionTokens ?? null }),
    planMonthlyPromptTokens: t.int({ nullable: true, resolve: (v) => v.plan.monthlyPromptTokens }),
    planMonthlyCompletionTokens: t.int({ nullable: true, resolve: (v) => v.plan.monthlyCompletionTokens }),
  }),
});

const SpendCapsInput = builder.inputType('SpendCapsInput', {
  description: 'Monthly token caps, each at most the plan limit. Omit a field to keep its cap; null removes it.',
  fields: (t) => ({
    monthlyPromptTokens: t.int({ required: false }),
    monthlyCompletionTokens: t.int({ required: false }),
  }),
});

builder.mutationFields((t) => ({
  setSpendCaps: t.field({
    type: SpendCapsType,
    description: 'Caps what the tenant spends on chat tokens a month, below its plan (owner/admin). Enforced from the next request on.',
    args: { input: t.arg({ type: SpendCapsInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const scope = allow(ctx, 'admin', 'admin');
      const { config } = ctx.app;
      const next = applySpendCaps(spendCapsOf(scope.tenant), input, planLimitsOf(config.plans, scope.tenant));
      // The caps are part of the guard's admission record (its limits): bracket the write.
      const guard = ctx.app.guard ?? ctx.app.services.guards.forTenant(scope.tenantId);
      const row = await changeAdmission(guard, () => scope.settings.update({ spendCaps: Object.keys(next).length ? next : null }));
      return capsView(config, row);
    },
  }),
}));
