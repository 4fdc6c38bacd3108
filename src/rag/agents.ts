/**
 * Agents (docs/agents.md): validation of what admins set, and what an ask takes from its
 * agent. An agent's null setting inherits the tenant's settings (which inherit the
 * deployment defaults), so a tenant without agents answers exactly as before.
 */
import type { ModelPolicySource } from '../ai/chat';
import { SLUG_RE } from '../db/platform-store';
import { knowledgeOf, type AgentData } from '../db/repositories/agents';
import type { TenantSettings } from '../db/repositories/tenant';
import type { AgentRow, ConversationRow } from '../db/schema';
import type { TenantScope } from '../db/tenant-scope';
import { AppError } from '../lib/errors';
import { checkedText, INPUT_LIMITS, optionalId } from '../lib/input';
import type { SearchFilter, SearchMode } from './types';

/** Bounds of an agent's settings (the answer's own bounds for topK; the model's for temperature). */
export const AGENT_LIMITS = {
  name: 200,
  description: 2_000,
  systemPrompt: INPUT_LIMITS.systemPrompt,
  knowledge: 50,
  maxTokens: 4_096,
  topK: 20,
} as const;

/** An update: an absent (undefined) key keeps its value, null resets it (as tenant settings do). */
export type AgentPatch = { [K in keyof AgentData]?: AgentData[K] | null };

/** How an ask names its agent (at most one of the two). */
export interface AgentRef {
  agentId?: string | null;
  agentSlug?: string | null;
}

/** What one ask uses: the agent's setting, else the tenant's, else the deployment default. */
export interface AskProfile {
  agent: AgentRow | null;
  systemPrompt: string | null;
  /** Before the allowlist check (ChatModelPolicy.resolve). */
  chatModel: string | null;
  temperature: number | null;
  maxTokens: number;
  topK: number;
  mode: SearchMode;
  /** Collection ids the retrieval is limited to; empty = no limit from the agent. */
  knowledge: string[];
}

const bad = (message: string, field: string, extra: Record<string, unknown> = {}) => new AppError('BAD_USER_INPUT', message, { field, ...extra });

export class AgentService {
  constructor(private readonly deps: { scope: TenantScope; models: ModelPolicySource }) {}

  /** Creates an agent; `limit` is the plan's agent limit (null = unlimited). */
  async create(input: AgentPatch, limit: number | null): Promise<AgentRow> {
    const { scope } = this.deps;
    scope.requireUnrestricted('manage agents');
    const data = await this.validate({
      slug: input.slug ?? '', name: input.name ?? '', description: input.description ?? null, systemPrompt: input.systemPrompt ?? null,
      chatModel: input.chatModel ?? null, temperature: input.temperature ?? null, maxTokens: input.maxTokens ?? null,
      retrievalMode: input.retrievalMode ?? null, retrievalTopK: input.retrievalTopK ?? null, knowledge: input.knowledge ?? [],
      active: input.active ?? true,
    });
    return scope.agents.create(data, limit);
  }

  /** Applies `patch` to an agent: undefined keeps a setting, null resets it; NOT_FOUND for an unknown or foreign id. */
  async update(id: string, patch: AgentPatch): Promise<AgentRow> {
    const { scope } = this.deps;
    scope.requireUnrestricted('manage agents');
    const current = await scope.agents.get(id);
    if (!current) throw new AppError('NOT_FOUND', 'Agent not found');
    if (patch.slug === null) throw bad('slug cannot be reset: give a new one', 'slug');
    if (patch.name === null) throw bad('name cannot be reset: give a new one', 'name');
    const set: string[] = [];
    const reset: string[] = [];
    for (const [k, v] of Object.entries(patch)) if (v !== undefined) (v === null ? reset : set).push(k);
    const pick = <K extends keyof AgentData>(k: K, dflt: AgentData[K], now: AgentData[K]): AgentData[K] =>
      patch[k] === undefined ? now : patch[k] === null ? dflt : (patch[k] as AgentData[K]);
    const data = await this.validate({
      slug: pick('slug', current.slug, current.slug),
      name: pick('name', current.name, current.name),
      description: pick('description', null, current.description),
      systemPrompt: pick('systemPrompt', null, current.systemPrompt),
      chatModel: pick('chatModel', null, current.chatModel),
      temperature: pick('temperature', null, current.temperature),
      maxTokens: pick('maxTokens', null, current.maxTokens),
      retrievalMode: pick('retrievalMode', null, current.retrievalMode),
      retrievalTopK: pick('retrievalTopK', null, current.retrievalTopK),
      knowledge: pick('knowledge', [], knowledgeOf(current)),
      active: pick('active', true, current.active),
    }, { keepModel: patch.chatModel === undefined });
    return scope.agents.update(current, data, { set, reset });
  }

  async delete(id: string): Promise<void> {
    this.deps.scope.requireUnrestricted('manage agents');
    await this.deps.scope.agents.delete(id);
  }

  /**
   * The agent an ask uses. A follow-up in a conversation uses the conversation's agent; naming
   * another one (or one for a conversation started without) is BAD_USER_INPUT. An unknown or
   * foreign agent, or one outside the credential's agents, is NOT_FOUND. A credential limited
   * to agents must name one for a new conversation. An inactive agent does not answer.
   */
  async forAsk(ref: AgentRef, conversation: ConversationRow | null): Promise<AgentRow | null> {
    const { scope } = this.deps;
    const agentId = optionalId(ref.agentId, 'agentId');
    const agentSlug = optionalId(ref.agentSlug, 'agentSlug');
    if (agentId && agentSlug) throw bad('give agentId or agentSlug, not both', 'agentId');
    let named: AgentRow | null = null;
    if (agentId || agentSlug) {
      named = agentId ? await scope.agents.get(agentId) : await scope.agents.getBySlug(agentSlug!);
      if (!named) throw new AppError('NOT_FOUND', 'Agent not found', { field: agentId ? 'agentId' : 'agentSlug' });
    }
    let agent = named;
    if (conversation) {
      if (named && named.id !== conversation.agentId) {
        throw bad(
          conversation.agentId
            ? 'This conversation belongs to another agent: omit the agent to continue it, or start a new conversation'
            : 'This conversation was started without an agent: omit the agent to continue it, or start a new conversation',
          agentId ? 'agentId' : 'agentSlug',
        );
      }
      agent = conversation.agentId ? await scope.agents.get(conversation.agentId) : null;
      if (conversation.agentId && !agent) throw bad('The agent of this conversation has been deleted: start a new conversation', 'conversationId', { agentDeleted: true });
    } else if (!agent && scope.allowedAgents !== null) {
      throw bad('This credential may only ask through its agents: give agentId or agentSlug', 'agentId');
    }
    if (agent && !agent.active) throw bad(`The agent "${agent.slug}" is not active`, agentSlug ? 'agentSlug' : 'agentId', { reason: 'inactive' });
    return agent;
  }

  /** Checks every field; BAD_USER_INPUT names the first bad one, NOT_FOUND an unknown knowledge collection. */
  private async validate(d: AgentData, opts: { keepModel?: boolean } = {}): Promise<AgentData> {
    const slug = d.slug.trim().toLowerCase();
    // The tenant slug rule (a DNS label), so agent slugs can appear in hosts and paths too.
    if (!SLUG_RE.test(slug)) throw bad('slug must be 1 to 63 characters a-z, 0-9 and -, not starting or ending with -', 'slug');
    const name = checkedText(d.name, 'name', AGENT_LIMITS.name);
    const description = d.description === null ? null : checkedText(d.description, 'description', AGENT_LIMITS.description, { allowEmpty: true }) || null;
    if (d.systemPrompt !== null && d.systemPrompt.length > AGENT_LIMITS.systemPrompt) {
      throw bad(`systemPrompt must be at most ${AGENT_LIMITS.systemPrompt} characters`, 'systemPrompt');
    }
    const systemPrompt = d.systemPrompt?.trim() ? d.systemPrompt : null;
    // A model the allowlist dropped since it was chosen may stay while the update does not touch it (ask falls back).
    // With its own provider, a tenant's agents choose from that provider's chatModels.
    const models = await this.deps.models.policy();
    if (d.chatModel !== null && !models.isAllowed(d.chatModel) && !opts.keepModel) {
      const allowed = [...models.allowed];
      throw bad(`chatModel must be one of: ${allowed.join(', ')} (null: the tenant's model)`, 'chatModel', { allowed });
    }
    if (d.temperature !== null && !(Number.isFinite(d.temperature) && d.temperature >= 0 && d.temperature <= 2)) {
      throw bad('temperature must be from 0 to 2', 'temperature');
    }
    if (d.maxTokens !== null && !(Number.isInteger(d.maxTokens) && d.maxTokens >= 1 && d.maxTokens <= AGENT_LIMITS.maxTokens)) {
      throw bad(`maxTokens must be from 1 to ${AGENT_LIMITS.maxTokens}`, 'maxTokens');
    }
    if (d.retrievalTopK !== null && !(Number.isInteger(d.retrievalTopK) && d.retrievalTopK >= 1 && d.retrievalTopK <= AGENT_LIMITS.topK)) {
      throw bad(`retrievalTopK must be from 1 to ${AGENT_LIMITS.topK}`, 'retrievalTopK');
    }
    if (d.retrievalMode !== null && !['VECTOR', 'KEYWORD', 'HYBRID'].includes(d.retrievalMode)) throw bad('unknown retrieval mode', 'retrievalMode');
    const knowledge = [...new Set(d.knowledge.map((id) => String(id).trim()))];
    if (knowledge.some((id) => !id)) throw bad('knowledge must not contain an empty id', 'knowledge');
    if (knowledge.length > AGENT_LIMITS.knowledge) throw bad(`knowledge takes at most ${AGENT_LIMITS.knowledge} collections`, 'knowledge');
    if (knowledge.length && (await this.deps.scope.collections.getMany(knowledge)).length !== knowledge.length) {
      throw new AppError('NOT_FOUND', 'Collection not found', { field: 'knowledge' });
    }
    if (typeof d.active !== 'boolean') throw bad('active must be true or false', 'active');
    return { ...d, slug, name, description, systemPrompt, knowledge };
  }
}

/**
 * What an ask uses: the agent's settings where it has them, else the tenant's, else the
 * defaults given. The caller's topK wins over both; its filter is narrowed to the knowledge.
 */
export function askProfile(
  settings: TenantSettings,
  agent: AgentRow | null,
  defaults: { maxTokens: number; topK: number; maxTopK: number },
): AskProfile {
  const topK = agent?.retrievalTopK ?? settings.retrievalTopK ?? defaults.topK;
  return {
    agent,
    systemPrompt: agent?.systemPrompt ?? settings.systemPrompt ?? null,
    chatModel: agent?.chatModel ?? settings.chatModel ?? null,
    temperature: agent?.temperature ?? settings.temperature ?? null,
    maxTokens: agent?.maxTokens ?? defaults.maxTokens,
    topK: Math.min(Math.max(topK, 1), defaults.maxTopK),
    mode: agent?.retrievalMode ?? settings.retrievalMode ?? 'HYBRID',
    knowledge: agent ? knowledgeOf(agent) : [],
  };
}

/**
 * The caller's filter limited to an agent's knowledge: its collections, or the part of the
 * caller's collection filter inside them (an empty intersection selects nothing).
 */
export function withinKnowledge(filter: SearchFilter | null, knowledge: string[]): SearchFilter | null {
  if (knowledge.length === 0) return filter;
  const asked = filter?.collectionIds;
  const collectionIds = asked ? asked.filter((id) => knowledge.includes(String(id).trim())) : knowledge;
  return { ...(filter ?? {}), collectionIds };
}
