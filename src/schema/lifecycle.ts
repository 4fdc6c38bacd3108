/** Tenant lifecycle (issue 15): per-person erasure and usage for billing. */
import type { OwnerMonthUsage } from '../db/repositories/chat-usage';
import { eraseUser, type ErasureResult } from '../lifecycle/erasure';
import { checkedPeriod, type AgentMonthUsage, type TenantUsageReportRow, type UsageMonth } from '../lifecycle/usage-history';
import { badInput } from '../lib/errors';
import { decodeCursor, pageSize } from '../lib/pagination';
import { allow, requirePlatformAdmin } from './access';
import { builder } from './builder';
import { connectionType, toConnection } from './connection';
import { PlanEnum, TenantStatusEnum, upper } from './enums';

const UserErasure = builder.objectRef<ErasureResult>('UserErasure').implement({
  description: 'What eraseUser removed in this tenant. All zeros for a user with nothing here (unknown, or of another tenant).',
  fields: (t) => ({
    userId: t.exposeID('userId'),
    conversations: t.exposeInt('conversations', { description: 'Conversations owned by the user, removed.' }),
    messages: t.exposeInt('messages', { description: 'Messages in those conversations, removed.' }),
    membership: t.exposeBoolean('membership', { description: 'Whether a membership row was removed (the next request with a token re-creates it: erasure is not a ban).' }),
  }),
});

builder.mutationFields((t) => ({
  eraseUser: t.field({
    type: UserErasure,
    description:
      "Erases one person's chat history in this tenant (owner/admin): their conversations, messages and membership. " +
      'Usage aggregates are kept; an audit row records the counts, never the content.',
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_r, { userId }, ctx) => {
      const scope = allow(ctx, 'admin', 'admin');
      return eraseUser(scope, ctx.app.services.guards.forTenant(scope.tenantId), String(userId));
    },
  }),
}));

// ---------------------------------------------------------------- usage for billing

const AgentMonthUsageRef = builder.objectRef<AgentMonthUsage>('AgentMonthUsage').implement({
  description: "One agent's asks and tokens in the live month (as `Agent.usage`).",
  fields: (t) => ({
    agentId: t.exposeID('agentId'),
    slug: t.exposeString('slug'),
    asks: t.exposeInt('asks'),
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
  }),
});

const PrincipalMonthUsageRef = builder.objectRef<OwnerMonthUsage>('PrincipalMonthUsage').implement({
  description:
    'Asks and tokens of one user or API key in a month, from the stored chat messages: deleted conversations and erased users are not in it (the month totals still are).',
  fields: (t) => ({
    principal: t.exposeString('owner', { description: '`user:<sub>` or `key:<api key id>`.' }),
    userId: t.id({ nullable: true, resolve: (o) => (o.owner.startsWith('user:') ? o.owner.slice(5) : null) }),
    apiKeyId: t.id({ nullable: true, resolve: (o) => (o.owner.startsWith('key:') ? o.owner.slice(4) : null) }),
    asks: t.exposeInt('asks'),
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
  }),
});

type MonthFigures = Omit<UsageMonth, 'live' | 'agents' | 'byPrincipal'>;
type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;
/** The figures shared by a tenant's month and a report row (one definition, two types). */
const figureFields = <S extends MonthFigures>(t: PothosSchemaTypes.ObjectFieldBuilder<Types, S>) => ({
  period: t.string({ resolve: (m) => m.period, description: 'UTC calendar month, YYYY-MM.' }),
  requests: t.int({ resolve: (m) => m.requests, description: 'Admitted requests.' }),
  rateLimited: t.int({ resolve: (m) => m.rateLimited, description: 'Refused requests (rate limits and quotas).' }),
  asks: t.int({ resolve: (m) => m.asks }),
  embeddingTokens: t.int({ resolve: (m) => m.embeddingTokens }),
  promptTokens: t.int({ resolve: (m) => m.promptTokens }),
  completionTokens: t.int({ resolve: (m) => m.completionTokens }),
  documents: t.int({ resolve: (m) => m.documents, description: 'Standing total at the end of the month (or now, for the live month).' }),
  // Bytes outgrow GraphQL's 32-bit Int.
  storedBytes: t.float({ resolve: (m) => m.storedBytes, description: 'Standing total, like documents.' }),
  asOf: t.field({ type: 'DateTime', description: 'When these figures were taken (the guard flush, or now for the live month).', resolve: (m) => m.asOf }),
});

const UsageMonthRef = builder.objectRef<UsageMonth>('UsageMonth').implement({
  description: 'One month of metered usage: from the D1 aggregates the TenantGuard flushes, the current month live from the guard.',
  fields: (t) => ({
    ...figureFields(t),
    live: t.exposeBoolean('live', { description: "True for the guard's current month, read live." }),
    agents: t.field({
      type: [AgentMonthUsageRef],
      nullable: true,
      description: 'Per-agent breakdown: the live month only (null for closed months: the guard does not keep it).',
      resolve: (m) => m.agents,
    }),
    byPrincipal: t.field({
      type: [PrincipalMonthUsageRef],
      description: 'Asks and tokens per user and per API key (from stored messages; requests are not broken down).',
      resolve: (m) => m.byPrincipal,
    }),
  }),
});

interface ReportNode extends TenantUsageReportRow {
  /** Keyset fields for the Relay cursor: the period and the tenant id. */
  createdAt: string;
  id: string;
}

const TenantUsageReportRef = builder.objectRef<ReportNode>('TenantUsageReport').implement({
  description: "One tenant's flushed figures for the reported month.",
  fields: (t) => ({
    ...figureFields(t),
    tenantId: t.exposeID('tenantId'),
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    plan: t.field({ type: PlanEnum, resolve: (r) => upper(r.plan) as never }),
    status: t.field({ type: TenantStatusEnum, resolve: (r) => upper(r.status) as never }),
  }),
});
const TenantUsageReportConnection = connectionType('TenantUsageReport', TenantUsageReportRef);

builder.queryFields((t) => ({
  usageHistory: t.field({
    type: [UsageMonthRef],
    description:
      "This tenant's monthly usage in [from, to] (YYYY-MM, inclusive, at most 120 months), oldest first; months without activity are left out. " +
      'Admins and owners with an unrestricted credential (or an admin-scoped key).',
    args: { from: t.arg.string({ required: true }), to: t.arg.string({ required: true }) },
    resolve: (_r, { from, to }, ctx) => {
      const scope = allow(ctx, 'admin', 'admin');
      // With admission switched off (GUARD_ENABLED=false) the guard still holds the figures.
      const guard = ctx.app.guard ?? ctx.app.services.guards.forTenant(scope.tenantId);
      return ctx.app.services.usageHistory.history(scope, guard, from, to);
    },
  }),
  usageReport: t.field({
    type: TenantUsageReportConnection,
    description:
      "Every tenant's usage for one month from the flushed aggregates (platform admins; `npm run usage:export` writes it as CSV). " +
      'A tenant without activity that month has no row.',
    args: { period: t.arg.string({ required: true }), first: t.arg.int(), after: t.arg.string() },
    resolve: async (_r, args, ctx) => {
      const app = requirePlatformAdmin(ctx);
      const period = checkedPeriod(args.period, 'period');
      const k = decodeCursor(args.after);
      if (k && k.createdAt !== period) throw badInput('after is a cursor of another period', 'after');
      const page = await app.services.usageHistory.report(period, pageSize(args.first), k?.id ?? null);
      return toConnection({ items: page.items.map((r) => ({ ...r, createdAt: period, id: r.tenantId })), hasNextPage: page.hasNextPage }, args.after);
    },
  }),
}));
