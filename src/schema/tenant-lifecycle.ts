/**
 * Offboarding and export (issue 15, DESIGN §13, docs/lifecycle.md): deleteTenant,
 * restoreTenant, tenantDeletion / Tenant.deletion (platform admins), exportTenant and
 * tenantExport (platform admins, or the owner of that tenant).
 */
import type { RequestContext } from '../context';
import { DeletionStore, ExportStore } from '../db/lifecycle-store';
import type { TenantDeletionRow, TenantExportRow } from '../db/schema';
import { AppError } from '../lib/errors';
import { deleteTenant, restoreTenant } from '../lifecycle/tenant-deletion';
import { signDownload, startExport } from '../lifecycle/tenant-export';
import type { GraphQLContext } from '../context';
import { checkRole, requirePlatformAdmin } from './access';
import { builder } from './builder';
import { Tenant } from './tenant';

const DELETION_STATUS = { scheduled: 'SCHEDULED', purged: 'PURGED', restored: 'RESTORED' } as const;

export const TenantDeletionStatusEnum = builder.enumType('TenantDeletionStatus', {
  description: 'SCHEDULED: cancelled, waiting for the grace period (restorable); PURGING: the purge runs; PURGED: nothing of the tenant is left; RESTORED: undone during the grace period.',
  values: ['SCHEDULED', 'PURGING', 'PURGED', 'RESTORED'] as const,
});

const TenantDeletion = builder.objectRef<TenantDeletionRow>('TenantDeletion').implement({
  description: 'A deleteTenant job: the tenant is cancelled at once; its purge starts at purgeAfter and ends with a receipt.',
  fields: (t) => ({
    id: t.exposeID('id'),
    tenantId: t.exposeID('tenantId'),
    status: t.field({
      type: TenantDeletionStatusEnum,
      resolve: (d) => (d.step in DELETION_STATUS ? DELETION_STATUS[d.step as keyof typeof DELETION_STATUS] : 'PURGING'),
    }),
    step: t.exposeString('step', { description: 'scheduled, fence, inventory, vectors, originals, rows, catalogue, objects, verify, purged or restored.' }),
    purgeAfter: t.field({ type: 'DateTime', description: 'When the purge starts (restoreTenant works until then).', resolve: (d) => d.purgeAfter }),
    receipt: t.field({
      type: 'JSON',
      nullable: true,
      description: 'Counts removed per store (rows per table, vectors, originals, exports, catalogue rows, Durable Objects), once PURGED; also in the platform audit log (tenant.delete.purged).',
      resolve: (d) => (d.receipt ? (JSON.parse(d.receipt) as unknown) : null),
    }),
    progress: t.field({ type: 'JSON', description: 'The running purge: cursors and the inventory so far.', resolve: (d) => JSON.parse(d.state) as unknown }),
    error: t.exposeString('error', { nullable: true, description: 'The last transient error the purge is retrying after (or why verify ran it again).' }),
    createdAt: t.field({ type: 'DateTime', resolve: (d) => d.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (d) => d.updatedAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.finishedAt }),
  }),
});

export const TenantExportStatusEnum = builder.enumType('TenantExportStatus', { values: ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED'] as const });

interface ExportView {
  row: TenantExportRow;
  /** Origin of the request that asked (download links point at it). */
  origin: string;
  app: RequestContext;
}

const TenantExport = builder.objectRef<ExportView>('TenantExport').implement({
  description: 'A tenant export: one ZIP archive (tables/*.jsonl, originals/, manifest.json). Poll until COMPLETED, then download from downloadUrl.',
  fields: (t) => ({
    id: t.id({ resolve: (e) => e.row.id }),
    tenantId: t.id({ resolve: (e) => e.row.tenantId }),
    status: t.field({ type: TenantExportStatusEnum, resolve: (e) => e.row.status.toUpperCase() as 'PENDING' }),
    progress: t.field({ type: 'JSON', description: 'Rows written per table, files written.', resolve: (e) => JSON.parse(e.row.progress) as unknown }),
    bytes: t.float({ description: 'Archive size once COMPLETED (bytes uploaded so far while RUNNING).', resolve: (e) => e.row.bytes }),
    error: t.string({ nullable: true, resolve: (e) => e.row.error }),
    downloadUrl: t.string({
      nullable: true,
      description: 'A signed link to the archive, minted for this response and valid until downloadExpiresAt (EXPORT_LINK_TTL_SECONDS); null until COMPLETED.',
      resolve: async (e) => {
        if (e.row.status !== 'completed') return null;
        const token = await signDownload(e.app.config, e.row.id, e.row.tenantId, linkExpiry(e.app));
        return `${e.origin}/exports/${e.row.id}?token=${token}`;
      },
    }),
    downloadExpiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      resolve: (e) => (e.row.status === 'completed' ? new Date(linkExpiry(e.app) * 1000).toISOString() : null),
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (e) => e.row.createdAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (e) => e.row.finishedAt }),
  }),
});

/** Links minted in one request expire together (seconds since the epoch). */
const expiries = new WeakMap<RequestContext, number>();
function linkExpiry(app: RequestContext): number {
  let at = expiries.get(app);
  if (at === undefined) {
    at = Math.floor(Date.now() / 1000) + app.config.lifecycle.exportLinkSeconds;
    expiries.set(app, at);
  }
  return at;
}

const originOf = (ctx: GraphQLContext) => {
  const url = (ctx as GraphQLContext & { request?: Request }).request?.url;
  return url ? new URL(url).origin : '';
};

const view = (ctx: GraphQLContext, row: TenantExportRow): ExportView => ({ row, origin: originOf(ctx), app: ctx.app });

/**
 * Who may export tenant `id`: a platform admin (any tenant), or the owner of that very tenant
 * (FORBIDDEN for any other principal, whatever the id).
 */
function checkExporter(ctx: GraphQLContext, tenantId: string): RequestContext {
  const app = ctx.app;
  if (app.principal.platformAdmin) return app;
  checkRole(app, 'owner', 'admin');
  if (!app.tenant || app.tenant.id !== tenantId) throw new AppError('FORBIDDEN', 'Owners may export only their own tenant');
  return app;
}

const actorOf = (app: RequestContext) => (app.principal.platformAdmin ? `platform:${app.principal.userId}` : `user:${app.principal.userId}`);

builder.objectField(Tenant, 'deletion', (t) =>
  t.field({
    type: TenantDeletion,
    nullable: true,
    description: "The tenant's newest deletion (platform admins only; FORBIDDEN otherwise); null if it was never deleted.",
    resolve: (r, _a, ctx) => new DeletionStore(requirePlatformAdmin(ctx).root.catalogue).latestFor(r.id),
  }),
);

builder.queryFields((t) => ({
  tenantDeletion: t.field({
    type: TenantDeletion,
    nullable: true,
    description: "A tenant's newest deletion (platform admins only): its status, purgeAfter and, once purged, the receipt.",
    args: { tenantId: t.arg.id({ required: true }) },
    resolve: async (_r, { tenantId }, ctx) => {
      const app = requirePlatformAdmin(ctx);
      if (!(await app.platform.tenantById(String(tenantId)))) throw new AppError('NOT_FOUND', 'Tenant not found');
      return new DeletionStore(app.root.catalogue).latestFor(String(tenantId));
    },
  }),
  tenantExport: t.field({
    type: TenantExport,
    nullable: true,
    description: 'An export (platform admins; or the owner of its tenant). Another tenant\'s export is null, like one that does not exist.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, { id }, ctx) => {
      const app = ctx.app;
      if (!app.principal.platformAdmin) checkRole(app, 'owner', 'admin');
      const row = await new ExportStore(app.root.catalogue).get(String(id));
      if (!row || (!app.principal.platformAdmin && row.tenantId !== app.tenant?.id)) return null;
      return view(ctx, row);
    },
  }),
  tenantExports: t.field({
    type: [TenantExport],
    description: "A tenant's exports, newest first (platform admins; or its owner).",
    args: { tenantId: t.arg.id({ required: true }) },
    resolve: async (_r, { tenantId }, ctx) => {
      const app = checkExporter(ctx, String(tenantId));
      if (!(await app.platform.tenantById(String(tenantId)))) throw new AppError('NOT_FOUND', 'Tenant not found');
      return (await new ExportStore(app.root.catalogue).listFor(String(tenantId))).map((r) => view(ctx, r));
    },
  }),
}));

builder.mutationFields((t) => ({
  deleteTenant: t.field({
    type: TenantDeletion,
    description:
      'Offboards a tenant (platform admins only): cancelled at once (every credential refused from the next request), then purged from every store — ' +
      'at once with purge: true, else after the grace period (TENANT_PURGE_GRACE_DAYS; restoreTenant until then). Idempotent; purge: true brings a scheduled purge forward.',
    args: { id: t.arg.id({ required: true }), purge: t.arg.boolean({ required: false, defaultValue: false }) },
    resolve: (_r, { id, purge }, ctx) => {
      const app = requirePlatformAdmin(ctx);
      return deleteTenant(app.root, String(id), purge ?? false, actorOf(app), app.requestId);
    },
  }),
  restoreTenant: t.field({
    type: Tenant,
    description: 'Undoes deleteTenant during the grace period (platform admins only): the tenant gets its previous status back. BAD_USER_INPUT once the purge has started.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, { id }, ctx) => {
      const app = requirePlatformAdmin(ctx);
      await restoreTenant(app.root, String(id), actorOf(app), app.requestId);
      return (await app.platform.tenantById(String(id)))!;
    },
  }),
  exportTenant: t.field({
    type: TenantExport,
    description: "Starts an export of the tenant's data (platform admins, or the owner of that tenant): poll tenantExport(id) until COMPLETED, then download it.",
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, { id }, ctx) => {
      const app = checkExporter(ctx, String(id));
      return view(ctx, await startExport(app.root, String(id), actorOf(app), app.requestId));
    },
  }),
}));
