/**
 * A fake OpenAI-compatible server, installed by replacing globalThis.fetch for its host
 * only. The Worker under test runs in the test's isolate, so the real openai SDK inside
 * the Worker talks to it (project "openai" in vitest.config.ts points OPENAI_BASE_URL
 * here). It records every request and answers chat completions (JSON or SSE, following
 * the request's `stream`) from a script, and embeddings with the offline embedder.
 */
import { OfflineEmbeddings } from '../../src/ai/offline-embeddings';

export const FAKE_HOST = 'fake-openai.test';

export interface FakeCall {
  path: string;
  body: any;
  authorization: string | null;
}

export type Reply = (body: any) => Response;

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

function chunk(model: string, delta: Record<string, unknown>, finish: string | null = null) {
  return { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 0, model, choices: [{ index: 0, delta, finish_reason: finish }] };
}

function sse(parts: (string | object)[], end: 'done' | 'error' | 'cut'): Response {
  const enc = new TextEncoder();
  let i = 0;
  // One event per pull, so a reader sees every part before the failure (error() discards queued chunks).
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const p = parts[i++];
      if (p !== undefined) controller.enqueue(enc.encode(`data: ${typeof p === 'string' ? p : JSON.stringify(p)}\n\n`));
      else if (end === 'error') controller.error(new Error('connection reset by fake upstream'));
      else controller.close();
    },
  });
  return new Response(stream, { status: 200, headers: { 'content-type': 'text/event-stream' } });
}

/** A complete answer, split into `pieces` deltas when streamed; usage as given (or none). */
export function answer(text: string, opts: { usage?: { prompt_tokens: number; completion_tokens: number } | null; pieces?: number; model?: string } = {}): Reply {
  return (body) => {
    const model = opts.model ?? body.model;
    const usage = opts.usage === undefined ? { prompt_tokens: 321, completion_tokens: 12, total_tokens: 333 } : opts.usage;
    if (!body.stream) {
      return json(200, {
        id: 'chatcmpl-fake', object: 'chat.completion', created: 0, model,
        choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
        ...(usage ? { usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } } : {}),
      });
    }
    const n = opts.pieces ?? 4;
    const size = Math.ceil(text.length / n);
    const parts: (string | object)[] = [chunk(model, { role: 'assistant', content: '' })];
    for (let i = 0; i < text.length; i += size) parts.push(chunk(model, { content: text.slice(i, i + size) }));
    parts.push(chunk(model, {}, 'stop'));
    if (usage && body.stream_options?.include_usage) {
      parts.push({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 0, model, choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } });
    }
    parts.push('[DONE]');
    return sse(parts, 'done');
  };
}

/** An HTTP error; `retry-after-ms: 0` keeps the SDK's retry instant (no sleeping in tests). */
export function status(code: number): Reply {
  return () => json(code, { error: { message: `fake upstream error ${code}`, type: 'server_error' } }, { 'retry-after-ms': '0' });
}

/** Starts streaming `text`, then the connection fails (`error`) or just ends without a finish reason (`cut`). */
export function brokenStream(text: string, end: 'error' | 'cut'): Reply {
  return (body) => sse([chunk(body.model, { role: 'assistant', content: '' }), chunk(body.model, { content: text })], end);
}

export interface FakeOpenAI {
  calls: FakeCall[];
  /** Chat completion requests only. */
  chat(): FakeCall[];
  /** Queues replies for the next chat completion requests (then the default answer). */
  script(...replies: Reply[]): void;
  /** Queues replies for the next embeddings requests (then real embeddings): e.g. status(503). */
  scriptEmbeddings(...replies: Reply[]): void;
  /** Embeddings requests only. */
  embeddings(): FakeCall[];
  restore(): void;
}

export interface FakeOptions {
  /** Another host, so several fakes (one per tenant) can run side by side. */
  host?: string;
  /** When set, other keys get 401 (with a message quoting the key, as OpenAI's does). */
  apiKey?: string;
  /** When set, embeddings for other models get 404. */
  embeddingModels?: string[];
  /**
   * Answer embeddings in the request's `dimensions` (as the text-embedding-3 models do);
   * default: always 384, whatever was asked (a model of fixed size).
   */
  honourDimensions?: boolean;
}

export function installFakeOpenAI(defaultReply: Reply = answer('The fake model says hello [1].'), opts: FakeOptions = {}): FakeOpenAI {
  const host = opts.host ?? FAKE_HOST;
  const original = globalThis.fetch;
  const calls: FakeCall[] = [];
  const queue: Reply[] = [];
  const embedders = new Map<number, OfflineEmbeddings>();
  const embedQueue: Reply[] = [];
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    if (url.host !== host) return original(input, init);
    const body = await req.json<any>();
    const call = { path: url.pathname, body, authorization: req.headers.get('authorization') };
    calls.push(call);
    if (opts.apiKey && call.authorization !== `Bearer ${opts.apiKey}`) {
      return json(401, { error: { message: `Incorrect API key provided: ${call.authorization?.slice(7)}`, type: 'invalid_request_error' } });
    }
    if (opts.embeddingModels && url.pathname === '/v1/embeddings' && !opts.embeddingModels.includes(body.model)) {
      return json(404, { error: { message: `The model ${body.model} does not exist`, type: 'invalid_request_error' } });
    }
    if (url.pathname === '/v1/embeddings') {
      const scripted = embedQueue.shift();
      if (scripted) return scripted(body);
      const inputs: string[] = Array.isArray(body.input) ? body.input : [body.input];
      const dims = opts.honourDimensions && typeof body.dimensions === 'number' ? body.dimensions : 384;
      let embedder = embedders.get(dims);
      if (!embedder) embedders.set(dims, (embedder = new OfflineEmbeddings(dims)));
      const r = await embedder.embed(inputs);
      return json(200, {
        object: 'list', model: body.model,
        data: r.vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })),
        usage: { prompt_tokens: r.tokens, total_tokens: r.tokens },
      });
    }
    if (url.pathname === '/v1/chat/completions') return (queue.shift() ?? defaultReply)(body);
    return json(404, { error: { message: 'not found' } });
  };
  return {
    calls,
    chat: () => calls.filter((c) => c.path === '/v1/chat/completions'),
    script: (...replies) => queue.push(...replies),
    scriptEmbeddings: (...replies) => embedQueue.push(...replies),
    embeddings: () => calls.filter((c) => c.path === '/v1/embeddings'),
    restore: () => {
      globalThis.fetch = original;
    },
  };
}
