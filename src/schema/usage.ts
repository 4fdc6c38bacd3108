/**
 * `usage` (DESIGN §7): the current month's metered usage, live from the tenant's
 * TenantGuard, with the tenant's effective limits; `tenantUsage` lets platform admins
 * read any tenant's.
 */
import { effectiveLimits } from '../context';
import type { PlanLimits } from '../env';
import { AppError } from '../lib/errors';
import type { UsageSnapshot } from '../objects/guard-types';
import { allow, requirePlatformAdmin } from './access';
import { builder } from './builder';

interface UsageView {
  snapshot: UsageSnapshot;
  limits: PlanLimits;
}

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
    promptTokens: t.int({ resolve: (u) => u.snapshot.promptTokens }),
    completionTokens: t.int({ resolve: (u) => u.snapshot.completionTokens }),
    completionTokenLimit: t.int({ nullable: true, resolve: (u) => u.limits.monthlyCompletionTokens }),
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
      return { snapshot, limits: app.limits! };
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
      return { snapshot: await app.services.guards.forTenant(tenant.id).usage(), limits: effectiveLimits(app.config, tenant) };
    },
  }),
}));
