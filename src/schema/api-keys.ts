import { storedIdList } from '../auth/api-keys';
import type { ApiKeyScope } from '../auth/principal';
import { optionalIdList } from '../lib/input';
import type { ApiKeyRow } from '../db/schema';
import { changeAdmission } from '../objects/guard-client';
import { allow } from './access';
import { builder } from './builder';
import { ApiKeyScopeEnum, lower, upper } from './enums';

export const ApiKey = builder.objectRef<ApiKeyRow>('ApiKey').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', { description: 'Public part of the key: erk_<prefix>_…' }),
    scopes: t.field({ type: [ApiKeyScopeEnum], resolve: (k) => (JSON.parse(k.scopes) as ApiKeyScope[]).map(upper) }),
    rateLimitPerMinute: t.exposeInt('rateLimitPerMinute', { nullable: true }),
    expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.expiresAt }),
    lastUsedAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.lastUsedAt }),
    revokedAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.revokedAt }),
    revoked: t.boolean({ resolve: (k) => !!k.revokedAt }),
    createdAt: t.field({ type: 'DateTime', resolve: (k) => k.createdAt }),
    collectionIds: t.idList({
      nullable: true,
      description: 'The collections the key is restricted to; null: unrestricted.',
      resolve: (k) => storedIdList(k.collectionIds),
    }),
    agentIds: t.idList({ nullable: true, description: 'The agents the key may ask through; null: any.', resolve: (k) => storedIdList(k.agentIds) }),
  }),
});

const CreatedApiKey = builder.objectRef<{ apiKey: ApiKeyRow; secret: string }>('CreatedApiKey').implement({
  fields: (t) => ({
    apiKey: t.field({ type: ApiKey, resolve: (c) => c.apiKey }),
    secret: t.exposeString('secret', { description: 'The whole key. Shown once: it is not stored and cannot be read again.' }),
  }),
});

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    scopes: t.field({ type: [ApiKeyScopeEnum], required: true }),
    expiresAt: t.field({ type: 'DateTime', required: false }),
    rateLimitPerMinute: t.int({ required: false }),
    collectionIds: t.idList({
      required: false,
      description: 'Restrict the key to these collections: outside them it sees what a foreign tenant would (nothing). Omit: unrestricted.',
    }),
    agentIds: t.idList({ required: false, description: 'Restrict the key to asking through these agents. Omit: unrestricted.' }),
  }),
});

builder.queryFields((t) => ({
  apiKeys: t.field({
    type: [ApiKey],
    resolve: async (_r, _a, ctx) => {
      const scope = allow(ctx, 'admin', 'admin');
      // last_used_at is coalesced in the guard: write what it holds first.
      await ctx.app.services.guards.forTenant(scope.tenantId).flushActivity();
      return scope.apiKeys.list();
    },
  }),
}));

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreatedApiKey,
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const scope = allow(ctx, 'admin', 'admin');
      const { row, token } = await scope.apiKeys.create({
        name: input.name,
        scopes: input.scopes.map(lower),
        expiresAt: input.expiresAt ?? null,
        rateLimitPerMinute: input.rateLimitPerMinute ?? null,
        collectionIds: optionalIdList(input.collectionIds, 'collectionIds'),
        agentIds: optionalIdList(input.agentIds, 'agentIds'),
      });
      return { apiKey: row, secret: token };
    },
  }),
  revokeApiKey: t.field({
    type: ApiKey,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, { id }, ctx) => {
      const scope = allow(ctx, 'admin', 'admin');
      // The guard holds the key's grant: revocation is bracketed so the next request sees it.
      return changeAdmission(ctx.app.services.guards.forTenant(scope.tenantId), () => scope.apiKeys.revoke(String(id)));
    },
  }),
}));
