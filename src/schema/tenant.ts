/** Tenant, viewer, members and the tenant's own settings. */
import type { ApiKeyRow, TenantRow } from '../db/schema';
import { parseSettings, type TenantSettings } from '../db/repositories/tenant';
import type { MemberView } from '../db/repositories/members';
import { AppError } from '../lib/errors';
import { INPUT_LIMITS } from '../lib/input';
import { allow } from './access';
import { ApiKey } from './api-keys';
import { builder } from './builder';
import { PlanEnum, RoleEnum, TenantStatusEnum, upper } from './enums';

export const Tenant = builder.objectRef<TenantRow>('Tenant').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    plan: t.field({ type: PlanEnum, resolve: (r) => upper(r.plan) }),
    status: t.field({ type: TenantStatusEnum, resolve: (r) => upper(r.status) }),
    region: t.exposeString('region', { nullable: true }),
    tier: t.exposeString('tier'),
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
  }),
});

interface ViewerShape {
  role: string;
  scopes: string[];
  userId: string | null;
  apiKey: ApiKeyRow | null;
  tenant: TenantRow;
  platformAdmin: boolean;
}

const Viewer = builder.objectRef<ViewerShape>('Viewer').implement({
  fields: (t) => ({
    role: t.field({ type: RoleEnum, resolve: (v) => upper(v.role) as 'OWNER' }),
    scopes: t.exposeStringList('scopes'),
    userId: t.exposeID('userId', { nullable: true }),
    apiKey: t.field({ type: ApiKey, nullable: true, resolve: (v) => v.apiKey }),
    tenant: t.field({ type: Tenant, resolve: (v) => v.tenant }),
    platformAdmin: t.exposeBoolean('platformAdmin'),
  }),
});

const Member = builder.objectRef<MemberView>('Member').implement({
  fields: (t) => ({
    userId: t.exposeID('userId'),
    role: t.field({ type: RoleEnum, resolve: (m) => upper(m.role) }),
    email: t.exposeString('email', { nullable: true }),
    name: t.exposeString('name', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (m) => m.createdAt }),
    lastSeenAt: t.field({ type: 'DateTime', nullable: true, resolve: (m) => m.lastSeenAt }),
  }),
});

const TenantSettingsInput = builder.inputType('TenantSettingsInput', {
  fields: (t) => ({
    systemPrompt: t.string({ required: false }),
    allowedOrigins: t.stringList({ required: false }),
    chatModel: t.string({ required: false }),
    temperature: t.float({ required: false }),
    retrievalTopK: t.int({ required: false }),
  }),
});

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
        apiKey: p.apiKeyId ? await scope.apiKeys.get(p.apiKeyId) : null,
        tenant: scope.tenant,
        platformAdmin: p.platformAdmin,
      };
    },
  }),
  tenant: t.field({ type: Tenant, resolve: (_r, _a, ctx) => allow(ctx, 'viewer').tenant }),
  members: t.field({ type: [Member], resolve: (_r, _a, ctx) => allow(ctx, 'admin', 'admin').members.list() }),
}));

builder.mutationFields((t) => ({
  updateTenantSettings: t.field({
    type: Tenant,
    args: { input: t.arg({ type: TenantSettingsInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const scope = allow(ctx, 'admin', 'admin');
      if (input.systemPrompt != null && input.systemPrompt.length > INPUT_LIMITS.systemPrompt) {
        throw new AppError('BAD_USER_INPUT', `systemPrompt must be at most ${INPUT_LIMITS.systemPrompt} characters`, { field: 'systemPrompt' });
      }
      if (input.temperature != null && (input.temperature < 0 || input.temperature > 2)) {
        throw new AppError('BAD_USER_INPUT', 'temperature must be from 0 to 2', { field: 'temperature' });
      }
      if (input.chatModel != null && !ctx.app.services.chatModels.isAllowed(input.chatModel)) {
        const allowed = ctx.app.services.chatModels.allowed;
        throw new AppError('BAD_USER_INPUT', `chatModel must be one of: ${allowed.join(', ')}`, { field: 'chatModel', allowed });
      }
      if (input.retrievalTopK != null && (input.retrievalTopK < 1 || input.retrievalTopK > 50)) {
        throw new AppError('BAD_USER_INPUT', 'retrievalTopK must be from 1 to 50', { field: 'retrievalTopK' });
      }
      if (input.allowedOrigins) {
        if (input.allowedOrigins.length > INPUT_LIMITS.allowedOrigins) {
          throw new AppError('BAD_USER_INPUT', `allowedOrigins takes at most ${INPUT_LIMITS.allowedOrigins} origins`, { field: 'allowedOrigins' });
        }
        for (const o of input.allowedOrigins) {
          if (o.length > INPUT_LIMITS.origin) {
            throw new AppError('BAD_USER_INPUT', `an origin is at most ${INPUT_LIMITS.origin} characters`, { field: 'allowedOrigins' });
          }
          let ok = false;
          try {
            ok = new URL(o).origin === o;
          } catch {
            ok = false;
          }
          if (!ok) throw new AppError('BAD_USER_INPUT', `"${o}" is not an origin like https://app.example.com`, { field: 'allowedOrigins' });
        }
      }
      return scope.settings.update({
        systemPrompt: input.systemPrompt ?? undefined,
        allowedOrigins: input.allowedOrigins ?? undefined,
        chatModel: input.chatModel ?? undefined,
        temperature: input.temperature ?? undefined,
        retrievalTopK: input.retrievalTopK ?? undefined,
      });
    },
  }),
}));
