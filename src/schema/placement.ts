/**
 * Tenant data placement (platform admins; DESIGN §11, docs/placement.md): the placement
 * inputs of createTenant, Tenant.placement, and moveTenant with its job.
 */
import { MoveStore } from '../db/move-store';
import type { TenantMoveRow } from '../db/schema';
import { AppError } from '../lib/errors';
import { startMove } from '../placement/move';
import { requirePlatformAdmin } from './access';
import { builder } from './builder';

export const TenantTierEnum = builder.enumType('TenantTier', {
  description: 'SHARED: the shared or regional database; DEDICATED: a database of the tenant\'s own.',
  values: ['SHARED', 'DEDICATED'] as const,
});

export const LibsqlDatabaseInput = builder.inputType('LibsqlDatabaseInput', {
  description: 'A libSQL (Turso, sqld) database for a dedicated tenant. URL and token are stored AES-GCM-encrypted and never returned.',
  fields: (t) => ({
    url: t.string({ required: true, description: 'libsql://, https:// or wss:// URL.' }),
    authToken: t.string({ required: false }),
    name: t.string({ required: false, description: 'Name in the catalogue (placement dedicated:<name>); default the tenant slug.' }),
  }),
});

const TenantMove = builder.objectRef<TenantMoveRow>('TenantMove').implement({
  description: 'A moveTenant job: copy, verify, switch, clean up. Poll it until step is DONE or FAILED.',
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId'),
    source: t.exposeString('source'),
    target: t.exposeString('target'),
    step: t.string({ description: 'fence, copy, vectors, originals, verify, switch, cleanup, done or failed.', resolve: (m) => m.step }),
    error: t.exposeString('error', { nullable: true, description: 'Why the job failed, or the last transient error it is retrying after.' }),
    report: t.field({ type: 'JSON', description: 'Progress and the verified counts and content hashes.', resolve: (m) => JSON.parse(m.state) as unknown }),
    createdAt: t.field({ type: 'DateTime', resolve: (m) => m.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (m) => m.updatedAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (m) => m.finishedAt }),
  }),
});

builder.queryFields((t) => ({
  tenantMove: t.field({
    type: TenantMove,
    nullable: true,
    description: 'A moveTenant job (platform admins only).',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, { id }, ctx) => new MoveStore(requirePlatformAdmin(ctx).root.catalogue).get(String(id)),
  }),
  tenantMoves: t.field({
    type: [TenantMove],
    description: "A tenant's moves, newest first (platform admins only).",
    args: { tenantId: t.arg.id({ required: true }) },
    resolve: (_r, { tenantId }, ctx) => new MoveStore(requirePlatformAdmin(ctx).root.catalogue).listForTenant(String(tenantId)),
  }),
}));

builder.mutationFields((t) => ({
  moveTenant: t.field({
    type: TenantMove,
    description:
      "Moves a tenant's data to another placement (platform admins only). While it runs, reads continue and writes answer TENANT_MIGRATING (503, Retry-After).",
    args: {
      id: t.arg.id({ required: true }),
      placement: t.arg.string({ required: false, description: 'Target: shared, regional:<region> or dedicated:<name>.' }),
      libsql: t.arg({ type: LibsqlDatabaseInput, required: false, description: 'Target: a new libSQL database of the tenant\'s own.' }),
    },
    resolve: (_r, args, ctx) => {
      const app = requirePlatformAdmin(ctx);
      if (!args.placement && !args.libsql) throw new AppError('BAD_USER_INPUT', 'give placement or libsql', { field: 'placement' });
      const root = app.root;
      return startMove(
        { ...root, enqueue: root.enqueueJob },
        String(args.id),
        { placement: args.placement, libsql: args.libsql },
        `platform:${app.principal.userId}`,
        app.requestId,
      );
    },
  }),
}));
