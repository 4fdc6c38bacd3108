/**
 * Which model providers a request uses (DESIGN §14): the one place that decides. A tenant
 * that brought its own OpenAI-compatible provider gets it for chat and embeddings, with its
 * own chat-model list; every other tenant gets the deployment's (OPENAI_API_KEY, or the
 * offline providers without one).
 *
 * A tenant provider never falls back to the deployment's key: if its key cannot be opened
 * or its server fails, the call fails (UPSTREAM_UNAVAILABLE, `provider: 'tenant'`) — quietly
 * using the operator's key would bill the operator for the tenant's traffic.
 *
 * `selectProviders` is pure (config + record in, providers out) so the per-request tenant
 * session can call it once it holds the record. `TenantModels` is the per-request handle
 * built before that record is read: its providers resolve on first use, so a request that
 * never calls a model never reads the record (the hot path stays free of D1 queries).
 */
import type { Config } from '../env';
import { AppError } from '../lib/errors';
import { ChatModelPolicy, createChatProvider, type ModelPolicySource } from './chat';
import { OpenAIChatProvider } from './chat-openai';
import type { ChatCompletion, ChatProvider, ChatRequest, ChatStreamEvent } from './chat-types';
import { embedAll, embeddingProvider, EmbeddingProviderError, type EmbeddingProvider, type EmbeddingResult } from './embeddings';
import { OfflineEmbeddings } from './offline-embeddings';
import { OpenAIEmbeddings } from './openai-embeddings';

/** A tenant's provider with its key opened (never stored or logged in this form). */
export interface ProviderRecord {
  baseUrl: string;
  apiKey: string;
  /** The first is the tenant's default chat model. */
  chatModels: string[];
  embeddingModel: string;
  embeddingDimensions: number;
}

export interface SelectedProviders {
  source: 'tenant' | 'deployment';
  chat: ChatProvider;
  embedder: EmbeddingProvider;
  /** Chat models this tenant may use (tenant settings, agents, ask). */
  chatModels: ChatModelPolicy;
  /** Removes the tenant's key from text headed for the log (some providers quote it in errors). */
  redact(text: string): string;
}

/** Deployment-wide inputs of the selection. */
export interface DeploymentModels {
  config: Config;
  /** CHAT_MODEL_ALLOWLIST (comma-separated). */
  chatAllowlist: string | null | undefined;
}

/** The chat and embedding providers for a tenant with `record` (null = the deployment's). */
export function selectProviders(d: DeploymentModels, record: ProviderRecord | null): SelectedProviders {
  if (!record) {
    return {
      source: 'deployment',
      chat: createChatProvider({ apiKey: d.config.openai.apiKey, baseUrl: d.config.openai.baseUrl }),
      embedder: embeddingProvider(d.config),
      chatModels: new ChatModelPolicy(d.config.openai.chatModel, d.chatAllowlist),
      redact: (text) => text,
    };
  }
  const [first, ...rest] = record.chatModels;
  return {
    source: 'tenant',
    chat: new OpenAIChatProvider({ apiKey: record.apiKey, baseUrl: record.baseUrl }),
    embedder: new OpenAIEmbeddings({ apiKey: record.apiKey, baseUrl: record.baseUrl, model: record.embeddingModel, dimensions: record.embeddingDimensions }),
    chatModels: new ChatModelPolicy(first!, rest.join(',')),
    redact: (text) => text.split(record.apiKey).join('[tenant key]'),
  };
}

/**
 * The per-request model handle. `load` reads and opens the tenant's record (null = none);
 * it runs at most once, on the first model use. A load failure (say, ENCRYPTION_KEY no
 * longer opens the key) fails every model call of the request — never the deployment's key.
 */
export class TenantModels implements ModelPolicySource {
  private pending: Promise<SelectedProviders> | null = null;
  /** Chat through the selected provider. */
  readonly chat: ChatProvider;
  /** Embeddings through the selected provider (query embeddings, ingestion). */
  readonly embedder: EmbeddingProvider;

  constructor(
    private readonly deployment: DeploymentModels,
    private readonly load: () => Promise<ProviderRecord | null>,
  ) {
    this.chat = new DeferredChat(() => this.resolve());
    this.embedder = new DeferredEmbeddings(() => this.resolve());
  }

  /** The selected providers (loads the tenant record on first call). */
  resolve(): Promise<SelectedProviders> {
    this.pending ??= this.load().then(
      (record) => selectProviders(this.deployment, record),
      (err: unknown) => {
        const out = new AppError('UPSTREAM_UNAVAILABLE', "The tenant's model provider cannot be used: its key cannot be read", {
          reason: 'provider_key_unreadable', provider: 'tenant',
        });
        out.cause = err;
        throw out;
      },
    );
    return this.pending;
  }

  async policy(): Promise<ChatModelPolicy> {
    return (await this.resolve()).chatModels;
  }
}

/**
 * Marks an upstream failure of a tenant's own provider, so the client knows whose server
 * failed, and takes the tenant's key out of the cause the log will print (OpenAI's 401
 * message quotes the key it was given).
 */
function tagged(err: unknown, s: SelectedProviders): unknown {
  if (s.source !== 'tenant' || !(err instanceof AppError) || err.code !== 'UPSTREAM_UNAVAILABLE') return err;
  err.extensions.provider = 'tenant';
  if (err.cause instanceof Error) {
    const clean = new Error(s.redact(err.cause.message));
    clean.name = err.cause.name;
    clean.stack = s.redact(err.cause.stack ?? '');
    err.cause = clean;
  }
  return err;
}

class DeferredChat implements ChatProvider {
  // No caller reads it before a call; a tenant provider is never the offline one.
  readonly offline = false;
  constructor(private readonly resolve: () => Promise<SelectedProviders>) {}

  async complete(req: ChatRequest): Promise<ChatCompletion> {
    const s = await this.resolve();
    try {
      return await s.chat.complete(req);
    } catch (err) {
      throw tagged(err, s);
    }
  }

  async stream(req: ChatRequest): Promise<AsyncIterable<ChatStreamEvent>> {
    const s = await this.resolve();
    let inner: AsyncIterable<ChatStreamEvent>;
    try {
      inner = await s.chat.stream(req);
    } catch (err) {
      throw tagged(err, s);
    }
    return (async function* () {
      try {
        yield* inner;
      } catch (err) {
        throw tagged(err, s);
      }
    })();
  }
}

/**
 * Embeddings through the selected provider. `model` and `dimensions` are only known after
 * the first call (nothing reads them before); `maxBatch` is unbounded here because the
 * inner provider's own batching applies (embedAll).
 */
class DeferredEmbeddings implements EmbeddingProvider {
  private selected: EmbeddingProvider | null = null;
  readonly maxBatch = Number.MAX_SAFE_INTEGER;
  constructor(private readonly resolve: () => Promise<SelectedProviders>) {}

  get model(): string {
    if (!this.selected) throw new Error('embedding model read before the provider was resolved');
    return this.selected.model;
  }

  get dimensions(): number {
    if (!this.selected) throw new Error('embedding dimensions read before the provider was resolved');
    return this.selected.dimensions;
  }

  async embed(texts: string[]): Promise<EmbeddingResult> {
    let s: SelectedProviders;
    try {
      s = await this.resolve();
    } catch (err) {
      // Ingestion retries provider errors; an unreadable key will not heal by itself.
      const out = new EmbeddingProviderError("the tenant's model provider key cannot be read", false);
      out.cause = err;
      throw out;
    }
    this.selected = s.embedder;
    return embedAll(s.embedder, texts);
  }
}

/** What a generation records about its embedder (src/db/repositories/embedders.ts EmbedderSpec). */
export interface RecordedEmbedder {
  model: string;
  dimensions: number;
  /** null: the deployment's provider. */
  baseUrl: string | null;
  apiKeySealed: string | null;
}

/** The deployment's embedding as a generation records it (the offline model without a key). */
export function deploymentEmbedding(config: Config): { model: string; dimensions: number } {
  const e = embeddingProvider(config);
  return { model: e.model, dimensions: e.dimensions };
}

/**
 * The embedder of a recorded generation: its own model and dimensions, on the deployment's
 * provider or the tenant's (key opened on first use by `openKey`). A generation keeps
 * answering queries with the model that made its vectors, whatever the configuration says
 * now: the deployment's EMBEDDING_MODEL may have moved on, the tenant's provider record may
 * name its next model already (docs/chat.md "Switch a model").
 */
export function recordedEmbedder(config: Config, r: RecordedEmbedder, openKey: (sealed: string) => Promise<string>): EmbeddingProvider {
  if (r.baseUrl === null) {
    if (r.model === OFFLINE_MODEL) return new OfflineEmbeddings(r.dimensions);
    if (!config.openai.apiKey) return new UnavailableEmbeddings(r, `the deployment has no OPENAI_API_KEY for the embedding model ${r.model}`);
    return new OpenAIEmbeddings({ apiKey: config.openai.apiKey, baseUrl: config.openai.baseUrl, model: r.model, dimensions: r.dimensions });
  }
  const baseUrl = r.baseUrl;
  const sealed = r.apiKeySealed;
  if (!sealed) return new UnavailableEmbeddings(r, "the tenant's embedding provider has no key");
  return new KeyedEmbeddings(r, async () => new OpenAIEmbeddings({ apiKey: await openKey(sealed), baseUrl, model: r.model, dimensions: r.dimensions }));
}

const OFFLINE_MODEL = new OfflineEmbeddings(1).model;

/** A tenant's embedder whose key is opened on the first call (a request that embeds nothing opens nothing). */
class KeyedEmbeddings implements EmbeddingProvider {
  readonly model: string;
  readonly dimensions: number;
  readonly maxBatch = 96;
  private inner: Promise<EmbeddingProvider> | null = null;
  constructor(r: RecordedEmbedder, private readonly open: () => Promise<EmbeddingProvider>) {
    this.model = r.model;
    this.dimensions = r.dimensions;
  }

  async embed(texts: string[]): Promise<EmbeddingResult> {
    this.inner ??= this.open();
    let inner: EmbeddingProvider;
    try {
      inner = await this.inner;
    } catch (err) {
      this.inner = null;
      // Retrying will not open a key the ENCRYPTION_KEY cannot open.
      const out = new EmbeddingProviderError("the tenant's model provider key cannot be read", false);
      out.cause = err;
      throw out;
    }
    return inner.embed(texts);
  }
}

/** A generation whose provider this deployment cannot reach (its vectors stay, its queries fail: HYBRID falls back to keywords). */
class UnavailableEmbeddings implements EmbeddingProvider {
  readonly model: string;
  readonly dimensions: number;
  readonly maxBatch = 96;
  constructor(r: RecordedEmbedder, private readonly why: string) {
    this.model = r.model;
    this.dimensions = r.dimensions;
  }

  async embed(): Promise<EmbeddingResult> {
    throw new EmbeddingProviderError(this.why, false);
  }
}
