/**
 * A tenant's own model provider (DESIGN §14): validation, sealing of the key under
 * ENCRYPTION_KEY (src/lib/secret-box.ts, shared with the placement credentials), the view
 * the API shows (last four characters of the key and when it was set, never the key), and
 * the one-call probe of `testModelProvider`.
 *
 * The base URL follows the URL-ingestion rules (src/rag/url-source.ts): http(s), no
 * credentials in it, and in production https, an allowed port (URL_FETCH_PORTS) and a host
 * whose every DNS-over-HTTPS answer (DNS_RESOLVER_URL) is public — checked when it is set
 * and again before each testModelProvider (the Worker would otherwise carry the tenant's
 * key to a host of the deployment's private network).
 */
import OpenAI from 'openai';
import type { ModelProviderRow } from '../db/schema';
import { chatModelsOf } from '../db/repositories/model-provider';
import type { TenantScope } from '../db/tenant-scope';
import { AppError } from '../lib/errors';
import { INPUT_LIMITS } from '../lib/input';
import { cachedSecretBox, type SecretBox } from '../lib/secret-box';
import { checkPublicUrl, isPrivateHost } from '../rag/url-source';
import { VECTOR_LIMITS } from '../vector/types';
import type { EmbedderSpec } from '../db/repositories/embedders';
import type { ReembeddingService } from '../rag/reembedding';
import type { ProviderRecord } from './model-providers';

export const PROVIDER_LIMITS = { apiKey: 1_024, model: 200, chatModels: 20 } as const;

export interface ModelProviderInput {
  baseUrl: string;
  apiKey: string;
  chatModels: string[];
  embeddingModel: string;
  embeddingDimensions: number;
}

/** What the API shows of a stored provider. */
export interface ModelProviderView {
  baseUrl: string;
  keyLast4: string;
  keySetAt: string;
  chatModels: string[];
  embeddingModel: string;
  embeddingDimensions: number;
}

export type ProbeProblem = 'BAD_KEY' | 'UNKNOWN_MODEL' | 'UNREACHABLE' | 'WRONG_DIMENSIONS' | 'UPSTREAM_ERROR';

export interface ProbeResult {
  ok: boolean;
  problem: ProbeProblem | null;
  message: string;
}

export interface ProviderRules {
  /** Development and tests may point at localhost; production never. */
  allowPrivateHosts: boolean;
  /** Production's one Vectorize index holds one dimension (docs/retrieval.md "Embedding generations"). */
  fixedDimensions: number | null;
  /** Where private hosts are refused: the ports and DNS-over-HTTPS resolver of URL ingestion. */
  urlFetch: { ports: readonly number[]; resolverUrl: string };
}

const bad = (message: string, field: string) => new AppError('BAD_USER_INPUT', message, { field });

/** Checks a provider base URL like a document URL; returns it normalised (no trailing slash). */
export function checkProviderUrl(raw: string, allowPrivateHosts: boolean): string {
  if (raw.length > INPUT_LIMITS.url) throw bad(`baseUrl must be at most ${INPUT_LIMITS.url} characters`, 'baseUrl');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad('baseUrl is not a valid URL', 'baseUrl');
  }
  if (url.protocol !== 'https:' && !(allowPrivateHosts && url.protocol === 'http:')) {
    throw bad(allowPrivateHosts ? 'baseUrl must use http or https' : 'baseUrl must use https', 'baseUrl');
  }
  if (url.username || url.password) throw bad('baseUrl must not carry credentials (give the key as apiKey)', 'baseUrl');
  if (!allowPrivateHosts && isPrivateHost(url.hostname)) throw bad('baseUrl must name a public host', 'baseUrl');
  if (url.search || url.hash) throw bad('baseUrl must not have a query or fragment', 'baseUrl');
  return url.toString().replace(/\/+$/, '');
}

function checkModel(name: unknown, field: string): string {
  const m = typeof name === 'string' ? name.trim() : '';
  if (!m) throw bad(`${field} is required`, field);
  if (m.length > PROVIDER_LIMITS.model) throw bad(`${field} must be at most ${PROVIDER_LIMITS.model} characters`, field);
  return m;
}

/** Validates the input; BAD_USER_INPUT names the first bad field. */
export function checkProviderInput(input: ModelProviderInput, rules: ProviderRules): ModelProviderInput {
  const baseUrl = checkProviderUrl(input.baseUrl, rules.allowPrivateHosts);
  const apiKey = input.apiKey.trim();
  if (!apiKey) throw bad('apiKey is required', 'apiKey');
  if (apiKey.length > PROVIDER_LIMITS.apiKey) throw bad(`apiKey must be at most ${PROVIDER_LIMITS.apiKey} characters`, 'apiKey');
  if (!input.chatModels.length) throw bad('chatModels needs at least one model (the first is the default)', 'chatModels');
  if (input.chatModels.length > PROVIDER_LIMITS.chatModels) throw bad(`chatModels takes at most ${PROVIDER_LIMITS.chatModels} models`, 'chatModels');
  const chatModels = [...new Set(input.chatModels.map((m) => checkModel(m, 'chatModels')))];
  const embeddingModel = checkModel(input.embeddingModel, 'embeddingModel');
  const dims = input.embeddingDimensions;
  if (!Number.isInteger(dims) || dims < 1 || dims > VECTOR_LIMITS.maxDimensions) {
    throw bad(`embeddingDimensions must be an integer from 1 to ${VECTOR_LIMITS.maxDimensions}`, 'embeddingDimensions');
  }
  if (rules.fixedDimensions !== null && dims !== rules.fixedDimensions) {
    throw bad(`embeddingDimensions must be ${rules.fixedDimensions}, the dimension of this deployment's vector index`, 'embeddingDimensions');
  }
  return { baseUrl, apiKey, chatModels, embeddingModel, embeddingDimensions: dims };
}

/** One parsed key ring per ENCRYPTION_KEY value (src/lib/secret-box.ts keeps the cache). */
const boxFor = cachedSecretBox;

/** The associated data of a tenant's sealed key: a ciphertext copied to another tenant's row does not open. */
const purposeOf = (tenantId: string) => `tenant_model_providers:${tenantId}:api_key`;

/**
 * Opens a tenant key sealed by setModelProvider: the provider row's, or its copy on an embedding
 * generation (src/db/repositories/embedders.ts), which keeps the same associated data.
 */
export async function openTenantKey(encryptionKey: string | undefined, tenantId: string, sealed: string): Promise<string> {
  return (await boxFor(encryptionKey)).open(sealed, purposeOf(tenantId));
}

export function viewOf(row: ModelProviderRow): ModelProviderView {
  return {
    baseUrl: row.baseUrl, keyLast4: row.keyLast4, keySetAt: row.keySetAt, chatModels: chatModelsOf(row),
    embeddingModel: row.embeddingModel, embeddingDimensions: row.embeddingDimensions,
  };
}

export interface ProviderSettingsDeps {
  scope: TenantScope;
  encryptionKey: string | undefined;
  rules: () => Promise<ProviderRules>;
  /** Turns an embedding change into a switch (src/rag/reembedding.ts). */
  reembedding: ReembeddingService;
  /** The deployment's embedder (what clearModelProvider goes back to). */
  deploymentEmbedding: () => EmbedderSpec;
  fetcher?: typeof fetch;
}

/** setModelProvider / clearModelProvider / modelProvider / testModelProvider, and the record a request's models use. */
export class ProviderSettingsService {
  constructor(private readonly deps: ProviderSettingsDeps) {}

  async view(): Promise<ModelProviderView | null> {
    const row = await this.deps.scope.modelProvider.get();
    return row ? viewOf(row) : null;
  }

  async set(input: ModelProviderInput): Promise<ModelProviderView> {
    const { scope } = this.deps;
    const rules = await this.deps.rules();
    const clean = checkProviderInput(input, rules);
    await this.checkHost(clean.baseUrl, rules);
    let box: SecretBox;
    try {
      box = await boxFor(this.deps.encryptionKey);
    } catch (err) {
      const out = new AppError('UPSTREAM_UNAVAILABLE', 'Provider keys cannot be stored: the deployment has no usable ENCRYPTION_KEY', { reason: 'encryption_unavailable' });
      out.cause = err;
      throw out;
    }
    const apiKeySealed = await box.seal(clean.apiKey, purposeOf(scope.tenantId));
    // A new embedding model or dimension is a switch (a background re-embedding), recorded in
    // the same batch as the provider record: chat uses the new provider at once, embeddings
    // once the switch completes.
    const plan = await this.deps.reembedding.plan(
      { model: clean.embeddingModel, dimensions: clean.embeddingDimensions, baseUrl: clean.baseUrl, apiKeySealed, keyId: box.currentKeyId },
      'provider',
    );
    const row = await scope.modelProvider.set({
      baseUrl: clean.baseUrl, apiKeySealed, keyId: box.currentKeyId,
      keyLast4: clean.apiKey.slice(-4), chatModels: clean.chatModels, embeddingModel: clean.embeddingModel,
      embeddingDimensions: clean.embeddingDimensions,
    }, plan.statements, plan.outcome);
    await plan.after();
    return viewOf(row);
  }

  /** The DNS half of the URL rules (production): every address the host resolves to must be public. */
  private async checkHost(baseUrl: string, rules: ProviderRules): Promise<void> {
    await checkPublicUrl(baseUrl, {
      allowPrivateHosts: rules.allowPrivateHosts, fetcher: this.deps.fetcher ?? ((i, init) => globalThis.fetch(i, init)),
      allowedPorts: rules.urlFetch.ports, resolverUrl: rules.urlFetch.resolverUrl, field: 'baseUrl',
    });
  }

  /** Back to the deployment's provider; false when the tenant had none. */
  async clear(): Promise<boolean> {
    const row = await this.deps.scope.modelProvider.get();
    if (!row) return false;
    // Clearing goes back to the deployment's embedding: a switch when that is another model.
    const plan = await this.deps.reembedding.plan(this.deps.deploymentEmbedding(), 'provider');
    const cleared = await this.deps.scope.modelProvider.clear(plan.statements, plan.outcome);
    if (cleared) await plan.after();
    return cleared;
  }

  /** The tenant's record with its key opened, or null; throws if the key cannot be opened. */
  async load(): Promise<ProviderRecord | null> {
    const row = await this.deps.scope.modelProvider.get();
    if (!row) return null;
    const box = await boxFor(this.deps.encryptionKey);
    return {
      baseUrl: row.baseUrl, apiKey: await box.open(row.apiKeySealed, purposeOf(row.tenantId)), chatModels: chatModelsOf(row),
      embeddingModel: row.embeddingModel, embeddingDimensions: row.embeddingDimensions,
    };
  }

  /** One tiny embeddings call with the stored provider; the answer never echoes the key or the provider's own message. */
  async test(): Promise<ProbeResult> {
    const record = await this.load();
    if (!record) throw new AppError('BAD_USER_INPUT', 'This tenant has no model provider of its own: setModelProvider first');
    // The name may point elsewhere since it was set: judge it again before sending the key to it.
    await this.checkHost(record.baseUrl, await this.deps.rules());
    return probeProvider(record, this.deps.fetcher);
  }
}

/**
 * Embeds one word with the provider's embedding model: that checks the key, the server and
 * the embedding model and its dimensions in one call (chat models are checked by the first ask).
 */
export async function probeProvider(record: ProviderRecord, fetcher: typeof fetch = (i, init) => globalThis.fetch(i, init)): Promise<ProbeResult> {
  const client = new OpenAI({
    apiKey: record.apiKey, baseURL: record.baseUrl, maxRetries: 0, timeout: 10_000, logLevel: 'off',
    fetch: (input, init) => fetcher(input as RequestInfo, init as RequestInit),
  });
  let vector: number[] | undefined;
  try {
    const res = await client.embeddings.create({
      model: record.embeddingModel, input: ['ping'], encoding_format: 'float',
      ...(record.embeddingModel.startsWith('text-embedding-3') ? { dimensions: record.embeddingDimensions } : {}),
    });
    vector = res.data?.[0]?.embedding;
  } catch (err) {
    return probeFailure(err);
  }
  if (!Array.isArray(vector) || vector.length !== record.embeddingDimensions) {
    return {
      ok: false, problem: 'WRONG_DIMENSIONS',
      message: `${record.embeddingModel} returned ${Array.isArray(vector) ? vector.length : 0} dimensions, not ${record.embeddingDimensions}`,
    };
  }
  return { ok: true, problem: null, message: `${record.embeddingModel} answered with ${vector.length} dimensions` };
}

// Provider messages are not passed on: some quote part of the key ("Incorrect API key provided: sk-ab***yz").
function probeFailure(err: unknown): ProbeResult {
  if (err instanceof OpenAI.APIError && err.status) {
    if (err.status === 401 || err.status === 403) return { ok: false, problem: 'BAD_KEY', message: `The provider refused the key (HTTP ${err.status})` };
    if (err.status === 404) return { ok: false, problem: 'UNKNOWN_MODEL', message: `The provider does not know the model (HTTP 404)` };
    return { ok: false, problem: 'UPSTREAM_ERROR', message: `The provider answered HTTP ${err.status}` };
  }
  return { ok: false, problem: 'UNREACHABLE', message: 'The provider could not be reached' };
}
