/**
 * A tenant's own OpenAI-compatible model provider (DESIGN §14, docs/chat.md "Bring your own
 * provider"): owners and admins set, test and clear it; the key is write-only (the API shows
 * its last four characters and when it was set).
 */
import type { ModelProviderView, ProbeResult } from '../ai/provider-settings';
import { AppError } from '../lib/errors';
import { allow } from './access';
import { builder } from './builder';

export const ModelProvider = builder.objectRef<ModelProviderView>('ModelProvider').implement({
  description: "The tenant's own OpenAI-compatible provider, used for its chat and embeddings instead of the deployment's.",
  fields: (t) => ({
    baseUrl: t.exposeString('baseUrl'),
    keyLast4: t.exposeString('keyLast4', { description: 'The last four characters of the API key (the key itself is never returned).' }),
    keySetAt: t.field({ type: 'DateTime', description: 'When the key was set.', resolve: (p) => p.keySetAt }),
    chatModels: t.exposeStringList('chatModels', { description: 'Models ask and agents may use; the first is the default.' }),
    embeddingModel: t.exposeString('embeddingModel'),
    embeddingDimensions: t.exposeInt('embeddingDimensions'),
  }),
});

const ModelProviderProblem = builder.enumType('ModelProviderProblem', {
  values: ['BAD_KEY', 'UNKNOWN_MODEL', 'UNREACHABLE', 'WRONG_DIMENSIONS', 'UPSTREAM_ERROR'] as const,
});

const ModelProviderTest = builder.objectRef<ProbeResult>('ModelProviderTest').implement({
  description: 'The outcome of one tiny embeddings call with the stored provider.',
  fields: (t) => ({
    ok: t.exposeBoolean('ok'),
    problem: t.field({ type: ModelProviderProblem, nullable: true, resolve: (r) => r.problem }),
    message: t.exposeString('message', { description: 'What happened, in our words (never the provider message, which may quote the key).' }),
  }),
});

const ModelProviderInput = builder.inputType('ModelProviderInput', {
  fields: (t) => ({
    baseUrl: t.string({ required: true, description: 'OpenAI-compatible API root, e.g. https://api.openai.com/v1 (https and a public host in production).' }),
    apiKey: t.string({ required: true, description: 'At most 1,024 characters; stored encrypted, never returned.' }),
    chatModels: t.stringList({ required: true, description: 'At least one; the first is the default chat model.' }),
    embeddingModel: t.string({ required: true }),
    embeddingDimensions: t.int({ required: true, description: '1 to 1536.' }),
  }),
});

function providers(ctx: Parameters<typeof allow>[0]) {
  allow(ctx, 'admin', 'admin');
  const p = ctx.app.services.providers;
  if (!p) throw new AppError('FORBIDDEN', 'This operation needs a tenant: call it on the tenant host');
  return p;
}

builder.queryFields((t) => ({
  modelProvider: t.field({
    type: ModelProvider,
    nullable: true,
    description: "The tenant's own model provider; null: the deployment's is used.",
    resolve: (_r, _a, ctx) => providers(ctx).view(),
  }),
}));

builder.mutationFields((t) => ({
  setModelProvider: t.field({
    type: ModelProvider,
    args: { input: t.arg({ type: ModelProviderInput, required: true }) },
    resolve: (_r, { input }, ctx) => providers(ctx).set(input),
  }),
  clearModelProvider: t.boolean({
    description: "Back to the deployment's provider; false when the tenant had none.",
    resolve: (_r, _a, ctx) => providers(ctx).clear(),
  }),
  testModelProvider: t.field({
    type: ModelProviderTest,
    resolve: (_r, _a, ctx) => providers(ctx).test(),
  }),
}));
