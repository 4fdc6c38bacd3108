/**
 * Chat model providers (DESIGN §6): the contract the answer service talks to, the model
 * allowlist, and the factory that picks the openai-SDK provider (any OpenAI-compatible
 * server) when a key is configured, else the offline extractive one.
 */
import { ExtractiveChatProvider } from './chat-extractive';
import { OpenAIChatProvider, type OpenAIChatOptions } from './chat-openai';
import type { ChatProvider } from './chat-types';

export * from './chat-types';

export interface ChatProviderConfig {
  apiKey: string | null;
  baseUrl: string | null;
  /** Overrides for timeouts and retries (defaults in chat-openai.ts). */
  openai?: Partial<Omit<OpenAIChatOptions, 'apiKey' | 'baseUrl'>>;
}

/** The openai-SDK provider when an API key is configured, else the offline extractive one. */
export function createChatProvider(config: ChatProviderConfig): ChatProvider {
  if (!config.apiKey) return new ExtractiveChatProvider();
  return new OpenAIChatProvider({ apiKey: config.apiKey, baseUrl: config.baseUrl, ...config.openai });
}

/**
 * Something that yields a tenant's chat-model policy: a ChatModelPolicy is its own source;
 * TenantModels (src/ai/model-providers.ts) answers with the tenant provider's models.
 */
export interface ModelPolicySource {
  policy(): Promise<ChatModelPolicy>;
}

/**
 * Which chat models tenants may choose: the deployment default (CHAT_MODEL) plus the
 * comma-separated CHAT_MODEL_ALLOWLIST. A tenant's choice outside the list is refused
 * when settings are saved and replaced by the default at ask time (the list may shrink
 * after a tenant chose a model).
 */
export class ChatModelPolicy implements ModelPolicySource {
  readonly allowed: readonly string[];

  constructor(readonly defaultModel: string, allowlist: string | null | undefined) {
    const extra = (allowlist ?? '').split(',').map((m) => m.trim()).filter(Boolean);
    this.allowed = [...new Set([defaultModel, ...extra])];
  }

  isAllowed(model: string): boolean {
    return this.allowed.includes(model);
  }

  async policy(): Promise<ChatModelPolicy> {
    return this;
  }

  /** The tenant's model if it is still allowed, else the deployment default. */
  resolve(tenantModel: string | null | undefined): string {
    return tenantModel && this.isAllowed(tenantModel) ? tenantModel : this.defaultModel;
  }
}

/** Model temperature when the tenant sets none: low, answers should stay close to the sources. */
export const DEFAULT_TEMPERATURE = 0.2;

/** A tenant temperature within the OpenAI range [0, 2], else the default. */
export function resolveTemperature(t: number | null | undefined): number {
  return typeof t === 'number' && Number.isFinite(t) && t >= 0 && t <= 2 ? t : DEFAULT_TEMPERATURE;
}
