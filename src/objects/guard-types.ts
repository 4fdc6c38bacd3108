/**
 * The TenantGuard contract (DESIGN §5): what the request pipeline and services send to
 * the per-tenant Durable Object, and what they get back. Kept apart from the object
 * so callers import no Durable Object code.
 */
import type { PlanLimits } from '../env';

export type QuotaName = 'requests' | 'asks' | 'embeddingTokens' | 'completionTokens' | 'documents' | 'storedBytes';

export interface AdmitRequest {
  /** Effective limits for this tenant: plan table merged with per-tenant overrides. */
  limits: PlanLimits;
  /** Per-API-key bucket (its rateLimitPerMinute), when the caller is a key that sets one. */
  apiKey?: { id: string; perMinute: number } | null;
  /** Per-user bucket, when the caller is a user. */
  userId?: string | null;
}

export interface AdmitResult {
  allowed: boolean;
  /** Why it was refused: a token bucket (RATE_LIMITED) or a monthly quota (QUOTA_EXCEEDED). */
  reason: 'rate' | 'quota' | null;
  /** Which quota, when reason = quota. */
  quota?: QuotaName | null;
  /** The bucket that decides the headers (the one with the fewest remaining tokens). */
  policy: string;
  limit: number;
  remaining: number;
  resetSeconds: number;
  retryAfterSeconds: number;
}

/** Consumption reported after the work is done (tokens after a model call, documents after ingestion). */
export type UsageDelta = Partial<Record<QuotaName, number>>;

export interface UsageSnapshot {
  period: string;
  requests: number;
  asks: number;
  embeddingTokens: number;
  completionTokens: number;
  promptTokens: number;
  documents: number;
  storedBytes: number;
  rateLimited: number;
}

/** What request-scoped code holds: one guard, already bound to one tenant. */
export interface GuardClient {
  admit(req: AdmitRequest): Promise<AdmitResult>;
  /**
   * Checks that `amount` more of a quota fits before doing costly work (e.g. before a
   * model call); throws QUOTA_EXCEEDED if not. Does not consume.
   */
  ensureQuota(limits: PlanLimits, quota: QuotaName, amount: number): Promise<void>;
  record(delta: UsageDelta & { promptTokens?: number }): Promise<void>;
  usage(): Promise<UsageSnapshot>;
}
