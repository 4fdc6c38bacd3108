/** Tenant, viewer, members and the tenant's own settings. */
import type { ApiKeyRow, TenantRow } from '../db/schema';
import { parseSettings, type TenantSettings, type TenantSettingsPatch } from '../db/repositories/tenant';
import type { MemberView } from '../db/repositories/members';
import { AppError } from '../lib/errors';
import { INPUT_LIMITS } from '../lib/input';
import { DEFAULT_TOP_K as DEFAULT_ASK_TOP_K, MAX_TOP_K as MAX_ASK_TOP_K } from '../rag/answer';
import { changeAdmission } from '../objects/guard-client';
import { allow } from './access';
import { ApiKey } from './api-keys';
import { builder } from './builder';
import { DEFAULT_MAX_CHUNKS_PER_DOCUMENT, MAX_CHUNKS_PER_DOCUMENT, validateMaxPerDocument } from '../rag/diversity';
import { MAX_WEIGHT, validateWeights } from '../rag/fusion';
import { PlanEnum, RoleEnum, SearchModeEnum, TenantStatusEnum, upper } from './enums';
import { RetrievalWeights, RetrievalWeightsInput } from './retrieval-weights';

export const Tenant = builder.objectRef<TenantRow>('Tenant').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    plan: t.field({ type: PlanEnum, resolve: (r) => upper(r.plan) }),
    status: t.field({ type: TenantStatusEnum, resolve: (r) => upper(r.status) }),
    region: t.exposeString('region', { nullable: true }),
    tier: t.exposeString('tier'),
    placement: t.string({
      nullable: true,
      description: 'Where the tenant\'s data lives: shared, regional:<region> or dedicated:<name> (platform admins only; FORBIDDEN otherwise).',
      resolve: (r, _a, ctx) => {
        if (!ctx.app.principal.platformAdmin) throw new AppError('FORBIDDEN', 'Platform administrators only');
        return r.placement;
      },
    }),
    movingTo: t.string({
      nullable: true,
      description: 'The placement a running move is taking the tenant to (platform admins only).',
      resolve: (r, _a, ctx) => {
        if (!ctx.app.principal.platformAdmin) throw new AppError('FORBIDDEN', 'Platform administrators only');
        return r.movingTo;
      },
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (r) => r.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (r) => r.updatedAt }),
    trialEndsAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.trialEndsAt }),
    settings: t.field({ type: TenantSettingsType, resolve: (r) => parseSettings(r) }),
  }),
});

const TenantSettingsType = builder.objectRef<TenantSettings>('TenantSettings').implement({
  fields: (t) => ({
    systemPrompt: t.string({ nullable: true, resolve: (s) => s.systemPrompt ?? null }),
    allowedOrigins: t.stringList({ resolve: (s) => s.allowedOrigins ?? [] }),
    chatModel: t.string({ nullable: true, resolve: (s) => s.chatModel ?? null }),
    temperature: t.float({ nullable: true, resolve: (s) => s.temperature ?? null }),
    retrievalTopK: t.int({ nullable: true, resolve: (s) => s.retrievalTopK ?? null }),
    retrievalMode: t.string({ nullable: true, resolve: (s) => s.retrievalMode ?? null }),
    retrievalWeights: t.field({
      type: RetrievalWeights,
      nullable: true,
      description: "HYBRID fusion weights of search and ask; null: the embedding provider's default (docs/retrieval.md).",
      resolve: (s) => s.retrievalWeights ?? null,
    }),
    searchMaxChunksPerDocument: t.int({ nullable: true, resolve: (s) => s.searchMaxChunksPerDocument ?? null }),
    rerank: t.boolean({ nullable: true, resolve: (s) => s.rerank ?? null }),
  }),
});

interface ViewerShape {
  role: string;
  scopes: string[];
  userId: string | null;
  /** Read only when the client selects `apiKey` (a plain `viewer { role }` must not touch D1). */
  apiKey: () => Promise<ApiKeyRow | null>;
  tenant: TenantRow;
  platformAdmin: boolean;
}

const Viewer = builder.objectRef<ViewerShape>('Viewer').implement({
  fields: (t) => ({
    role: t.field({ type: RoleEnum, resolve: (v) => upper(v.role) as 'OWNER' }),
    scopes: t.exposeStringList('scopes'),
    userId: t.exposeID('userId', { nullable: true }),
    apiKey: t.field({ type: ApiKey, nullable: true, resolve: (v) => v.apiKey() }),
    tenant: t.field({ type: Tenant, resolve: (v) => v.tenant }),
    platformAdmin: t.exposeBoolean('platformAdmin'),
  }),
});

export const Member = builder.objectRef<MemberView>('Member').implement({
  description: 'A user (JWT `sub`) seen in this tenant. Roles are the IdP\'s claim; removeMember / restoreMember decide whether the tenant admits the user.',
  fields: (t) => ({
    userId: t.exposeID('userId'),
    role: t.field({ type: RoleEnum, description: 'The role of the latest token seen (for a removed user: when removed).', resolve: (m) => upper(m.role) }),
    email: t.exposeString('email', { nullable: true }),
    name: t.exposeString('name', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (m) => m.createdAt }),
    lastSeenAt: t.field({ type: 'DateTime', nullable: true, resolve: (m) => m.lastSeenAt }),
    removed: t.boolean({ description: 'Removed from this tenant: their tokens are refused here (FORBIDDEN, reason MEMBER_REMOVED).', resolve: (m) => m.removedAt !== null }),
    removedAt: t.field({ type: 'DateTime', nullable: true, resolve: (m) => m.removedAt }),
    removedBy: t.string({ nullable: true, description: '`user:<sub>` or `key:<api key id>` of who removed them.', resolve: (m) => m.removedBy }),
  }),
});

const TenantSettingsInput = builder.inputType('TenantSettingsInput', {
  description: 'Omit a field to keep its value; null resets it to its default.',
  fields: (t) => ({
    systemPrompt: t.string({ required: false, description: `Replaces the default persona of ask; at most ${INPUT_LIMITS.systemPrompt} characters.` }),
    allowedOrigins: t.stringList({ required: false, description: `Browser origins allowed by CORS (at most ${INPUT_LIMITS.allowedOrigins}); null: none.` }),
    chatModel: t.string({ required: false, description: 'One of chatModels; null: the deployment default.' }),
    temperature: t.float({ required: false, description: '0 to 2; null: the default.' }),
    retrievalTopK: t.int({ required: false, description: `Sources ask retrieves when it names no topK: 1 to ${MAX_ASK_TOP_K}; null: ${DEFAULT_ASK_TOP_K}.` }),
    retrievalMode: t.field({ type: SearchModeEnum, required: false, description: 'How ask retrieves its sources; null: HYBRID.' }),
    retrievalWeights: t.field({
      type: RetrievalWeightsInput,
      required: false,
      description: `HYBRID fusion weights for search and ask, each 0 to ${MAX_WEIGHT}, not both 0; null: the embedding provider's default.`,
    }),
    searchMaxChunksPerDocument: t.int({
      required: false,
      description: `search's cap on hits per document, 1 to ${MAX_CHUNKS_PER_DOCUMENT}; null: ${DEFAULT_MAX_CHUNKS_PER_DOCUMENT}. ask is not capped.`,
    }),
    rerank: t.boolean({ required: false, description: 'Rerank search and ask candidates when the deployment has a reranker (RERANK_URL); null: off.' }),
  }),
});

type SettingsInput = typeof TenantSettingsInput.$inferInput;

/** Validates the input and turns it into a patch: undefined keeps a setting, null resets it. */
function settingsPatch(input: SettingsInput, chatModels: { isAllowed(model: string): boolean; allowed: readonly string[] }): TenantSettingsPatch {
  const bad = (message: string, field: string, extra: Record<string, unknown> = {}) => new AppError('BAD_USER_INPUT', message, { field, ...extra });
  if (input.systemPrompt != null && input.systemPrompt.length > INPUT_LIMITS.systemPrompt) {
    throw bad(`systemPrompt must be at most ${INPUT_LIMITS.systemPrompt} characters`, 'systemPrompt');
  }
  if (input.temperature != null && (input.temperature < 0 || input.temperature > 2)) throw bad('temperature must be from 0 to 2', 'temperature');
  if (input.chatModel != null && !chatModels.isAllowed(input.chatModel)) {
    const allowed = [...chatModels.allowed];
    throw bad(`chatModel must be one of: ${allowed.join(', ')} (null resets it to the default)`, 'chatModel', { allowed });
  }
  // ask caps its sources at MAX_ASK_TOP_K: a larger default would be cut silently.
  if (input.retrievalTopK != null && (input.retrievalTopK < 1 || input.retrievalTopK > MAX_ASK_TOP_K)) {
    throw bad(`retrievalTopK must be from 1 to ${MAX_ASK_TOP_K}`, 'retrievalTopK');
  }
  const retrievalWeights = input.retrievalWeights ? validateWeights(input.retrievalWeights, 'retrievalWeights') : input.retrievalWeights;
  if (input.searchMaxChunksPerDocument != null) validateMaxPerDocument(input.searchMaxChunksPerDocument, 'searchMaxChunksPerDocument');
  if (input.allowedOrigins) {
    if (input.allowedOrigins.length > INPUT_LIMITS.allowedOrigins) {
      throw bad(`allowedOrigins takes at most ${INPUT_LIMITS.allowedOrigins} origins`, 'allowedOrigins');
    }
    for (const o of input.allowedOrigins) {
      if (o.length > INPUT_LIMITS.origin) throw bad(`an origin is at most ${INPUT_LIMITS.origin} characters`, 'allowedOrigins');
      let ok = false;
      try {
        ok = new URL(o).origin === o;
      } catch {
        ok = false;
      }
      if (!ok) throw bad(`"${o}" is not an origin like https://app.example.com`, 'allowedOrigins');
    }
  }
  return {
    systemPrompt: input.systemPrompt,
    allowedOrigins: input.allowedOrigins,
    chatModel: input.chatModel,
    temperature: input.temperature,
    retrievalTopK: input.retrievalTopK,
    retrievalMode: input.retrievalMode,
    retrievalWeights,
    searchMaxChunksPerDocument: input.searchMaxChunksPerDocument,
    rerank: input.rerank,
  };
}

builder.queryFields((t) => ({
  viewer: t.field({
    type: Viewer,
    description: 'The caller: user or API key, role, scopes and tenant.',
    resolve: async (_root, _args, ctx) => {
      const scope = allow(ctx, 'viewer');
      const p = ctx.app.principal;
      return {
        role: p.role,
        scopes: p.scopes,
        userId: p.userId,
        apiKey: async () => (p.apiKeyId ? scope.apiKeys.get(p.apiKeyId) : null),
        tenant: scope.tenant,
        platformAdmin: p.platformAdmin,
      };
    },
  }),
  tenant: t.field({ type: Tenant, resolve: (_r, _a, ctx) => allow(ctx, 'viewer').tenant }),
  members: t.field({
    type: [Member],
    resolve: async (_r, _a, ctx) => {
      const scope = allow(ctx, 'admin', 'admin');
      // The guard coalesces last-seen bookkeeping: write what it holds first, so members is current.
      await ctx.app.services.guards.forTenant(scope.tenantId).flushActivity();
      return scope.members.list();
    },
  }),
}));

builder.mutationFields((t) => ({
  updateTenantSettings: t.field({
    type: Tenant,
    args: { input: t.arg({ type: TenantSettingsInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const scope = allow(ctx, 'admin', 'admin');
      const patch = settingsPatch(input, await ctx.app.services.chatModels.policy());
      // Settings (allowed origins among them) are part of the guard's admission record.
      return changeAdmission(ctx.app.services.guards.forTenant(scope.tenantId), () => scope.settings.update(patch));
    },
  }),
}));
