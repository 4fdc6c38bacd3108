/**
 * Embedding providers (DESIGN §1, §6): one interface, two implementations — the
 * openai SDK against any OpenAI-compatible endpoint, and a deterministic offline
 * provider used when no API key is configured (local development, tests, benchmarks).
 */
import type { Config } from '../env';
import { OfflineEmbeddings } from './offline-embeddings';
import { OpenAIEmbeddings } from './openai-embeddings';

export interface EmbeddingResult {
  /** One vector per input, in input order, each exactly `dimensions` long. */
  vectors: number[][];
  /** Tokens the provider billed (or an estimate when it reports none). */
  tokens: number;
}

export interface EmbeddingProvider {
  /** Recorded with each document so an index is never mixed across models. */
  readonly model: string;
  readonly dimensions: number;
  /** Most inputs per call; callers batch to this size (one call per batch). */
  readonly maxBatch: number;
  embed(texts: string[]): Promise<EmbeddingResult>;
}

/**
 * A provider call failed. `retryable` is true for transient conditions (network,
 * 429, 5xx, timeouts) that the ingestion queue retries with backoff; false for
 * errors that will not heal (bad key, unknown model, wrong dimensions).
 */
export class EmbeddingProviderError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'EmbeddingProviderError';
  }
}

/** The provider the configuration selects: OpenAI-compatible when a key is set, offline otherwise. */
export function embeddingProvider(config: Config): EmbeddingProvider {
  if (config.openai.apiKey) {
    return new OpenAIEmbeddings({
      apiKey: config.openai.apiKey,
      baseUrl: config.openai.baseUrl,
      model: config.openai.embeddingModel,
      dimensions: config.embeddingDimensions,
    });
  }
  return new OfflineEmbeddings(config.embeddingDimensions);
}

/** Embeds any number of texts in provider-sized batches (one provider call per batch). */
export async function embedAll(provider: EmbeddingProvider, texts: string[]): Promise<EmbeddingResult> {
  const vectors: number[][] = [];
  let tokens = 0;
  for (let i = 0; i < texts.length; i += provider.maxBatch) {
    const r = await provider.embed(texts.slice(i, i + provider.maxBatch));
    vectors.push(...r.vectors);
    tokens += r.tokens;
  }
  return { vectors, tokens };
}
