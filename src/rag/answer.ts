/**
 * The ask service (DESIGN §6): validate → find the conversation → reserve one ask, the
 * answer's max tokens and the prompt's ceiling in the TenantGuard → retrieve (which reserves its own embedding
 * tokens) → build the prompt → call the model → store the question and the answer (with
 * sources, model and token counts) in one D1 batch → settle the reservation with the
 * model's real token counts (or give it back if no answer came).
 *
 * Invariants:
 * - Nothing is stored unless the model produced a complete answer: a failed or cut-off
 *   model call leaves no question without its answer and no new, empty conversation.
 * - Quotas are reserved before any model call, so a refused ask costs nothing upstream, and
 *   N concurrent asks against M remaining asks answer exactly M (a read-only check would
 *   let all N through: each sees the same remaining figure).
 * - The stored answer is exactly the text the client received (streamed or not).
 * - Every source comes from the tenant-checked retriever and is re-checked here.
 */
import type { ChatCompletion, ChatProvider, ChatRequest, ChatStreamEvent, ModelPolicySource } from '../ai/chat';
import { resolveTemperature } from '../ai/chat';
import type { AgentRow, ConversationRow } from '../db/schema';
import type { StoredSource } from '../db/repositories/conversations';
import type { TenantScope } from '../db/tenant-scope';
import type { PlanLimits } from '../env';
import { AppError } from '../lib/errors';
import { newId } from '../lib/ids';
import { optionalId } from '../lib/input';
import { errorDetail, type Logger } from '../lib/log';
import type { GuardClient, Reservation } from '../objects/guard-types';
import { AgentService, askProfile, withinKnowledge } from './agents';
import { buildPrompt, conversationTitle, DEFAULT_BUDGET, promptTokenCeiling, type BuiltPrompt, type HistoryMessage, type PromptBudget } from './prompt';
import type { Hit, Retriever, SearchFilter, SearchMode } from './types';

export interface AskInput {
  question: string;
  conversationId?: string | null;
  filter?: SearchFilter | null;
  topK?: number | null;
  /** The agent that answers (at most one of the two; a follow-up uses the conversation's). */
  agentId?: string | null;
  agentSlug?: string | null;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface AnswerResult {
  text: string;
  /** What `[n]` in the text refers to: `sources[n-1]`. */
  sources: Hit[];
  conversation: ConversationRow;
  /** The agent that answered; null = the tenant's defaults. */
  agent: AgentRow | null;
  model: string;
  usage: TokenUsage;
  /** The stored assistant message. */
  messageId: string;
}

export type AnswerStreamEvent =
  | { type: 'DELTA'; delta: string }
  | { type: 'SOURCES'; sources: Hit[] }
  | { type: 'DONE'; result: AnswerResult };

export const MAX_QUESTION_CHARS = 4_000;
export const DEFAULT_TOP_K = 5;
/** More context than this rarely helps an answer and only costs tokens. */
export const MAX_TOP_K = 20;
/** Upper bound on an answer's length; also what the completion-token quota check reserves. */
export const ANSWER_MAX_TOKENS = 1_024;
/** Messages read for history before the token budget trims them. */
const HISTORY_MESSAGES = 40;

export interface AnswerServiceDeps {
  scope: TenantScope;
  retriever: Retriever | null;
  provider: ChatProvider;
  /** The tenant's chat models (its own provider's, or the deployment allowlist). */
  models: ModelPolicySource;
  /** Resolves the asking agent; built from scope and models when not given. */
  agents?: AgentService;
  guard: GuardClient | null;
  limits: PlanLimits | null;
  log: Logger;
  budget?: PromptBudget;
  maxTokens?: number;
}

interface Plan {
  question: string;
  askedAt: number;
  conversation: ConversationRow | null;
  agent: AgentRow | null;
  lastMessageAt: number;
  prompt: BuiltPrompt;
  request: ChatRequest;
  /** One ask and `maxTokens` completion tokens, held since `prepare`. */
  reservation: Reservation;
}

/** Without a guard (GUARD_ENABLED=false) nothing is metered. */
const UNMETERED: Reservation = { settle: async () => undefined, release: async () => undefined };

const iso = (ms: number) => new Date(ms).toISOString();

export class AnswerService {
  private readonly agents: AgentService;

  constructor(private readonly deps: AnswerServiceDeps) {
    this.agents = deps.agents ?? new AgentService({ scope: deps.scope, models: deps.models });
  }

  /** Answers a question and stores the exchange. */
  async ask(input: AskInput): Promise<AnswerResult> {
    const plan = await this.prepare(input);
    let completion: ChatCompletion;
    try {
      completion = await this.deps.provider.complete(plan.request);
    } catch (err) {
      await plan.reservation.release();
      throw this.modelFailed(err);
    }
    return this.store(plan, completion);
  }

  /**
   * Opens a streamed answer. Everything that can refuse the ask (input, conversation
   * access, quota, the model's first response) happens before this resolves, so those
   * failures are ordinary GraphQL errors; afterwards the iterable yields DELTA events,
   * then SOURCES and DONE once the answer is stored — or throws UPSTREAM_UNAVAILABLE
   * having stored nothing.
   */
  async openStream(input: AskInput, signal?: AbortSignal): Promise<AsyncIterable<AnswerStreamEvent>> {
    const plan = await this.prepare(input);
    plan.request.signal = signal;
    let upstream: AsyncIterable<ChatStreamEvent>;
    try {
      upstream = await this.deps.provider.stream(plan.request);
    } catch (err) {
      await plan.reservation.release();
      throw this.modelFailed(err);
    }
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- used inside the generator below
    const self = this;
    return (async function* () {
      let streamed = '';
      let final: ChatCompletion | null = null;
      try {
        try {
          for await (const ev of upstream) {
            if (ev.type === 'delta') {
              streamed += ev.text;
              yield { type: 'DELTA', delta: ev.text } as const;
            } else {
              final = ev;
            }
          }
        } catch (err) {
          throw self.modelFailed(err);
        }
        if (!final) throw self.modelFailed(new Error('stream ended without a final event'));
        const result = await self.store(plan, { ...final, text: streamed });
        yield { type: 'SOURCES', sources: result.sources } as const;
        yield { type: 'DONE', result } as const;
      } finally {
        // A stream that broke off or that the client left: no complete answer, nothing
        // stored, so the reservation goes back (a no-op once store() has settled it).
        await plan.reservation.release();
      }
    })();
  }

  private async prepare(input: AskInput): Promise<Plan> {
    const { scope, guard, limits, models } = this.deps;
    const askedAt = Date.now();
    const question = input.question.trim();
    if (!question || question.length > MAX_QUESTION_CHARS) {
      throw new AppError('BAD_USER_INPUT', `question must be 1 to ${MAX_QUESTION_CHARS} characters`, { field: 'question' });
    }
    if (input.topK != null && (!Number.isInteger(input.topK) || input.topK < 1 || input.topK > MAX_TOP_K)) {
      throw new AppError('BAD_USER_INPUT', `topK must be from 1 to ${MAX_TOP_K}`, { field: 'topK' });
    }
    // "" is a mistake, not a request for a new conversation (omit the id for that).
    optionalId(input.conversationId, 'conversationId');
    const settings = scope.settings.get();

    let conversation: ConversationRow | null = null;
    let history: HistoryMessage[] = [];
    let lastMessageAt = 0;
    if (input.conversationId) {
      conversation = await scope.conversations.get(input.conversationId);
      if (!conversation) throw new AppError('NOT_FOUND', 'Conversation not found');
      // Admins may read anyone's conversation, but words are only put in the owner's mouth by the owner.
      if (conversation.ownerId !== scope.actor) {
        throw new AppError('FORBIDDEN', 'Only the owner can continue a conversation');
      }
      const rows = await scope.conversations.messages(conversation.id, HISTORY_MESSAGES);
      history = rows.map((m) => ({ role: m.role === 'assistant' ? 'assistant' : 'user', content: m.content }));
      lastMessageAt = rows.length ? Date.parse(rows.at(-1)!.createdAt) : 0;
    }

    const agent = await this.agents.forAsk(input, conversation);
    // The agent's settings where it has them, else the tenant's (a tenant without agents answers as before).
    const profile = askProfile(settings, agent, { maxTokens: this.deps.maxTokens ?? ANSWER_MAX_TOKENS, topK: DEFAULT_TOP_K, maxTopK: MAX_TOP_K });
    const maxTokens = profile.maxTokens;
    // Reserve the ask, the whole answer and the longest prompt it may send in one guard event:
    // a tenant never goes over its ask, completion or prompt budget (its plan's, or its own
    // spend caps), however many asks run at once. Everything after it that fails gives it back.
    const promptTokens = promptTokenCeiling({ systemPrompt: profile.systemPrompt, question, budget: this.deps.budget });
    const reservation = guard && limits ? await guard.reserve(limits, { asks: 1, completionTokens: maxTokens, promptTokens }) : UNMETERED;
    try {
      return await this.planUnder(reservation, { input, question, askedAt, conversation, agent, lastMessageAt, history, profile, maxTokens });
    } catch (err) {
      await reservation.release();
      throw err;
    }
  }

  /** The rest of `prepare`, under the reservation: retrieval, the prompt and the model request. */
  private async planUnder(
    reservation: Reservation,
    p: {
      input: AskInput; question: string; askedAt: number; conversation: ConversationRow | null; agent: AgentRow | null;
      lastMessageAt: number; history: HistoryMessage[]; profile: ReturnType<typeof askProfile>; maxTokens: number;
    },
  ): Promise<Plan> {
    const { models } = this.deps;
    const { input, question, askedAt, conversation, agent, lastMessageAt, history, profile, maxTokens } = p;
    const topK = input.topK ?? profile.topK;
    const mode: SearchMode = profile.mode;
    // Retrieval stays inside the agent's knowledge (and, in the scope, inside the credential's collections).
    const hits = await this.retrieve({ query: question, topK, mode, filter: withinKnowledge(input.filter ?? null, profile.knowledge) });

    const prompt = buildPrompt({
      systemPrompt: profile.systemPrompt, history, question, hits, budget: this.deps.budget ?? DEFAULT_BUDGET,
    });
    const policy = await models.policy();
    if (profile.chatModel && !policy.isAllowed(profile.chatModel)) {
      this.deps.log.warn('chat model is not allowed any more; using the default', { model: profile.chatModel, agentId: agent?.id ?? null });
    }
    const request: ChatRequest = {
      model: policy.resolve(profile.chatModel),
      temperature: resolveTemperature(profile.temperature),
      maxTokens,
      messages: prompt.messages,
      question,
      sources: prompt.sources,
    };
    return { question, askedAt, conversation, agent, lastMessageAt, prompt, request, reservation };
  }

  private async retrieve(req: { query: string; topK: number; mode: SearchMode; filter: SearchFilter | null }): Promise<Hit[]> {
    const { retriever, scope, log } = this.deps;
    if (!retriever) return [];
    const hits = await retriever.search(req);
    // The retriever already checks tenancy; an answer is the one place a leak would be read aloud, so check again.
    const own = hits.filter((h) => h.document.tenantId === scope.tenantId);
    if (own.length !== hits.length) log.error('retriever returned foreign hits; dropped', { dropped: hits.length - own.length });
    return own;
  }

  private async store(plan: Plan, completion: ChatCompletion): Promise<AnswerResult> {
    const { scope } = this.deps;
    // Strictly increasing timestamps keep (created_at, id) ordering true to the exchange.
    const userAt = Math.max(plan.askedAt, plan.lastMessageAt + 1);
    const answerAt = Math.max(Date.now(), userAt + 1);
    const isNew = !plan.conversation;
    const conversation: ConversationRow = plan.conversation
      ? { ...plan.conversation, updatedAt: iso(answerAt) }
      : {
          id: newId(), tenantId: scope.tenantId, ownerId: scope.actor, title: conversationTitle(plan.question),
          createdAt: iso(userAt), updatedAt: iso(answerAt), agentId: plan.agent?.id ?? null,
        };
    const messageId = newId();
    const usage = {
      promptTokens: completion.usage.promptTokens,
      completionTokens: completion.usage.completionTokens,
      totalTokens: completion.usage.promptTokens + completion.usage.completionTokens,
    };
    const sources: StoredSource[] = plan.prompt.hits.map((h) => ({
      chunkId: h.chunkId, documentId: h.documentId, chunkIndex: h.chunkIndex, score: h.score, text: h.text, page: h.page, heading: h.heading,
    }));
    try {
      await scope.conversations.appendTurn({
        conversation: { id: conversation.id, title: conversation.title, createdAt: conversation.createdAt, isNew, agentId: conversation.agentId },
        messages: [
          { id: newId(), role: 'user', content: plan.question, sources: [], model: null, promptTokens: 0, completionTokens: 0, createdAt: iso(userAt) },
          {
            id: messageId, role: 'assistant', content: completion.text, sources, model: completion.model,
            promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, createdAt: iso(answerAt),
          },
        ],
        audit: {
          action: 'conversation.ask', targetType: 'conversation', targetId: conversation.id,
          details: {
            messageId, model: completion.model, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, sources: sources.length,
            ...(plan.agent ? { agentId: plan.agent.id } : {}),
          },
        },
      });
    } finally {
      // The model has answered, so its tokens are spent whether or not the exchange could be stored.
      // Settled once: the tenant's counters take the difference, the agent's (if any) the real figures.
      await plan.reservation.settle(
        { asks: 1, completionTokens: usage.completionTokens, promptTokens: usage.promptTokens },
        plan.agent ? { agentId: plan.agent.id } : undefined,
      );
    }
    return { text: completion.text, sources: plan.prompt.hits, conversation, agent: plan.agent, model: completion.model, usage, messageId };
  }

  private modelFailed(err: unknown): AppError {
    const app = err instanceof AppError ? err : new AppError('UPSTREAM_UNAVAILABLE', 'The language model is unavailable, try again', { reason: 'error' });
    if (app.code === 'UPSTREAM_UNAVAILABLE') {
      this.deps.log.warn('chat model failed', { ...errorDetail(app.cause ?? err), reason: app.extensions.reason });
    }
    return app;
  }
}
