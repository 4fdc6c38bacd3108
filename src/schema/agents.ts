/**
 * Agents (docs/agents.md): per-tenant assistants with their own prompt, model, temperature,
 * answer length, retrieval defaults and knowledge. Admins and owners manage them (with an
 * unrestricted credential); everyone with the chat scope lists them and asks through them.
 */
import type { GraphQLContext } from '../context';
import { knowledgeOf } from '../db/repositories/agents';
import type { AgentRow } from '../db/schema';
import { AppError } from '../lib/errors';
import { optionalId, optionalIdList } from '../lib/input';
import { pageSize } from '../lib/pagination';
import type { AgentUsageSnapshot } from '../objects/guard-types';
import { AGENT_LIMITS, type AgentPatch, type AgentService } from '../rag/agents';
import { allow } from './access';
import { builder } from './builder';
import { connectionType, toConnection } from './connection';
import { Collection } from './documents';
import { SearchModeEnum } from './enums';

function agentService(ctx: GraphQLContext): AgentService {
  const svc = ctx.app.services.agents;
  if (!svc) throw new AppError('FORBIDDEN', 'This operation needs a tenant: call it on the tenant host');
  return svc;
}

const AgentUsage = builder.objectRef<AgentUsageSnapshot>('AgentUsage').implement({
  description: "One agent's metered use this UTC calendar month, counted by the tenant's guard.",
  fields: (t) => ({
    period: t.exposeString('period', { description: 'YYYY-MM.' }),
    asks: t.exposeInt('asks'),
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
  }),
});

export const Agent = builder.objectRef<AgentRow>('Agent').implement({
  description: 'A named assistant of the tenant. A null setting inherits the tenant settings (then the deployment default).',
  fields: (t) => ({
    id: t.exposeID('id'),
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    systemPrompt: t.exposeString('systemPrompt', { nullable: true }),
    chatModel: t.exposeString('chatModel', { nullable: true }),
    temperature: t.exposeFloat('temperature', { nullable: true }),
    maxTokens: t.exposeInt('maxTokens', { nullable: true, description: 'Upper bound on an answer; null: 1024.' }),
    retrievalMode: t.field({ type: SearchModeEnum, nullable: true, resolve: (a) => a.retrievalMode }),
    retrievalTopK: t.exposeInt('retrievalTopK', { nullable: true }),
    knowledge: t.field({
      type: [Collection],
      description: 'The collections the agent answers from; empty: every collection the caller may see.',
      // Only the collections the caller itself may see (a restricted credential sees no others).
      resolve: async (a, _args, ctx) => allow(ctx, 'viewer').collections.getMany(knowledgeOf(a)),
    }),
    active: t.exposeBoolean('active', { description: 'An inactive agent does not answer (ask: BAD_USER_INPUT).' }),
    createdAt: t.field({ type: 'DateTime', resolve: (a) => a.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (a) => a.updatedAt }),
    usage: t.field({
      type: AgentUsage,
      description: 'This month’s asks and tokens (admins and owners with an unrestricted credential).',
      resolve: async (a, _args, ctx) => {
        const scope = allow(ctx, 'admin', 'admin');
        scope.requireUnrestricted('read usage per agent');
        const guard = ctx.app.guard ?? ctx.app.services.guards.forTenant(scope.tenantId);
        const [row] = await guard.agentUsage([a.id]);
        return row!;
      },
    }),
  }),
});

const AgentConnection = connectionType('Agent', Agent);

type InputFields = Parameters<NonNullable<Parameters<typeof builder.inputType>[1]['fields']>>[0];

/** The same fields for create (slug and name required) and update (everything optional). */
const agentFields = <R extends boolean>(required: R) => (t: InputFields) => ({
  slug: t.string({ required, description: 'Unique per tenant; a DNS label like tenant slugs (a-z, 0-9, -; at most 63).' }),
  name: t.string({ required, description: `At most ${AGENT_LIMITS.name} characters.` }),
  description: t.string({ required: false }),
  systemPrompt: t.string({ required: false, description: `At most ${AGENT_LIMITS.systemPrompt} characters; null: the tenant's.` }),
  chatModel: t.string({ required: false, description: "One of chatModels; null: the tenant's." }),
  temperature: t.float({ required: false, description: "0 to 2; null: the tenant's." }),
  maxTokens: t.int({ required: false, description: `Upper bound on an answer, 1 to ${AGENT_LIMITS.maxTokens}; null: 1024.` }),
  retrievalMode: t.field({ type: SearchModeEnum, required: false, description: "null: the tenant's." }),
  retrievalTopK: t.int({ required: false, description: `1 to ${AGENT_LIMITS.topK}; null: the tenant's.` }),
  knowledge: t.idList({ required: false, description: `Collection ids (at most ${AGENT_LIMITS.knowledge}); empty or null: every collection.` }),
  active: t.boolean({ required: false, description: 'Default true.' }),
});

const CreateAgentInput = builder.inputType('CreateAgentInput', { fields: agentFields(true) });
const UpdateAgentInput = builder.inputType('UpdateAgentInput', {
  description: 'Omit a field to keep its value; null resets it (to the tenant setting it inherits; knowledge: all; active: true).',
  fields: agentFields(false),
});

type AgentInput = typeof UpdateAgentInput.$inferInput;

/** The GraphQL input as a patch: absent stays undefined, null stays null. */
function toPatch(input: AgentInput): AgentPatch {
  const out: AgentPatch = {};
  const keys = ['slug', 'name', 'description', 'systemPrompt', 'chatModel', 'temperature', 'maxTokens', 'retrievalMode', 'retrievalTopK', 'active'] as const;
  for (const k of keys) if (input[k] !== undefined) (out as Record<string, unknown>)[k] = input[k];
  if (input.knowledge !== undefined) out.knowledge = optionalIdList(input.knowledge, 'knowledge');
  return out;
}

builder.queryFields((t) => ({
  agents: t.field({
    type: AgentConnection,
    description: 'The tenant’s agents, oldest first (a credential limited to agents: only those).',
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: async (_r, args, ctx) => toConnection(await allow(ctx, 'viewer', 'chat').agents.list(pageSize(args.first), args.after), args.after),
  }),
  agent: t.field({
    type: Agent,
    nullable: true,
    description: 'One agent by id or by slug (give exactly one); null when there is none the caller may use.',
    args: { id: t.arg.id({ required: false }), slug: t.arg.string({ required: false }) },
    resolve: (_r, args, ctx) => {
      const scope = allow(ctx, 'viewer', 'chat');
      const id = optionalId(args.id, 'id');
      const slug = optionalId(args.slug, 'slug');
      if (!id === !slug) throw new AppError('BAD_USER_INPUT', 'give exactly one of id or slug', { field: 'id' });
      return id ? scope.agents.get(id) : scope.agents.getBySlug(slug!);
    },
  }),
}));

builder.mutationFields((t) => ({
  createAgent: t.field({
    type: Agent,
    description: 'Creates an agent within the plan’s agent limit (QUOTA_EXCEEDED beyond it).',
    args: { input: t.arg({ type: CreateAgentInput, required: true }) },
    resolve: (_r, { input }, ctx) => {
      allow(ctx, 'admin', 'admin');
      return agentService(ctx).create(toPatch(input), ctx.app.limits?.agents ?? null);
    },
  }),
  updateAgent: t.field({
    type: Agent,
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateAgentInput, required: true }) },
    resolve: (_r, { id, input }, ctx) => {
      allow(ctx, 'admin', 'admin');
      return agentService(ctx).update(String(id), toPatch(input));
    },
  }),
  deleteAgent: t.boolean({
    description: 'Deletes the agent. Its conversations keep their history and say the agent was deleted (agentDeleted); they cannot be continued.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, { id }, ctx) => {
      allow(ctx, 'admin', 'admin');
      await agentService(ctx).delete(String(id));
      return true;
    },
  }),
}));
