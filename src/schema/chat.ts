/**
 * Chat (DESIGN §6/§7): ask, askStream (subscription over SSE), conversations and their
 * messages. Viewers may ask — asking is the read path of a RAG product — but API keys
 * (and scoped JWTs) need the `chat` scope.
 */
import type { GraphQLContext } from '../context';
import type { ConversationRow } from '../db/schema';
import { MAX_MESSAGES } from '../db/repositories/conversations';
import type { TenantScope } from '../db/tenant-scope';
import { AppError } from '../lib/errors';
import { errorDetail } from '../lib/log';
import { pageSize } from '../lib/pagination';
import type { AnswerResult, AnswerService, AskInput as AskInputData, TokenUsage as TokenUsageData } from '../rag/answer';
import { messagesWithSources, type MessageWithSources } from '../rag/citations';
import type { Hit } from '../rag/types';
import { allow } from './access';
import { Agent } from './agents';
import { builder } from './builder';
import { connectionType, toConnection } from './connection';
import { SearchFilterInput, SearchHit, toFilter } from './search-types';

type AnswerEventShape =
  | { type: 'DELTA'; delta: string }
  | { type: 'SOURCES'; sources: Hit[] }
  | { type: 'DONE'; result: AnswerResult }
  | { type: 'ERROR'; error: { code: string; message: string } };

const chatScope = (ctx: GraphQLContext): TenantScope => allow(ctx, 'viewer', 'chat');

function answers(ctx: GraphQLContext): AnswerService {
  const svc = ctx.app.services.answers;
  if (!svc) throw new AppError('FORBIDDEN', 'This operation needs a tenant: call it on the tenant host');
  return svc;
}

/** The agent behind a conversation or message: null when there was none, or it has been deleted. */
const agentOf = (agentId: string | null, ctx: GraphQLContext) => (agentId ? chatScope(ctx).agents.get(agentId) : null);
const agentGone = async (agentId: string | null, ctx: GraphQLContext) => !!agentId && !(await chatScope(ctx).agents.get(agentId));

const TokenUsage = builder.objectRef<TokenUsageData>('TokenUsage').implement({
  fields: (t) => ({
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
    totalTokens: t.exposeInt('totalTokens'),
  }),
});

const Message = builder.objectRef<MessageWithSources>('Message').implement({
  fields: (t) => ({
    id: t.id({ resolve: (m) => m.row.id }),
    role: t.string({ description: 'user or assistant', resolve: (m) => m.row.role }),
    content: t.string({ resolve: (m) => m.row.content }),
    sources: t.field({
      type: [SearchHit],
      description:
        'What [n] in an answer refers to: sources[n-1]. A source whose document has been deleted since keeps its place ' +
        'as a placeholder (documentDeleted: true, document: null, no text), so the numbering never shifts.',
      resolve: (m) => m.sources,
    }),
    model: t.string({ nullable: true, resolve: (m) => m.row.model }),
    agent: t.field({ type: Agent, nullable: true, description: 'The agent that answered (null: the tenant defaults, or deleted since).', resolve: (m, _a, ctx) => agentOf(m.row.agentId, ctx) }),
    agentDeleted: t.boolean({ description: 'True when the message was written by an agent that has been deleted since.', resolve: (m, _a, ctx) => agentGone(m.row.agentId, ctx) }),
    promptTokens: t.int({ resolve: (m) => m.row.promptTokens }),
    completionTokens: t.int({ resolve: (m) => m.row.completionTokens }),
    createdAt: t.field({ type: 'DateTime', resolve: (m) => m.row.createdAt }),
  }),
});

const Conversation = builder.objectRef<ConversationRow>('Conversation').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    title: t.exposeString('title', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (c) => c.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (c) => c.updatedAt }),
    agent: t.field({ type: Agent, nullable: true, description: 'The agent of this conversation (null: the tenant defaults, or deleted since).', resolve: (c, _a, ctx) => agentOf(c.agentId, ctx) }),
    agentDeleted: t.boolean({
      description: 'True when the conversation’s agent has been deleted: its history stays readable, it cannot be continued.',
      resolve: (c, _a, ctx) => agentGone(c.agentId, ctx),
    }),
    messages: t.field({
      type: [Message],
      description: `The most recent messages (default 100, at most ${MAX_MESSAGES}), oldest first.`,
      args: { last: t.arg.int({ required: false }) },
      resolve: async (c, { last }, ctx) => {
        const n = last ?? 100;
        if (!Number.isInteger(n) || n < 1 || n > MAX_MESSAGES) {
          throw new AppError('BAD_USER_INPUT', `last must be from 1 to ${MAX_MESSAGES}`, { field: 'last' });
        }
        const scope = chatScope(ctx);
        return messagesWithSources(scope, await scope.conversations.messages(c.id, n));
      },
    }),
  }),
});

const ConversationConnection = connectionType('Conversation', Conversation);

const Answer = builder.objectRef<AnswerResult>('Answer').implement({
  fields: (t) => ({
    text: t.exposeString('text'),
    sources: t.field({ type: [SearchHit], description: 'What [n] in the text refers to: sources[n-1].', resolve: (a) => a.sources }),
    conversation: t.field({ type: Conversation, resolve: (a) => a.conversation }),
    agent: t.field({ type: Agent, nullable: true, description: 'The agent that answered; null: the tenant defaults.', resolve: (a) => a.agent }),
    model: t.exposeString('model', { description: '"extractive-offline" when no language model is configured.' }),
    usage: t.field({ type: TokenUsage, resolve: (a) => a.usage }),
    messageId: t.exposeID('messageId', { description: 'The stored assistant message.' }),
  }),
});

const AnswerEventType = builder.enumType('AnswerEventType', {
  values: {
    DELTA: { description: 'A piece of the answer text; concatenate the deltas in order.' },
    SOURCES: { description: 'The sources the answer cites ([n] is sources[n-1]); sent after the last delta.' },
    DONE: { description: 'The answer is stored: message id, conversation, model and token usage. Last event.' },
    ERROR: { description: 'The answer failed after streaming began; nothing was stored. Last event.' },
  } as const,
});

const AnswerError = builder.objectRef<{ code: string; message: string }>('AnswerError').implement({
  fields: (t) => ({ code: t.exposeString('code'), message: t.exposeString('message') }),
});

const AnswerEvent = builder.objectRef<AnswerEventShape>('AnswerEvent').implement({
  description: 'One event of askStream: DELTA* then SOURCES then DONE, or ERROR.',
  fields: (t) => ({
    type: t.field({ type: AnswerEventType, resolve: (e) => e.type }),
    delta: t.string({ nullable: true, resolve: (e) => (e.type === 'DELTA' ? e.delta : null) }),
    sources: t.field({ type: [SearchHit], nullable: true, resolve: (e) => (e.type === 'SOURCES' ? e.sources : null) }),
    text: t.string({ nullable: true, description: 'DONE: the whole stored answer.', resolve: (e) => (e.type === 'DONE' ? e.result.text : null) }),
    messageId: t.id({ nullable: true, resolve: (e) => (e.type === 'DONE' ? e.result.messageId : null) }),
    conversationId: t.id({ nullable: true, resolve: (e) => (e.type === 'DONE' ? e.result.conversation.id : null) }),
    conversation: t.field({ type: Conversation, nullable: true, resolve: (e) => (e.type === 'DONE' ? e.result.conversation : null) }),
    model: t.string({ nullable: true, resolve: (e) => (e.type === 'DONE' ? e.result.model : null) }),
    agent: t.field({ type: Agent, nullable: true, description: 'DONE: the agent that answered.', resolve: (e) => (e.type === 'DONE' ? e.result.agent : null) }),
    usage: t.field({ type: TokenUsage, nullable: true, resolve: (e) => (e.type === 'DONE' ? e.result.usage : null) }),
    error: t.field({ type: AnswerError, nullable: true, resolve: (e) => (e.type === 'ERROR' ? e.error : null) }),
  }),
});

const AskInput = builder.inputType('AskInput', {
  fields: (t) => ({
    question: t.string({ required: true }),
    conversationId: t.id({ required: false, description: 'Continue this conversation (its recent history goes into the prompt).' }),
    filter: t.field({ type: SearchFilterInput, required: false }),
    topK: t.int({ required: false, description: 'Sources to retrieve (1-20); default: the agent’s retrievalTopK, the tenant’s, else 5.' }),
    agentId: t.id({ required: false, description: 'Ask this agent (or agentSlug; not both). A follow-up uses the conversation’s agent.' }),
    agentSlug: t.string({ required: false, description: 'Ask the agent with this slug.' }),
  }),
});

function toAsk(input: {
  question: string; conversationId?: string | number | null; filter?: Parameters<typeof toFilter>[0]; topK?: number | null;
  agentId?: string | number | null; agentSlug?: string | null;
}): AskInputData {
  return {
    question: input.question,
    conversationId: input.conversationId != null ? String(input.conversationId) : null,
    filter: toFilter(input.filter),
    topK: input.topK ?? null,
    agentId: input.agentId != null ? String(input.agentId) : null,
    agentSlug: input.agentSlug ?? null,
  };
}

builder.queryFields((t) => ({
  conversations: t.field({
    type: ConversationConnection,
    description: 'Your conversations, newest first (admins and owners: all of the tenant).',
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: async (_r, args, ctx) => toConnection(await chatScope(ctx).conversations.list(pageSize(args.first), args.after), args.after),
  }),
  conversation: t.field({
    type: Conversation,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, { id }, ctx) => chatScope(ctx).conversations.get(String(id)),
  }),
  chatModels: t.stringList({
    description: 'Models a tenant admin may choose in updateTenantSettings(chatModel); the first is the default.',
    resolve: async (_r, _a, ctx) => {
      allow(ctx, 'viewer');
      return [...(await ctx.app.services.chatModels.policy()).allowed];
    },
  }),
}));

builder.mutationFields((t) => ({
  ask: t.field({
    type: Answer,
    args: { input: t.arg({ type: AskInput, required: true }) },
    resolve: (_r, { input }, ctx) => {
      chatScope(ctx);
      return answers(ctx).ask(toAsk(input));
    },
  }),
  deleteConversation: t.boolean({
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, { id }, ctx) => {
      await chatScope(ctx).conversations.delete(String(id));
      return true;
    },
  }),
}));

builder.subscriptionFields((t) => ({
  askStream: t.field({
    type: AnswerEvent,
    description: 'ask, streamed over SSE (Accept: text/event-stream): DELTA events, then SOURCES, then DONE.',
    args: { input: t.arg({ type: AskInput, required: true }) },
    // Refusals (input, access, quota, model unreachable) throw here: an ordinary GraphQL error.
    subscribe: async (_r, { input }, ctx) => {
      chatScope(ctx);
      const events = await answers(ctx).openStream(toAsk(input));
      return withErrorEvent(events, ctx);
    },
    resolve: (event: AnswerEventShape) => event,
  }),
}));

/** Failures after the first event become a final ERROR event (an SSE stream cannot change status). */
async function* withErrorEvent(events: AsyncIterable<AnswerEventShape>, ctx: GraphQLContext): AsyncGenerator<AnswerEventShape> {
  try {
    yield* events;
  } catch (err) {
    if (err instanceof AppError) {
      yield { type: 'ERROR', error: { code: err.code, message: err.message } };
      return;
    }
    ctx.app.log.error('askStream failed', errorDetail(err));
    yield { type: 'ERROR', error: { code: 'INTERNAL_SERVER_ERROR', message: `Unexpected error (request ${ctx.app.requestId}).` } };
  }
}
