/** Platform administration (platform_admin only) and the tenant's audit log. */
import { directory } from '../auth/directory';
import type { AuditRow } from '../db/schema';
import { limitProblem } from '../env';
import { AppError } from '../lib/errors';
import { pageSize } from '../lib/pagination';
import { changeAdmission } from '../objects/guard-client';
import { allow, requirePlatformAdmin } from './access';
import { builder } from './builder';
import { connectionType, toConnection } from './connection';
import { lower, PlanEnum, TenantStatusEnum } from './enums';
import { LibsqlDatabaseInput, TenantTierEnum } from './placement';
import { Tenant } from './tenant';
import { choosePlacement, prepareResidence } from '../placement/choose';
import { refuseIfDeleted } from '../lifecycle/tenant-deletion';

const AuditEvent = builder.objectRef<AuditRow>('AuditEvent').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    actor: t.exposeString('actor'),
    action: t.exposeString('action'),
    targetType: t.exposeString('targetType', { nullable: true }),
    targetId: t.exposeString('targetId', { nullable: true }),
    details: t.field({ type: 'JSON', resolve: (e) => JSON.parse(e.details) as unknown }),
    requestId: t.exposeString('requestId', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (e) => e.createdAt }),
  }),
});
const AuditEventConnection = connectionType('AuditEvent', AuditEvent);
const TenantConnection = connectionType('Tenant', Tenant);

const CreateTenantInput = builder.inputType('CreateTenantInput', {
  fields: (t) => ({
    slug: t.string({ required: true }),
    name: t.string({ required: true }),
    plan: t.field({ type: PlanEnum, required: false, defaultValue: 'FREE' }),
    region: t.string({ required: false, description: 'Data-residency label; with a regional:<region> placement configured, the tenant is placed there.' }),
    tier: t.field({ type: TenantTierEnum, required: false, description: 'DEDICATED: a free configured dedicated database (or the libsql one given).' }),
    placement: t.string({ required: false, description: 'Explicit placement: shared, regional:<region> or dedicated:<name>.' }),
    libsql: t.field({ type: LibsqlDatabaseInput, required: false, description: 'Place the tenant on its own libSQL database.' }),
  }),
});

const TenantLimitsInput = builder.inputType('TenantLimitsInput', {
  description: 'Per-tenant overrides of the plan limits, merged over the plan table. Omit a field to keep its current value; null sets a quota to unlimited (not allowed for the per-minute rates).',
  fields: (t) => ({
    requestsPerMinute: t.int({ required: false }),
    userRequestsPerMinute: t.int({ required: false }),
    monthlyRequests: t.int({ required: false }),
    monthlyAsks: t.int({ required: false }),
    monthlyEmbeddingTokens: t.int({ required: false }),
    monthlyPromptTokens: t.int({ required: false }),
    monthlyCompletionTokens: t.int({ required: false }),
    documents: t.int({ required: false }),
    storedBytes: t.float({ required: false }),
    collections: t.int({ required: false }),
    agents: t.int({ required: false }),
  }),
});

const UpdateTenantInput = builder.inputType('UpdateTenantInput', {
  fields: (t) => ({
    name: t.string({ required: false }),
    plan: t.field({ type: PlanEnum, required: false }),
    status: t.field({ type: TenantStatusEnum, required: false }),
    limits: t.field({ type: TenantLimitsInput, required: false }),
    trialEndsAt: t.field({
      type: 'DateTime',
      required: false,
      description:
        'End of the trial (status TRIAL): from then on the tenant answers TENANT_SUSPENDED until its status changes. null clears it; omit to keep it.',
    }),
    resetLimits: t.boolean({
      required: false,
      description: 'Drop every per-tenant override first (back to the plan table); `limits` then applies on top.',
    }),
  }),
});

builder.queryFields((t) => ({
  auditLog: t.field({
    type: AuditEventConnection,
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: async (_r, args, ctx) =>
      toConnection(await allow(ctx, 'admin', 'admin').audit.list(pageSize(args.first), args.after), args.after),
  }),
  tenants: t.field({
    type: TenantConnection,
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: async (_r, args, ctx) =>
      toConnection(await requirePlatformAdmin(ctx).platform.listTenants(pageSize(args.first), args.after ?? null), args.after),
  }),
}));

builder.mutationFields((t) => ({
  createTenant: t.field({
    type: Tenant,
    args: { input: t.arg({ type: CreateTenantInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const app = requirePlatformAdmin(ctx);
      const chosen = await choosePlacement(
        app.root,
        { placement: input.placement, tier: input.tier ? lower(input.tier) : null, region: input.region, libsql: input.libsql },
        input.slug.toLowerCase(),
      );
      return app.platform.createTenant(
        { slug: input.slug, name: input.name, plan: lower(input.plan ?? 'FREE'), region: input.region ?? null, placement: chosen.placement, database: chosen.database },
        `platform:${app.principal.userId}`,
        app.requestId,
        // Before the catalogue row: a tenant is never visible without its residence row.
        (tenant) => prepareResidence(app.root, tenant),
      ).then((row) => {
        // This isolate may remember the slug as unknown (negative cache): not once it exists.
        directory.forgetMisses(row.slug);
        return row;
      });
    },
  }),
  updateTenant: t.field({
    type: Tenant,
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateTenantInput, required: true }) },
    resolve: async (_r, { id, input }, ctx) => {
      const app = requirePlatformAdmin(ctx);
      await refuseIfDeleted(app.root.catalogue, String(id), 'update it');
      const limits = input.limits
        ? Object.fromEntries(Object.entries(input.limits).filter(([, v]) => v !== undefined)) as Record<string, number | null>
        : null;
      for (const [k, v] of Object.entries(limits ?? {})) {
        // null = unlimited for quotas; the per-minute rates must stay positive numbers.
        const problem = limitProblem(k, v);
        if (problem) throw new AppError('BAD_USER_INPUT', `limits: ${problem}`, { field: `limits.${k}` });
      }
      // Status, plan and limits are the guard's admission record: bracket the write.
      return changeAdmission(app.services.guards.forTenant(String(id)), () => app.platform.updateTenant(
        String(id),
        {
          name: input.name ?? null,
          plan: input.plan ? lower(input.plan) : null,
          status: input.status ? lower(input.status) : null,
          limits,
          resetLimits: input.resetLimits ?? false,
          // undefined keeps the stored value; null clears it.
          trialEndsAt: input.trialEndsAt === undefined ? undefined : input.trialEndsAt && input.trialEndsAt.toISOString(),
        },
        `platform:${app.principal.userId}`,
        app.requestId,
      ));
    },
  }),
}));
