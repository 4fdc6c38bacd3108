/**
 * The TenantGuard contract (DESIGN §5): what the request pipeline and services send to
 * the per-tenant Durable Object, and what they get back. Kept apart from the object
 * so callers import no Durable Object code.
 */
import type { Role } from '../auth/principal';
import type { KeyGrant } from '../db/admission-store';
import type { TenantRow } from '../db/schema';
import type { PlanLimits } from '../env';

export type QuotaName = 'requests' | 'asks' | 'embeddingTokens' | 'promptTokens' | 'completionTokens' | 'documents' | 'storedBytes';

/** Quotas that reset each UTC calendar month; the others are standing totals (they go down when documents are deleted). */
export const MONTHLY_QUOTAS: readonly QuotaName[] = ['requests', 'asks', 'embeddingTokens', 'promptTokens', 'completionTokens'];

/**
 * Retry-After for a refused standing limit (documents, stored bytes, collections): it has no
 * reset time and frees up only by deleting or by an override, so clients are told to back off.
 */
export const STANDING_RETRY_SECONDS = 3_600;

/**
 * Bookkeeping coalescing: a member's last_seen_at / a key's last_used_at is written to D1
 * at most once per this window per user or key (and at once for a first sighting or a new role).
 */
export const ACTIVITY_COALESCE_MS = 5 * 60_000;

/** The plan field that limits each quota (null in the limits = unlimited). */
export const QUOTA_LIMIT_FIELD = {
  requests: 'monthlyRequests',
  asks: 'monthlyAsks',
  embeddingTokens: 'monthlyEmbeddingTokens',
  promptTokens: 'monthlyPromptTokens',
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
  /** Tokens to take from every bucket and requests to count (default 1). */
  weight?: number;
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
  /**
   * What the agent is counted, when not the delta itself: a settled reservation records the
   * difference for the tenant (which held the reservation) and the real figures for the agent.
   */
  agentDelta?: UsageDelta & { promptTokens?: number };
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
  /**
   * Reserves every quota in `delta` in one step before costly work (throws QUOTA_EXCEEDED
   * naming the first that does not fit, reserving nothing). The reservation is then settled
   * with what was really used, or released when the work failed: concurrent callers can
   * never all squeeze under a limit (check-then-record could).
   */
  reserve(limits: PlanLimits, delta: UsageDelta): Promise<Reservation>;
  /** Adds consumption; documents/storedBytes take negative deltas when documents are deleted. */
  record(delta: UsageDelta & { promptTokens?: number }, opts?: RecordOptions): Promise<void>;
  usage(): Promise<UsageSnapshot>;
  /** This month's figures of the given agents (zeros for an agent without asks yet). */
  agentUsage(agentIds: string[]): Promise<AgentUsageSnapshot[]>;
  /** Checks the tenant and the key against the guard's admission record, then admits `weight`. */
  gate(req: GateRequest): Promise<GateResult>;
  /**
   * Brackets a change of what admission reads (status, plan, limits, settings, a key's
   * revocation) around its D1 write: `beginChange` makes the guard stop trusting its record
   * (until `commitChange`, every admission reads D1), so no request is admitted on the old
   * record once the write has landed, even if `commitChange` never arrives.
   */
  beginChange(): Promise<string>;
  commitChange(token: string): Promise<void>;
  /**
   * The tenant's allowed CORS origins as the guard's record holds them (preflights). With
   * `domain` (the preflight came on a custom domain): null when the tenant does not have it
   * verified (the isolate's host mapping was stale).
   */
  allowedOrigins(domain?: string | null): Promise<string[] | null>;
  /** Writes coalesced bookkeeping (members last seen, keys last used) to D1 now. */
  flushActivity(): Promise<void>;
  /** Flushes, then wipes the object's storage (deleteAll; the tenant's purge). Rows it held. */
  purge(): Promise<{ rows: number }>;
}

/**
 * Usage held by `GuardClient.reserve`. Exactly one of settle / release takes effect (the
 * first call; later ones do nothing). Neither throws: the work they follow is done, and a
 * lost adjustment (guard unreachable, logged) leaves the reservation standing, which errs on
 * the tenant's side of the limit, never past it.
 */
export interface Reservation {
  /**
   * Records the difference between what was reserved and what was used (`actual`;
   * promptTokens are only reported); with `agentId`, the agent is counted `actual`.
   */
  settle(actual: UsageDelta & { promptTokens?: number }, opts?: { agentId?: string | null }): Promise<void>;
  /** Gives the whole reservation back: the work failed before anything was spent. */
  release(): Promise<void>;
}

/** Reaches any tenant's guard (platform administration: another tenant's usage). */
export interface GuardDirectory {
  forTenant(tenantId: string): GuardClient;
}

/** Who is asking, as far as the guard needs to know (the isolate has already checked the credential itself). */
export type GateCredential =
  | {
      kind: 'user';
      userId: string;
      role: Role;
      /**
       * A member credential (the token names this tenant): recorded in `members` and subject to
       * member removal. False for a platform admin visiting a tenant without a tenant claim.
       */
      track: boolean;
    }
  | { kind: 'apiKey'; keyId: string };

/** One request's admission: the guard checks the tenant and the key, then check-and-consumes `weight`. */
export interface GateRequest {
  credential: GateCredential;
  /** The custom domain the request came on, if any: the tenant must still list it. */
  domain: string | null;
  /** Tokens and monthly requests this request costs: its operation's root fields, at least 1 (docs/guard.md). */
  weight: number;
}

/** Why the guard refused before counting anything (the credential or the tenant, not a limit). */
export interface GateDenial {
  code: 'UNAUTHENTICATED' | 'FORBIDDEN' | 'TENANT_SUSPENDED';
  message: string;
  /** `extensions.reason` for the client, where one code covers several causes (MEMBER_REMOVED). */
  reason?: string;
  /**
   * The request came on a custom domain the tenant does not have (any more): the isolate's
   * host mapping was stale. The pipeline resolves the host again before refusing.
   */
  staleDomain?: boolean;
}

export type GateResult =
  | {
      ok: true;
      /** The tenant as D1 holds it now (the guard's admission record). */
      tenant: TenantRow;
      key: KeyGrant | null;
      /** Plan limits merged with the tenant's overrides. */
      limits: PlanLimits;
      admission: AdmitResult;
      /** The month's usage right after this admission: `usage` needs no second guard call. */
      usage: UsageSnapshot;
    }
  | ({ ok: false } & GateDenial);
