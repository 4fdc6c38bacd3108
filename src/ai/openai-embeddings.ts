/** Embeddings through the openai SDK: api.openai.com or any OpenAI-compatible server (OPENAI_BASE_URL). */
import OpenAI from 'openai';
import { EmbeddingProviderError, type EmbeddingProvider, type EmbeddingResult } from './embeddings';
import { estimateTokens } from './tokens';

export interface OpenAIEmbeddingsOptions {
  apiKey: string;
  baseUrl: string | null;
  model: string;
  dimensions: number;
}

export class OpenAIEmbeddings implements EmbeddingProvider {
  readonly model: string;
  readonly dimensions: number;
  /** OpenAI accepts up to 2048 inputs per request; smaller batches keep each request well under its token cap. */
  readonly maxBatch = 96;
  private readonly client: OpenAI;

  constructor(opts: OpenAIEmbeddingsOptions) {
    this.model = opts.model;
    this.dimensions = opts.dimensions;
    this.client = new OpenAI({
      apiKey: opts.apiKey,
      baseURL: opts.baseUrl || undefined,
      // Retries belong to the ingestion queue (backoff across attempts, then the DLQ);
      // SDK retries inside one attempt would only hold a Worker invocation open.
      maxRetries: 0,
      timeout: 30_000,
      // Resolve fetch per call so the runtime's (or a test's) global is used.
      fetch: (input, init) => globalThis.fetch(input as RequestInfo, init as RequestInit),
    });
  }

  async embed(texts: string[]): Promise<EmbeddingResult> {
    if (texts.length === 0) return { vectors: [], tokens: 0 };
    let res: OpenAI.Embeddings.CreateEmbeddingResponse;
    try {
      res = await this.client.embeddings.create({
        model: this.model,
        input: texts,
        encoding_format: 'float',
        // Only the text-embedding-3 family can shorten its output; other models have fixed sizes.
        ...(this.model.startsWith('text-embedding-3') ? { dimensions: this.dimensions } : {}),
      });
    } catch (err) {
      throw classify(err);
    }
    const data = [...(res.data ?? [])].sort((a, b) => a.index - b.index);
    if (data.length !== texts.length) {
      throw new EmbeddingProviderError(`embedding provider returned ${data.length} vectors for ${texts.length} inputs`, true);
    }
    const vectors = data.map((d) => d.embedding);
    const bad = vectors.find((v) => !Array.isArray(v) || v.length !== this.dimensions);
    if (bad) {
      throw new EmbeddingProviderError(
        `model ${this.model} returned ${Array.isArray(bad) ? bad.length : 0} dimensions but EMBEDDING_DIMENSIONS is ${this.dimensions}`,
        false,
      );
    }
    const tokens = res.usage?.total_tokens ?? texts.reduce((n, t) => n + estimateTokens(t), 0);
    return { vectors, tokens };
  }
}

function classify(err: unknown): EmbeddingProviderError {
  if (err instanceof OpenAI.APIError) {
    const status = err.status;
    // 408/409/429 and 5xx heal on their own; 400/401/403/404 (bad model, key, input) do not.
    const retryable = status === undefined || status === 408 || status === 409 || status === 429 || status >= 500;
    const what = status ? `HTTP ${status}` : 'connection error';
    return new EmbeddingProviderError(`embedding provider failed (${what})`, retryable);
  }
  return new EmbeddingProviderError('embedding provider unreachable', true);
}
