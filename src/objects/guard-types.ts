/**
 * The TenantGuard contract (DESIGN §5): what the request pipeline and services send to
 * the per-tenant Durable Object, and what they get back. Kept apart from the object
 * so callers import no Durable Object code.
 */
import type { PlanLimits } from '../env';

export type QuotaName = 'requests' | 'asks' | 'embeddingTokens' | 'completionTokens' | 'documents' | 'storedBytes';

/** Quotas that reset each UTC calendar month; the others are standing totals (they go down when documents are deleted). */
export const MONTHLY_QUOTAS: readonly QuotaName[] = ['requests', 'asks', 'embeddingTokens', 'completionTokens'];

/**
 * Retry-After for a refused standing limit (documents, stored bytes, collections): it has no
 * reset time and frees up only by deleting or by an override, so clients are told to back off.
 */
export const STANDING_RETRY_SECONDS = 3_600;

/** The plan field that limits each quota (null in the limits = unlimited). */
export const QUOTA_LIMIT_FIELD = {
  requests: 'monthlyRequests',
  asks: 'monthlyAsks',
  embeddingTokens: 'monthlyEmbeddingTokens',
  completionTokens: 'monthlyCompletionTokens',
  documents: 'documents',
  storedBytes: 'storedBytes',
} as const satisfies Record<QuotaName, keyof PlanLimits>;

export interface AdmitRequest {
  /** Effective limits for this tenant: plan table merged with per-tenant overrides. */
  limits: PlanLimits;
  /** Per-API-key bucket (its rateLimitPerMinute), when the caller is a key that sets one. */
  apiKey?: { id: string; perMinute: number } | null;
  /** Per-user bucket, when the caller is a user. */
  userId?: string | null;
}

/** One quota policy as the RateLimit headers describe it (IETF httpapi ratelimit-headers draft). */
export interface PolicyState {
  /** `tenant`, `key`, `user` (token buckets, window 60 s) or `monthly` (monthly requests quota). */
  name: string;
  limit: number;
  remaining: number;
  /** Seconds until the policy is back to its full quota (bucket refilled, or the next month). */
  resetSeconds: number;
  windowSeconds: number;
}

export interface AdmitResult {
  allowed: boolean;
  /** Why it was refused: a token bucket (RATE_LIMITED) or a monthly quota (QUOTA_EXCEEDED). */
  reason: 'rate' | 'quota' | null;
  /** Which quota, when reason = quota. */
  quota?: QuotaName | null;
  /**
   * The policy that decides the headers: the one that refused, or, when admitted, the
   * one with the fewest remaining requests.
   */
  policy: string;
  limit: number;
  remaining: number;
  resetSeconds: number;
  retryAfterSeconds: number;
  /** Window of the deciding policy, seconds (60 for buckets, the month for the monthly quota). */
  windowSeconds?: number;
  /** Every policy that applied to this request, deciding one included. */
  policies?: PolicyState[];
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

/** One agent's metered use this month (docs/agents.md "Usage per agent"). */
export interface AgentUsageSnapshot {
  agentId: string;
  period: string;
  asks: number;
  promptTokens: number;
  completionTokens: number;
}

/** Options of a usage record. */
export interface RecordOptions {
  /** Also count asks and tokens of the delta for this agent. */
  agentId?: string | null;
}

/** Outcome of a quota check inside the object (the client turns `ok: false` into QUOTA_EXCEEDED). */
export interface QuotaCheck {
  ok: boolean;
  limit: number | null;
  used: number;
  retryAfterSeconds: number;
}

/** What request-scoped code holds: one guard, already bound to one tenant. */
export interface GuardClient {
  admit(req: AdmitRequest): Promise<AdmitResult>;
  /**
   * Checks that `amount` more of a quota fits before doing costly work (e.g. before a
   * model call); throws QUOTA_EXCEEDED if not. Does not consume.
   */
  ensureQuota(limits: PlanLimits, quota: QuotaName, amount: number): Promise<void>;
  /**
   * Check-and-record in one step: throws QUOTA_EXCEEDED (recording nothing) or records
   * `amount`. Use it where two concurrent callers must not both squeeze under the limit
   * (e.g. counting a new document).
   */
  consume(limits: PlanLimits, quota: QuotaName, amount: number): Promise<void>;
  /** Adds consumption; documents/storedBytes take negative deltas when documents are deleted. */
  record(delta: UsageDelta & { promptTokens?: number }, opts?: RecordOptions): Promise<void>;
  usage(): Promise<UsageSnapshot>;
  /** This month's figures of the given agents (zeros for an agent without asks yet). */
  agentUsage(agentIds: string[]): Promise<AgentUsageSnapshot[]>;
}

/** Reaches any tenant's guard (platform administration: another tenant's usage). */
export interface GuardDirectory {
  forTenant(tenantId: string): GuardClient;
}
