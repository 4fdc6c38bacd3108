/**
 * Embedding switches (DESIGN §14, docs/chat.md "Switch a model and watch the progress"): the
 * progress of a tenant's re-embedding (`reembedding { status done total }` on Tenant and on
 * ModelProvider), the embedding that answers its queries (`Tenant.embedding`), and the
 * platform-admin mutation that applies a change of the deployment's EMBEDDING_MODEL /
 * EMBEDDING_DIMENSIONS to the tenants on the deployment's provider (`reembedTenants`).
 * Switches of a tenant's own provider start from setModelProvider / clearModelProvider.
 */
import type { TenantRow } from '../db/schema';
import { TenantScope } from '../db/tenant-scope';
import { decodeCursor, encodeCursor, pageSize } from '../lib/pagination';
import type { ActiveEmbeddingView, DeploymentOutcome, ReembeddingView } from '../rag/reembedding';
import { reembeddingStatusOf } from '../rag/reembedding';
import { REEMBED_PRINCIPAL } from '../rag/reembed-consumer';
import { openTenantSession } from '../tenant-session';
import { deploymentEmbedding } from '../ai/model-providers';
import type { GraphQLContext } from '../context';
import { requirePlatformAdmin } from './access';
import { builder } from './builder';
import { ModelProvider } from './model-provider';
import { Tenant } from './tenant';

const ReembeddingStatusEnum = builder.enumType('ReembeddingStatus', {
  description: 'RUNNING: re-embedding, queries still use the previous model. COMPLETED: switched. FAILED: stopped for good (see error), the previous model stays. SUPERSEDED: replaced by a later switch.',
  values: ['RUNNING', 'COMPLETED', 'FAILED', 'SUPERSEDED'] as const,
});

const Reembedding = builder.objectRef<ReembeddingView>('Reembedding').implement({
  description: "A switch of the tenant's embedding model: a background re-embedding of every chunk, then one atomic switch.",
  fields: (t) => ({
    status: t.field({ type: ReembeddingStatusEnum, resolve: (r) => r.status }),
    done: t.exposeInt('done', { description: 'Chunks embedded with the new model so far.' }),
    total: t.exposeInt('total', { description: 'Chunks to embed (grows when documents arrive meanwhile).' }),
    model: t.exposeString('model', { description: 'The model being switched to.' }),
    dimensions: t.exposeInt('dimensions'),
    generation: t.exposeInt('generation', { description: 'The new embedding generation (its own vector namespace).' }),
    error: t.exposeString('error', { nullable: true, description: 'The last failure (RUNNING: it is retried with backoff; FAILED: it ended the job).' }),
    cleanedUp: t.exposeBoolean('cleanedUp', { description: 'After COMPLETED: the previous model\'s vectors are all deleted.' }),
    startedAt: t.field({ type: 'DateTime', resolve: (r) => r.startedAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.finishedAt }),
  }),
});

const Embedding = builder.objectRef<ActiveEmbeddingView>('Embedding').implement({
  description: 'The embedding that answers the tenant\'s searches: its model, dimensions and generation.',
  fields: (t) => ({
    model: t.exposeString('model'),
    dimensions: t.exposeInt('dimensions'),
    generation: t.exposeInt('generation'),
  }),
});

/**
 * The tenant's own progress comes from its session. A platform admin listing tenants reads
 * another tenant's generations from the catalogue through a scope of that tenant (the rows
 * are catalogue rows: no placement database is opened).
 */
function reembeddingFor(tenant: TenantRow, ctx: GraphQLContext): Promise<ReembeddingView | null> | null {
  const app = ctx.app;
  if (app.session?.tenant.id === tenant.id) return app.session.services.reembedding.status();
  if (!app.principal.platformAdmin) return null;
  return reembeddingStatusOf(new TenantScope(app.root.catalogue, tenant, app.principal, app.requestId, app.root.catalogue));
}

builder.objectFields(Tenant, (t) => ({
  reembedding: t.field({
    type: Reembedding,
    nullable: true,
    description: "The latest embedding switch (running or finished); null when the tenant's embedding never changed.",
    resolve: (tenant, _a, ctx) => reembeddingFor(tenant, ctx),
  }),
  embedding: t.field({
    type: Embedding,
    nullable: true,
    description: 'The embedding answering searches (the previous one while a switch runs); null on another tenant\'s row.',
    resolve: (tenant, _a, ctx) => (ctx.app.session?.tenant.id === tenant.id ? ctx.app.session.services.reembedding.active() : null),
  }),
}));

builder.objectFields(ModelProvider, (t) => ({
  reembedding: t.field({
    type: Reembedding,
    nullable: true,
    description: 'The latest embedding switch (the same as Tenant.reembedding).',
    resolve: (_p, _a, ctx) => ctx.app.session?.services.reembedding.status() ?? null,
  }),
}));

const DeploymentOutcomeEnum = builder.enumType('ReembedOutcome', {
  description:
    'RECORDED: the embedder in use was recorded (first run). CURRENT: already on the configured embedding. STARTED: a re-embedding started. ' +
    'SWITCHED: switched at once (no chunks). UPDATED / CANCELLED: a running switch was updated / cancelled. OWN_PROVIDER: the tenant embeds with its own provider. MOVING: the tenant is moving; call again later. ' +
    'NEEDS_INDEX: a dimension change on Vectorize, whose index holds one dimension (docs/retrieval.md "Embedding generations").',
  values: ['RECORDED', 'CURRENT', 'STARTED', 'SWITCHED', 'UPDATED', 'CANCELLED', 'OWN_PROVIDER', 'MOVING', 'NEEDS_INDEX'] as const,
});

interface TenantOutcome {
  tenant: TenantRow;
  outcome: DeploymentOutcome;
}

const ReembedTenantResult = builder.objectRef<TenantOutcome>('ReembedTenantResult').implement({
  fields: (t) => ({
    tenant: t.field({ type: Tenant, resolve: (r) => r.tenant }),
    outcome: t.field({ type: DeploymentOutcomeEnum, resolve: (r) => r.outcome }),
  }),
});

interface ReembedPage {
  results: TenantOutcome[];
  endCursor: string | null;
  hasNextPage: boolean;
}

const ReembedTenantsPage = builder.objectRef<ReembedPage>('ReembedTenantsPage').implement({
  fields: (t) => ({
    results: t.field({ type: [ReembedTenantResult], resolve: (p) => p.results }),
    endCursor: t.exposeString('endCursor', { nullable: true, description: 'Pass as `after` for the next page.' }),
    hasNextPage: t.exposeBoolean('hasNextPage'),
  }),
});

builder.mutationFields((t) => ({
  reembedTenants: t.field({
    type: ReembedTenantsPage,
    description:
      "Applies the deployment's EMBEDDING_MODEL / EMBEDDING_DIMENSIONS to one page of tenants (platform admins only): each tenant on the " +
      "deployment's provider whose recorded embedding differs starts a background re-embedding; until it completes it keeps searching " +
      'with the model its vectors were made with. Run it once before changing the configuration (it records what every tenant uses), ' +
      'then after the deploy; page through with `after` (docs/chat.md "Switch a model").',
    args: { first: t.arg.int({ required: false }), after: t.arg.string({ required: false }) },
    resolve: async (_r, args, ctx) => {
      const app = requirePlatformAdmin(ctx);
      decodeCursor(args.after ?? null);
      const page = await app.platform.listTenants(pageSize(args.first), args.after ?? null);
      const target = { ...deploymentEmbedding(app.config), baseUrl: null, apiKeySealed: null, keyId: null };
      const results: TenantOutcome[] = [];
      for (const tenant of page.items) {
        const session = await openTenantSession(app.root, tenant, { ...REEMBED_PRINCIPAL, tenantRef: tenant.id, userId: `platform:${app.principal.userId}` }, app.requestId);
        results.push({ tenant, outcome: await session.services.reembedding.toDeployment(target, { migrating: session.migrating, oneDimension: app.config.vectorBackend === 'vectorize' }) });
      }
      const last = page.items.at(-1);
      return { results, endCursor: last ? encodeCursor(last) : null, hasNextPage: page.hasNextPage };
    },
  }),
}));
