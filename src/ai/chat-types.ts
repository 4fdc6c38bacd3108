/** The chat provider contract, shared by the providers and the answer service. */

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A numbered context source as the prompt shows it ([n] in the answer refers to it). */
export interface ChatSource {
  n: number;
  title: string;
  text: string;
}

export interface ChatRequest {
  model: string;
  temperature: number;
  /** Upper bound on completion tokens (also what the quota check reserves). */
  maxTokens: number;
  /** The full prompt: system, history, context + question. */
  messages: ChatMessage[];
  /** The same question and sources, structured, for providers that do not read prose. */
  question: string;
  sources: ChatSource[];
  /** Aborts the upstream call (client went away, or the caller's deadline). */
  signal?: AbortSignal;
}

export interface ChatUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface ChatCompletion {
  text: string;
  /** The model that answered, as the provider names it ("extractive-offline" offline). */
  model: string;
  usage: ChatUsage;
}

export type ChatStreamEvent = { type: 'delta'; text: string } | ({ type: 'done' } & ChatCompletion);

export interface ChatProvider {
  /** True for the offline extractive provider (no model is called, nothing is billed upstream). */
  readonly offline: boolean;
  complete(req: ChatRequest): Promise<ChatCompletion>;
  /**
   * Opens a streamed completion. The promise settles once the upstream has accepted the
   * request (connection errors and safe SDK retries happen before it resolves); the
   * iterable then yields deltas and exactly one final `done` event, or throws
   * UPSTREAM_UNAVAILABLE. Nothing is retried once a delta has been produced.
   */
  stream(req: ChatRequest): Promise<AsyncIterable<ChatStreamEvent>>;
}

/** Rough token estimate (about 4 characters per token for English) for budgets and offline usage. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
