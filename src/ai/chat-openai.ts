/**
 * Chat through the `openai` SDK against OpenAI or any OpenAI-compatible server
 * (OPENAI_BASE_URL: vLLM, Ollama, LiteLLM, Together, Groq, Azure-compatible proxies...).
 *
 * Failure policy: every upstream failure becomes AppError UPSTREAM_UNAVAILABLE (detail in
 * `cause`, for the log). Retries are the SDK's own and happen only before a response
 * has started (connection errors, 408/409/429/5xx); once a streamed token exists the
 * request is never repeated, because a second attempt would produce a different answer
 * than the one the client has already seen. A stream that ends without a finish reason
 * (connection cut) counts as a failure, not as a short answer.
 */
import OpenAI, { APIConnectionTimeoutError, APIError } from 'openai';
import { AppError } from '../lib/errors';
import { estimateTokens, type ChatCompletion, type ChatProvider, type ChatRequest, type ChatStreamEvent, type ChatUsage } from './chat-types';

export interface OpenAIChatOptions {
  apiKey: string;
  baseUrl: string | null;
  /** Until the response starts (headers); the SDK retries within this per attempt. */
  timeoutMs: number;
  /** SDK retries for connection errors and retryable statuses, before any output. */
  maxRetries: number;
  /** Longest silence between streamed chunks before the answer is abandoned. */
  idleTimeoutMs: number;
  /** Longest a whole answer may take, streamed or not. */
  totalTimeoutMs: number;
}

export const OPENAI_DEFAULTS = { timeoutMs: 30_000, maxRetries: 2, idleTimeoutMs: 30_000, totalTimeoutMs: 120_000 };

type Deadline = { signal: AbortSignal; timedOut: () => boolean; touch: () => void; abort: () => void; dispose: () => void };

/** One AbortController fed by the caller's signal, a total deadline and an idle timer. */
function deadline(outer: AbortSignal | undefined, totalMs: number, idleMs: number): Deadline {
  const ctl = new AbortController();
  let timedOut = false;
  const expire = () => {
    timedOut = true;
    ctl.abort(new Error('chat deadline exceeded'));
  };
  const onOuter = () => ctl.abort(outer?.reason);
  if (outer?.aborted) ctl.abort(outer.reason);
  else outer?.addEventListener('abort', onOuter, { once: true });
  const total = setTimeout(expire, totalMs);
  let idle: ReturnType<typeof setTimeout> | null = null;
  return {
    signal: ctl.signal,
    timedOut: () => timedOut,
    touch: () => {
      if (idle) clearTimeout(idle);
      idle = setTimeout(expire, idleMs);
    },
    abort: () => ctl.abort(new Error('chat stream closed early')),
    dispose: () => {
      clearTimeout(total);
      if (idle) clearTimeout(idle);
      outer?.removeEventListener('abort', onOuter);
    },
  };
}

/** Maps anything the SDK or the stream throws to the one client-facing code. */
export function upstreamError(err: unknown, timedOut = false): AppError {
  if (err instanceof AppError) return err;
  const timeout = timedOut || err instanceof APIConnectionTimeoutError;
  const out = new AppError(
    'UPSTREAM_UNAVAILABLE',
    timeout ? 'The language model did not answer in time, try again' : 'The language model is unavailable, try again',
    { reason: timeout ? 'timeout' : 'error' },
  );
  out.cause = err;
  return out;
}

function usageOf(u: { prompt_tokens?: number; completion_tokens?: number } | null | undefined, req: ChatRequest, text: string): ChatUsage {
  // Some compatible servers omit usage; fall back to estimates so quotas still count.
  return {
    promptTokens: u?.prompt_tokens ?? estimateTokens(req.messages.map((m) => m.content).join('\n')),
    completionTokens: u?.completion_tokens ?? estimateTokens(text),
  };
}

export class OpenAIChatProvider implements ChatProvider {
  readonly offline = false;
  private readonly opts: OpenAIChatOptions;
  private client: OpenAI | null = null;

  constructor(opts: Partial<OpenAIChatOptions> & { apiKey: string; baseUrl: string | null }) {
    this.opts = { ...OPENAI_DEFAULTS, ...opts };
  }

  /** Built on first use, so a request that never reaches the model pays nothing for it. */
  private sdk(): OpenAI {
    this.client ??= new OpenAI({
      apiKey: this.opts.apiKey,
      // Explicit, so the SDK never falls back to process.env (populated from vars under nodejs_compat).
      baseURL: this.opts.baseUrl || 'https://api.openai.com/v1',
      maxRetries: this.opts.maxRetries,
      timeout: this.opts.timeoutMs,
      logLevel: 'warn',
      // Resolved per call, so the runtime's global fetch is used even if it is replaced after construction.
      fetch: (input, init) => globalThis.fetch(input as RequestInfo, init as RequestInit),
    });
    return this.client;
  }

  private body(req: ChatRequest) {
    return { model: req.model, messages: req.messages, temperature: req.temperature, max_tokens: req.maxTokens };
  }

  async complete(req: ChatRequest): Promise<ChatCompletion> {
    const d = deadline(req.signal, this.opts.totalTimeoutMs, this.opts.totalTimeoutMs);
    try {
      const res = await this.sdk().chat.completions.create({ ...this.body(req), stream: false }, { signal: d.signal });
      const choice = res.choices?.[0];
      const text = choice?.message?.content ?? '';
      if (!text) throw new AppError('UPSTREAM_UNAVAILABLE', 'The language model returned an empty answer', { reason: 'empty' });
      return { text, model: res.model || req.model, usage: usageOf(res.usage, req, text) };
    } catch (err) {
      throw upstreamError(err, d.timedOut());
    } finally {
      d.dispose();
    }
  }

  async stream(req: ChatRequest): Promise<AsyncIterable<ChatStreamEvent>> {
    const d = deadline(req.signal, this.opts.totalTimeoutMs, this.opts.idleTimeoutMs);
    let upstream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>;
    try {
      upstream = await this.sdk().chat.completions.create(
        { ...this.body(req), stream: true, stream_options: { include_usage: true } },
        { signal: d.signal },
      );
    } catch (err) {
      d.dispose();
      throw upstreamError(err, d.timedOut());
    }
    return (async function* () {
      let text = '';
      let model = req.model;
      let usage: { prompt_tokens?: number; completion_tokens?: number } | null = null;
      let finished = false;
      let complete = false;
      d.touch();
      try {
        for await (const chunk of upstream) {
          d.touch();
          if (chunk.model) model = chunk.model;
          if (chunk.usage) usage = chunk.usage;
          const choice = chunk.choices?.[0];
          const delta = choice?.delta?.content;
          if (delta) {
            text += delta;
            yield { type: 'delta', text: delta } as const;
          }
          if (choice?.finish_reason) finished = true;
        }
        // The SDK ends the iteration quietly when its signal aborts; our deadline makes that a failure.
        if (d.timedOut()) throw upstreamError(null, true);
        if (!finished || !text) {
          throw new AppError('UPSTREAM_UNAVAILABLE', 'The language model stream ended before the answer was complete', { reason: 'truncated' });
        }
        complete = true;
      } catch (err) {
        throw upstreamError(err, d.timedOut());
      } finally {
        // A consumer that stops early (client went away) must not leave the upstream running.
        if (!complete) d.abort();
        d.dispose();
      }
      yield { type: 'done', text, model, usage: usageOf(usage, req, text) } as const;
    })();
  }
}
