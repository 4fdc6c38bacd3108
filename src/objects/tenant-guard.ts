/**
 * TenantGuard: one Durable Object per tenant (DESIGN §5), addressed by
 * `idFromName(tenantId)`. It admits or refuses every request of its tenant (token
 * buckets per tenant, API key and user, plus the monthly request quota), meters the
 * tenant's monthly usage, and flushes the aggregates to the D1 `usage` table.
 *
 * Exactness comes from the runtime: a Durable Object runs one event at a time, and no
 * method here awaits anything between reading its state and writing it (state lives in
 * memory; SQLite writes through `ctx.storage.sql` are synchronous). So N concurrent
 * admissions against a bucket of L tokens admit exactly L, with no locks and no
 * read-modify-write races. The only awaits are the init (blockConcurrencyWhile) and
 * the D1 flush in the alarm, which snapshots its figures before awaiting.
 *
 * Failure is the caller's business: anything thrown here reaches the client as
 * UPSTREAM_UNAVAILABLE (src/objects/guard-client.ts), so bad input throws rather than
 * guessing a limit — the guard fails closed.
 */
import { DurableObject } from 'cloudflare:workers';
import { loadAdmissionRecord, loadKeyGrant, type AdmissionRecord, type KeyGrant } from '../db/admission-store';
import { databaseFor, type Database } from '../db/client';
import { parseSettings } from '../db/repositories/tenant';
import { loadConfig, type AppEnv, type PlanLimits } from '../env';
import { countingD1, isolateD1Counter, type QueryCounter } from '../lib/d1-counter';
import { webhookMessage } from '../lifecycle/webhooks';
import { judgeKey, judgeMember, judgeTenant, limitsOf } from './admission-rules';
import { guardNamespace, type Jurisdiction } from './guard-namespace';
import {
  ACTIVITY_COALESCE_MS,
  MONTHLY_QUOTAS,
  QUOTA_LIMIT_FIELD,
  STANDING_RETRY_SECONDS,
  type AdmitRequest,
  type AdmitResult,
  type AgentUsageSnapshot,
  type GateCredential,
  type GateRequest,
  type GateResult,
  type PolicyState,
  type QuotaCheck,
  type QuotaName,
  type RecordOptions,
  type UsageDelta,
  type UsageSnapshot,
} from './guard-types';

/** Shares of a monthly quota at which `quota.threshold` is announced, once per month and quota (docs/guard.md "Webhooks"). */
export const THRESHOLD_PERCENTS: readonly number[] = [80, 100];

/** A dirty guard writes its aggregates to D1 at least this often (the issue asks for at least every minute). */
export const FLUSH_INTERVAL_MS = 30_000;
/** Token buckets refill their whole capacity over one window ("per minute" limits). */
const WINDOW_MS = 60_000;
/** Activity written and not seen again for this long is forgotten (bounded memory). */
const ACTIVITY_FORGET_MS = 24 * 60 * 60_000;
/**
 * A change (beginChange) whose commit never came (the Worker died between its D1 write and
 * commitChange) stops counting after this long: every D1 write of the change has finished
 * or failed by then (D1 ends a query or batch after 30 s). Until then, admission reads D1.
 */
export const PENDING_CHANGE_MAX_MS = 5 * 60_000;

type Counter = QuotaName | 'promptTokens' | 'rateLimited';
const COLUMNS: Record<Counter, string> = {
  requests: 'requests',
  asks: 'asks',
  embeddingTokens: 'embedding_tokens',
  promptTokens: 'prompt_tokens',
  completionTokens: 'completion_tokens',
  documents: 'documents',
  storedBytes: 'stored_bytes',
  rateLimited: 'rate_limited',
};
const COUNTERS = Object.keys(COLUMNS) as Counter[];
/** Standing totals: they carry over into the next month instead of resetting. */
const CARRIED: readonly Counter[] = ['documents', 'storedBytes'];

type PeriodState = Record<Counter, number> & {
  /** UTC calendar month, YYYY-MM. */
  period: string;
  /** Bumped on every change; `flushed` is the version last written to D1. */
  version: number;
  flushed: number;
};

interface Bucket {
  tokens: number;
  /** Clock time (ms) the tokens were counted at. */
  at: number;
}

/** The UTC calendar month of a timestamp, as the `usage.period` column stores it. */
export function periodOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

/** Start of the next UTC calendar month, ms. */
export function nextMonthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

function monthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

const toSeconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));

/** Tokens a bucket holds at `now`: refilled linearly at `cap` per window, never above `cap`. A new bucket starts full. */
function refill(b: Bucket | undefined, cap: number, now: number): number {
  if (!b) return cap;
  // A clock that went back (or a skewed test clock) must not drain or mint tokens.
  const elapsed = Math.max(0, now - b.at);
  return Math.min(cap, b.tokens + (elapsed * cap) / WINDOW_MS);
}

function perMinute(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new TypeError(`${name} must be a positive number (got ${String(v)})`);
  return v;
}

/** A quota's limit from the effective plan limits: null = unlimited; anything malformed throws (fail closed). */
function quotaLimit(limits: PlanLimits, quota: QuotaName): number | null {
  const field = QUOTA_LIMIT_FIELD[quota];
  const v = (limits as unknown as Record<string, unknown>)[field];
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new TypeError(`limits.${field} must be a number >= 0 or null (got ${String(v)})`);
  return v;
}

/** Last activity of a user or key in this tenant, and what D1 already holds of it. */
interface Activity {
  kind: 'user' | 'key';
  id: string;
  role: string | null;
  seenAt: number;
  writtenAt: number | null;
  writtenRole: string | null;
}

/** Due for a D1 write: never written, a new role, or the coalescing window has passed. */
const activityDue = (a: Activity) => a.writtenAt === null || a.role !== a.writtenRole || a.seenAt - a.writtenAt >= ACTIVITY_COALESCE_MS;

/** A usage delta checked counter by counter (unknown names and non-finite numbers throw: fail closed), rounded. */
function cleanDelta(delta: object): Partial<Record<Counter, number>> {
  const clean: Partial<Record<Counter, number>> = {};
  for (const [k, v] of Object.entries(delta)) {
    if (v === undefined || v === null) continue;
    if (!(k in COLUMNS) || k === 'rateLimited') throw new TypeError(`unknown usage counter "${k}"`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`usage delta ${k} must be a finite number`);
    clean[k as Counter] = Math.round(v);
  }
  return clean;
}

interface Level {
  name: string;
  key: string;
  cap: number;
  tokens: number;
}

/**
 * Everything a guard holds of its tenant, as one object hands it to its successor when a move
 * changes the tenant's jurisdiction (retire → adopt): counters, buckets, per-agent usage,
 * unflushed activity and the quota thresholds already reached. The admission record is not in it: the
 * successor rebuilds it from D1, the source of truth.
 */
export interface GuardHandover {
  periods: PeriodState[];
  buckets: ({ name: string } & Bucket)[];
  agentUsage: { period: string; agent_id: string; asks: number; prompt_tokens: number; completion_tokens: number }[];
  activity: ({ k: string } & Activity)[];
  /** Quota thresholds already reached (and whether announced): the successor must not announce them again. */
  thresholds?: { period: string; quota: string; percent: number; used: number; lim: number; sent: number }[];
}

/** Where this object stands in a hand-over (persisted in meta 'handover'). */
interface HandoverState {
  /** Retired by this move: every call is forwarded to the tenant's guard in `jurisdiction`. */
  retired?: { moveId: string; jurisdiction: Jurisdiction; snapshot: GuardHandover } | null;
  /** The successor of this move, before adopting: serves, but writes no usage to D1 yet. */
  expecting?: string | null;
  /** The last move whose hand-over this object adopted (adopt is idempotent per move). */
  adopted?: string | null;
}

export class TenantGuard extends DurableObject<Env> {
  /**
   * Milliseconds since the epoch. Bucket refill and the calendar month read it; tests
   * replace it through `runInDurableObject` to move time without sleeping. Alarm
   * scheduling keeps real time (the runtime fires alarms on the wall clock).
   */
  clock: () => number = () => Date.now();

  private tenantId: string | null = null;
  private readonly periods = new Map<string, PeriodState>();
  private cur: PeriodState | null = null;
  /** The current month's bounds (ms), once known: current() needs no date arithmetic inside them. */
  private curStarts = 0;
  private curEnds = 0;
  private readonly buckets = new Map<string, Bucket>();
  /** The alarm time we know is set (wall clock), so the hot path never has to ask storage. */
  private alarmAt: number | null = null;
  private flushing: Promise<void> = Promise.resolve();

  // Admission record (memory only: an evicted object rebuilds it from D1, the source of truth).
  /** Bumped by every beginChange / commitChange: a record loaded under an older generation is never kept. */
  private generation = 0;
  private held: { generation: number; record: AdmissionRecord | null; keys: Map<string, KeyGrant | null>; limits: PlanLimits | null } | null = null;
  private loading: { generation: number; promise: Promise<AdmissionRecord | null> } | null = null;
  /** Changes begun and not committed (token → wall-clock start); persisted so eviction cannot forget one. */
  private readonly pending = new Map<string, number>();
  private readonly activity = new Map<string, Activity>();
  /** The limits of the latest call that carried them: what `record` (which gets none) judges thresholds by. */
  private lastLimits: PlanLimits | null = null;
  /** Thresholds already reached, `<period>:<quota>:<percent>` (the thresholds table holds them durably). */
  private readonly reached = new Set<string>();
  private handover: HandoverState = {};
  /** D1 statements this object prepared (tests read it: a warm admission makes none). */
  readonly d1: QueryCounter = { queries: 0 };
  private readonly db: Database;
  /** The D1 binding, counted; raw statements (the flushes) and drizzle (the record) both go through it. */
  private readonly d1db: D1Database;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const counters = (env as AppEnv).D1_QUERY_COUNT === 'true' ? [this.d1, isolateD1Counter] : [this.d1];
    this.d1db = countingD1(env.DB, ...counters);
    this.db = databaseFor(this.d1db);
    // Only initialisation blocks; requests run without it.
    void ctx.blockConcurrencyWhile(() => this.load());
  }

  /** The object's tables (empty); at start and again after a purge wiped the storage. */
  private createTables(): void {
    const sql = this.ctx.storage.sql;
    sql.exec('CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)');
    sql.exec(
      `CREATE TABLE IF NOT EXISTS periods (period TEXT PRIMARY KEY, ${COUNTERS.map((c) => `${COLUMNS[c]} INTEGER NOT NULL DEFAULT 0`).join(', ')},
       version INTEGER NOT NULL DEFAULT 0, flushed INTEGER NOT NULL DEFAULT 0)`,
    );
    sql.exec('CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, tokens REAL NOT NULL, at INTEGER NOT NULL)');
    // Per-agent asks and tokens, per month (docs/agents.md): written and read in place, never cached.
    sql.exec(
      `CREATE TABLE IF NOT EXISTS agent_usage (period TEXT NOT NULL, agent_id TEXT NOT NULL, asks INTEGER NOT NULL DEFAULT 0,
       prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (period, agent_id))`,
    );
    // Quota thresholds reached this month; `sent` once the queue has the event (the alarm sends them).
    sql.exec(
      `CREATE TABLE IF NOT EXISTS thresholds (period TEXT NOT NULL, quota TEXT NOT NULL, percent INTEGER NOT NULL, used INTEGER NOT NULL,
       lim INTEGER NOT NULL, sent INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (period, quota, percent))`,
    );
    for (const r of sql.exec<{ period: string; quota: string; percent: number }>('SELECT period, quota, percent FROM thresholds')) {
      this.reached.add(`${r.period}:${r.quota}:${r.percent}`);
    }
    sql.exec(
      `CREATE TABLE IF NOT EXISTS activity (k TEXT PRIMARY KEY, kind TEXT NOT NULL, id TEXT NOT NULL, role TEXT,
       seen_at INTEGER NOT NULL, written_at INTEGER, written_role TEXT)`,
    );
  }

  private async load(): Promise<void> {
    const sql = this.ctx.storage.sql;
    this.createTables();
    for (const row of sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'pending'")) {
      for (const [token, since] of Object.entries(JSON.parse(row.v) as Record<string, number>)) this.pending.set(token, since);
    }
    for (const r of sql.exec<{ k: string; kind: 'user' | 'key'; id: string; role: string | null; seen_at: number; written_at: number | null; written_role: string | null }>(
      'SELECT * FROM activity',
    )) {
      this.activity.set(r.k, { kind: r.kind, id: r.id, role: r.role, seenAt: r.seen_at, writtenAt: r.written_at, writtenRole: r.written_role });
    }

    for (const row of sql.exec<{ k: string; v: string }>("SELECT k, v FROM meta WHERE k = 'tenant'")) this.tenantId = row.v;
    for (const row of sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'handover'")) this.handover = JSON.parse(row.v) as HandoverState;
    for (const row of sql.exec<Record<string, number | string>>('SELECT * FROM periods ORDER BY period')) {
      const p = { period: String(row.period), version: Number(row.version), flushed: Number(row.flushed) } as PeriodState;
      for (const c of COUNTERS) p[c] = Number(row[COLUMNS[c]]);
      this.periods.set(p.period, p);
      this.cur = p; // ordered by period: the last one is the current month
    }
    for (const row of sql.exec<{ name: string; tokens: number; at: number }>('SELECT name, tokens, at FROM buckets')) {
      this.buckets.set(row.name, { tokens: row.tokens, at: row.at });
    }
    this.alarmAt = await this.ctx.storage.getAlarm();
    // Dirty figures with no alarm (e.g. the object was evicted between a write and
    // setting its alarm) still get flushed.
    if (this.alarmAt === null && this.isDirty()) this.scheduleFlush(FLUSH_INTERVAL_MS);
  }

  // ---------------------------------------------------------------- RPC methods

  /**
   * Check-and-consume for every bucket that applies and the monthly request quota, in
   * one event: all pass and each gives one token, or the request is refused and nothing
   * is consumed (a refusal is counted in rateLimited).
   */
  async admit(tenantId: string, req: AdmitRequest): Promise<AdmitResult> {
    this.bind(tenantId);
    const next = this.successor(tenantId);
    if (next) return next.admit(tenantId, req) as Promise<AdmitResult>;
    return this.admitNow(req, this.clock());
  }

  /**
   * One request's admission against the record this object holds (DESIGN §5 "the hot
   * path"): the key (exists in this tenant, not revoked, not expired), the tenant (exists,
   * owns the verified custom domain, not suspended or cancelled, trial not over), the user
   * (not removed from the tenant), then
   * check-and-consume of `weight` tokens. Answers the tenant row, the key's grant and the
   * effective limits with it, so a warm request needs nothing from D1. Awaits happen only
   * while the record or a key is (re)loaded, before any bucket is read; check-and-consume
   * itself runs without an await, so bursts stay exact.
   */
  async gate(tenantId: string, req: GateRequest): Promise<GateResult> {
    this.bind(tenantId);
    const next = this.successor(tenantId);
    if (next) return next.gate(tenantId, req) as Promise<GateResult>;
    const weight = req.weight;
    if (!Number.isInteger(weight) || weight < 1) throw new TypeError(`weight must be an integer >= 1 (got ${String(weight)})`);
    const { record, keys, limits } = await this.admissionRecord();
    let key: KeyGrant | null = null;
    if (req.credential.kind === 'apiKey') {
      key = await this.keyGrant(keys, req.credential.keyId);
      const denied = judgeKey(key, tenantId, this.clock());
      if (denied) return { ok: false, ...denied };
    }
    const denied = judgeTenant(record, req.domain, this.clock());
    if (denied || !record || !limits) return { ok: false, ...(denied ?? { code: 'UNAUTHENTICATED', message: 'The credential names no known tenant' }) };
    // A removed member: refused from the first request after removeMember (it invalidates this record).
    const removed = req.credential.kind === 'user' && req.credential.track ? judgeMember(record, req.credential.userId) : null;
    if (removed) return { ok: false, ...removed };

    const now = this.clock();
    const userId = req.credential.kind === 'user' ? req.credential.userId : null;
    const admission = this.admitNow(
      { limits, apiKey: key?.rateLimitPerMinute ? { id: key.id, perMinute: key.rateLimitPerMinute } : null, userId, weight },
      now,
    );
    if (admission.allowed) this.noteActivity(req.credential, now);
    return { ok: true, tenant: record.tenant, key, limits, admission, usage: this.snapshot(now) };
  }

  private admitNow(req: AdmitRequest, now: number): AdmitResult {
    const cur = this.current(now);
    const { limits } = req;
    this.lastLimits = limits;
    const weight = req.weight ?? 1;
    if (!Number.isInteger(weight) || weight < 1) throw new TypeError(`weight must be an integer >= 1 (got ${String(weight)})`);

    const levels: Level[] = [{ name: 'tenant', key: 'tenant', cap: perMinute(limits.requestsPerMinute, 'limits.requestsPerMinute'), tokens: 0 }];
    if (req.apiKey) levels.push({ name: 'key', key: `key:${req.apiKey.id}`, cap: perMinute(req.apiKey.perMinute, 'apiKey.perMinute'), tokens: 0 });
    if (req.userId) {
      levels.push({ name: 'user', key: `user:${req.userId}`, cap: perMinute(limits.userRequestsPerMinute ?? limits.requestsPerMinute, 'limits.userRequestsPerMinute'), tokens: 0 });
    }
    for (const l of levels) l.tokens = refill(this.buckets.get(l.key), l.cap, now);

    const monthly = quotaLimit(limits, 'requests');
    const quotaOk = monthly === null || cur.requests + weight <= monthly;
    const blocked = levels.filter((l) => l.tokens < weight);
    const allowed = quotaOk && blocked.length === 0;

    if (allowed) {
      for (const l of levels) {
        l.tokens -= weight;
        this.buckets.set(l.key, { tokens: l.tokens, at: now });
      }
      // One statement for all levels: the hot path's storage work is one bucket write and one period write.
      this.ctx.storage.sql.exec(
        `INSERT OR REPLACE INTO buckets (name, tokens, at) VALUES ${levels.map(() => '(?, ?, ?)').join(', ')}`,
        ...levels.flatMap((l) => [l.key, l.tokens, now]),
      );
      this.add(cur, { requests: weight }, limits);
    } else {
      this.add(cur, { rateLimited: 1 });
    }

    const policies: PolicyState[] = levels.map((l) => ({
      name: l.name,
      limit: l.cap,
      remaining: Math.max(0, Math.floor(l.tokens)),
      resetSeconds: toSeconds(((l.cap - l.tokens) * WINDOW_MS) / l.cap),
      windowSeconds: WINDOW_MS / 1000,
    }));
    const toNextMonth = toSeconds(nextMonthStart(now) - now);
    if (monthly !== null) {
      policies.push({
        name: 'monthly',
        limit: monthly,
        remaining: Math.max(0, monthly - cur.requests),
        resetSeconds: toNextMonth,
        windowSeconds: toSeconds(nextMonthStart(now) - monthStart(now)),
      });
    }

    let decider: PolicyState;
    let retryAfterSeconds = 0;
    if (!quotaOk) {
      decider = policies.find((p) => p.name === 'monthly')!;
      retryAfterSeconds = toNextMonth;
    } else if (blocked.length) {
      // The request may go again once every blocked bucket holds a token: wait for the slowest.
      const waits = blocked.map((l) => ({ l, wait: ((weight - l.tokens) * WINDOW_MS) / l.cap / 1000 }));
      const slowest = waits.reduce((a, b) => (b.wait > a.wait ? b : a));
      decider = policies[levels.indexOf(slowest.l)]!;
      retryAfterSeconds = slowest.wait;
    } else {
      decider = policies.reduce((a, b) => (b.remaining < a.remaining ? b : a));
    }

    return {
      allowed,
      reason: allowed ? null : quotaOk ? 'rate' : 'quota',
      quota: quotaOk ? null : 'requests',
      policy: decider.name,
      limit: decider.limit,
      remaining: decider.remaining,
      resetSeconds: decider.resetSeconds,
      retryAfterSeconds,
      windowSeconds: decider.windowSeconds,
      policies,
    };
  }

  /** Would `amount` more of `quota` fit? Consumes nothing. */
  async checkQuota(tenantId: string, limits: PlanLimits, quota: QuotaName, amount: number): Promise<QuotaCheck> {
    this.bind(tenantId);
    const next = this.successor(tenantId);
    if (next) return next.checkQuota(tenantId, limits, quota, amount) as Promise<QuotaCheck>;
    return this.quotaCheck(limits, quota, amount, this.clock());
  }

  /** Check and record in one event: either `amount` is recorded or nothing is. */
  async consume(tenantId: string, limits: PlanLimits, quota: QuotaName, amount: number): Promise<QuotaCheck> {
    this.bind(tenantId);
    const next = this.successor(tenantId);
    if (next) return next.consume(tenantId, limits, quota, amount) as Promise<QuotaCheck>;
    const now = this.clock();
    const check = this.quotaCheck(limits, quota, amount, now);
    if (check.ok) this.add(this.current(now), { [quota]: amount }, limits);
    return check;
  }

  /**
   * Reserves several quotas at once, before costly work (an ask: asks + the answer's max
   * tokens; a search or an ingestion: its estimated embedding tokens). In one event: every
   * amount fits and all are recorded, or nothing is and the first quota that does not fit
   * is named. The caller later records the difference to what was really used, or gives the
   * whole reservation back (negative deltas through `record`). Exact under concurrency for
   * the same reason as `admit`: nothing here awaits between the check and the write.
   */
  async reserve(tenantId: string, limits: PlanLimits, delta: UsageDelta): Promise<QuotaCheck & { quota: QuotaName | null }> {
    this.bind(tenantId);
    const next = this.successor(tenantId);
    if (next) return next.reserve(tenantId, limits, delta) as Promise<QuotaCheck & { quota: QuotaName | null }>;
    const now = this.clock();
    const wanted = Object.entries(delta).filter(([, v]) => v !== undefined) as [QuotaName, number][];
    for (const [quota, amount] of wanted) {
      if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) throw new TypeError(`reservation ${quota} must be a finite number >= 0`);
    }
    let last: QuotaCheck = { ok: true, limit: null, used: 0, retryAfterSeconds: 0 };
    for (const [quota, amount] of wanted) {
      last = this.quotaCheck(limits, quota, amount, now);
      if (!last.ok) return { ...last, quota };
    }
    this.add(this.current(now), Object.fromEntries(wanted), limits);
    return { ...last, quota: null };
  }

  /** Adds reported consumption (negative for documents/storedBytes when documents are deleted). */
  async record(tenantId: string, delta: UsageDelta & { promptTokens?: number }, opts?: RecordOptions): Promise<void> {
    this.bind(tenantId);
    const next = this.successor(tenantId);
    if (next) return opts ? next.record(tenantId, delta, opts) : next.record(tenantId, delta);
    const agentId = opts?.agentId ?? null;
    if (agentId !== null && (typeof agentId !== 'string' || !agentId)) throw new TypeError('agentId must be a non-empty string');
    const clean = cleanDelta(delta);
    const forAgent = opts?.agentDelta ? cleanDelta(opts.agentDelta) : clean;
    const cur = this.current(this.clock());
    this.add(cur, clean);
    // In the same event as the tenant's counters: the agent's figures never disagree with them.
    if (agentId) {
      this.ctx.storage.sql.exec(
        `INSERT INTO agent_usage (period, agent_id, asks, prompt_tokens, completion_tokens) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (period, agent_id) DO UPDATE SET asks = max(0, asks + excluded.asks),
         prompt_tokens = max(0, prompt_tokens + excluded.prompt_tokens), completion_tokens = max(0, completion_tokens + excluded.completion_tokens)`,
        cur.period, agentId, forAgent.asks ?? 0, forAgent.promptTokens ?? 0, forAgent.completionTokens ?? 0,
      );
    }
  }

  /** This month's asks and tokens of the given agents (zeros for one without any). */
  async agentUsage(tenantId: string, agentIds: string[]): Promise<AgentUsageSnapshot[]> {
    this.bind(tenantId);
    const next = this.successor(tenantId);
    if (next) return next.agentUsage(tenantId, agentIds) as Promise<AgentUsageSnapshot[]>;
    if (!Array.isArray(agentIds) || agentIds.some((id) => typeof id !== 'string')) throw new TypeError('agentIds must be a list of ids');
    const period = this.current(this.clock()).period;
    const rows = new Map<string, AgentUsageSnapshot>();
    for (const r of this.ctx.storage.sql.exec<{ agent_id: string; asks: number; prompt_tokens: number; completion_tokens: number }>(
      'SELECT agent_id, asks, prompt_tokens, completion_tokens FROM agent_usage WHERE period = ?', period,
    )) {
      rows.set(r.agent_id, { agentId: r.agent_id, period, asks: r.asks, promptTokens: r.prompt_tokens, completionTokens: r.completion_tokens });
    }
    return agentIds.map((agentId) => rows.get(agentId) ?? { agentId, period, asks: 0, promptTokens: 0, completionTokens: 0 });
  }

  /** The live figures of the current month. */
  async usage(tenantId: string): Promise<UsageSnapshot> {
    this.bind(tenantId);
    const next = this.successor(tenantId);
    if (next) return next.usage(tenantId) as Promise<UsageSnapshot>;
    return this.snapshot(this.clock());
  }

  private snapshot(now: number): UsageSnapshot {
    const cur = this.current(now);
    return {
      period: cur.period,
      requests: cur.requests,
      asks: cur.asks,
      embeddingTokens: cur.embeddingTokens,
      completionTokens: cur.completionTokens,
      promptTokens: cur.promptTokens,
      documents: cur.documents,
      storedBytes: cur.storedBytes,
      rateLimited: cur.rateLimited,
    };
  }

  /**
   * A change of what admission reads is about to be written to D1: from now until
   * commitChange (or PENDING_CHANGE_MAX_MS), the record is not trusted and every admission
   * reads D1, so a request after the write can never be admitted on the old record, even if
   * the commit is lost. Returns the token commitChange takes.
   */
  async beginChange(tenantId: string): Promise<string> {
    this.bind(tenantId);
    const next = this.successor(tenantId);
    if (next) return next.beginChange(tenantId);
    const token = crypto.randomUUID();
    this.pending.set(token, Date.now());
    this.savePending();
    this.invalidate();
    return token;
  }

  /** The change's D1 write has finished (or failed): the next admission rebuilds the record from D1. */
  async commitChange(tenantId: string, token: string): Promise<void> {
    this.bind(tenantId);
    const next = this.successor(tenantId);
    if (next) return next.commitChange(tenantId, token);
    this.pending.delete(token);
    this.savePending();
    this.invalidate();
  }

  /**
   * The tenant's allowed CORS origins (tenant settings), for preflights; [] for an unknown
   * tenant; null when `domain` is given and the tenant does not have it verified.
   */
  async allowedOrigins(tenantId: string, domain?: string | null): Promise<string[] | null> {
    this.bind(tenantId);
    const next = this.successor(tenantId);
    if (next) return next.allowedOrigins(tenantId, domain);
    const { record } = await this.admissionRecord();
    if (record && domain && !record.domains.includes(domain)) return null;
    return record ? parseSettings(record.tenant).allowedOrigins ?? [] : [];
  }

  /** Writes due bookkeeping (and usage) to D1 now, e.g. before `members` lists last-seen times. */
  async flushActivity(tenantId: string): Promise<void> {
    this.bind(tenantId);
    const next = this.successor(tenantId);
    if (next) return next.flushActivity(tenantId);
    await this.flush();
  }

  /**
   * The tenant's purge (deleteTenant, docs/lifecycle.md): everything this object stores goes —
   * counters, buckets, activity, pending changes, the alarm — through `deleteAll`. The figures
   * are flushed to D1 first (usage aggregates are the billing record the purge keeps; pending
   * last-seen bookkeeping is dropped, as the memberships it would touch are gone), so no alarm
   * is left to write anything afterwards. Idempotent; returns the rows the object held.
   */
  async purge(tenantId: string): Promise<{ rows: number }> {
    this.bind(tenantId);
    const sql = this.ctx.storage.sql;
    let rows = 0;
    for (const table of ['meta', 'periods', 'buckets', 'agent_usage', 'activity', 'thresholds']) {
      rows += sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${table}`).one().n;
    }
    // Last-seen bookkeeping is not flushed: it would write membership rows the purge has removed.
    this.activity.clear();
    await this.flush();
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.periods.clear();
    this.cur = null;
    this.curStarts = 0;
    this.curEnds = 0;
    this.buckets.clear();
    this.activity.clear();
    this.pending.clear();
    this.reached.clear();
    this.handover = {};
    this.lastLimits = null;
    this.alarmAt = null;
    this.loading = null;
    this.invalidate();
    // Refused requests may still reach the object (the tenant row stays as a tombstone): it
    // answers them from empty tables, and remembers nothing but which tenant it serves.
    this.tenantId = null;
    this.createTables();
    return { rows };
  }

  /** The alarm flushes; the runtime retries it if the flush throws (alarms run at least once). */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    await this.flush();
  }

  /**
   * Writes every month with unflushed changes to D1 as absolute values (an upsert keyed
   * by tenant and period), so a retried or repeated flush rewrites the same figures and
   * never double-counts. Flushes run one after another, so an older snapshot never lands
   * after a newer one. Resolves once the figures as of the call are in D1.
   */
  flush(): Promise<void> {
    const run = this.flushing.then(() => this.flushOnce());
    this.flushing = run.catch(() => {
      // The figures stay dirty; make sure something comes back for them.
      this.scheduleFlush(FLUSH_INTERVAL_MS);
    });
    return run;
  }

  private async flushOnce(): Promise<void> {
    // A retired guard's figures went to its successor, which writes them: writing here too
    // would overwrite its newer absolute values with older ones.
    if (this.handover.retired) return;
    const now = this.clock();
    if (this.tenantId && this.cur) this.current(now); // a month that ended without traffic still rolls over
    const pending = [...this.periods.values()].filter((p) => p.version > p.flushed).map((p) => ({ ...p }));
    // A successor writes usage only once it holds its predecessor's figures too (adopt).
    if (pending.length && this.tenantId && !this.tenantId.startsWith('__') && !this.handover.expecting) {
      const stmt = this.d1db.prepare(
        `INSERT INTO usage (tenant_id, period, ${COUNTERS.map((c) => COLUMNS[c]).join(', ')}, updated_at)
         VALUES (${Array.from({ length: COUNTERS.length + 3 }, (_, i) => `?${i + 1}`).join(', ')})
         ON CONFLICT (tenant_id, period) DO UPDATE SET ${COUNTERS.map((c) => `${COLUMNS[c]} = excluded.${COLUMNS[c]}`).join(', ')},
         updated_at = excluded.updated_at`,
      );
      const at = new Date().toISOString();
      const tenantId = this.tenantId;
      // The snapshot above is what gets written; changes made while D1 answers stay dirty.
      await this.d1db.batch(pending.map((p) => stmt.bind(tenantId, p.period, ...COUNTERS.map((c) => p[c]), at)));
    }
    await this.flushActivityOnce(now);
    // A successor announces thresholds once it holds its predecessor's (adopt), never twice.
    if (!this.handover.expecting) await this.sendThresholds();
    for (const snap of this.handover.expecting ? [] : pending) {
      const p = this.periods.get(snap.period);
      if (!p) continue;
      p.flushed = Math.max(p.flushed, snap.version);
      if (p !== this.cur && p.flushed >= p.version) {
        // A closed month that D1 now holds in full: D1 is its record from here on.
        this.periods.delete(p.period);
        this.ctx.storage.sql.exec('DELETE FROM periods WHERE period = ?', p.period);
      } else {
        this.ctx.storage.sql.exec('UPDATE periods SET flushed = ? WHERE period = ?', p.flushed, p.period);
      }
    }
    // A bucket untouched for a whole window is full again; forgetting it changes nothing.
    for (const [name, b] of this.buckets) {
      if (now - b.at >= WINDOW_MS) {
        this.buckets.delete(name);
        this.ctx.storage.sql.exec('DELETE FROM buckets WHERE name = ?', name);
      }
    }
    if (this.isDirty()) this.scheduleFlush(FLUSH_INTERVAL_MS);
  }

  // ---------------------------------------------------------------- hand-over (moves)

  /**
   * A move is about to put the tenant in this object's jurisdiction (src/placement/move.ts,
   * switch step). Whatever this object still holds is stale (it is a guard retired by an
   * earlier move, or new), so it is dropped; until `adopt`, the object serves the tenant's
   * requests but writes no usage to D1 (its figures are partial). Idempotent per move.
   */
  async expectAdoption(tenantId: string, moveId: string): Promise<void> {
    this.bind(tenantId);
    if (this.handover.adopted === moveId || this.handover.expecting === moveId) return;
    this.wipe();
    this.handover = { expecting: moveId, adopted: this.handover.adopted ?? null };
    this.saveHandover();
  }

  /**
   * The tenant's guard is now the one in `jurisdiction` (the catalogue has switched): freezes
   * this object's figures, returns them for the successor, and from now on forwards every call
   * there (a caller with a stale address reaches the right guard through one more hop) and
   * writes nothing to D1. Idempotent per move: a resumed move gets the same figures again.
   */
  async retire(tenantId: string, moveId: string, jurisdiction: Jurisdiction): Promise<GuardHandover> {
    this.bind(tenantId);
    const done = this.handover.retired;
    if (done?.moveId === moveId) return done.snapshot;
    // A flush already writing to D1 lands first: it must not overwrite the successor's newer figures.
    await this.flushing;
    const again = this.handover.retired;
    if (again?.moveId === moveId) return again.snapshot;
    const sql = this.ctx.storage.sql;
    const snapshot: GuardHandover = {
      periods: [...this.periods.values()].map((p) => ({ ...p })),
      buckets: [...this.buckets.entries()].map(([name, b]) => ({ name, ...b })),
      agentUsage: [...sql.exec<GuardHandover['agentUsage'][number]>('SELECT period, agent_id, asks, prompt_tokens, completion_tokens FROM agent_usage')],
      activity: [...this.activity.entries()].map(([k, a]) => ({ k, ...a })),
      thresholds: [...sql.exec<NonNullable<GuardHandover['thresholds']>[number]>('SELECT period, quota, percent, used, lim, sent FROM thresholds')],
    };
    this.wipe();
    this.handover = { retired: { moveId, jurisdiction, snapshot }, adopted: this.handover.adopted ?? null };
    this.saveHandover();
    await this.ctx.storage.deleteAlarm();
    this.alarmAt = null;
    return snapshot;
  }

  /**
   * Takes over the figures of the tenant's previous guard (what `retire` returned), added to
   * what this object counted since `expectAdoption` (requests admitted here while the move
   * finished). Then it writes usage to D1 again, the sum. Idempotent per move.
   */
  async adopt(tenantId: string, moveId: string, from: GuardHandover): Promise<void> {
    this.bind(tenantId);
    if (this.handover.adopted === moveId) return;
    for (const src of from.periods) {
      const p = this.periods.get(src.period) ?? ({ period: src.period, version: 0, flushed: 0, ...Object.fromEntries(COUNTERS.map((c) => [c, 0])) } as PeriodState);
      for (const c of COUNTERS) p[c] = Math.max(0, p[c] + src[c]);
      p.version += 1;
      p.flushed = 0;
      this.periods.set(p.period, p);
      this.savePeriod(p);
    }
    const latest = [...this.periods.keys()].sort().at(-1);
    if (latest) {
      this.cur = this.periods.get(latest)!;
      this.curStarts = this.curEnds = 0;
    }
    // The emptier bucket of the two: never more tokens than either guard would have given.
    for (const { name, tokens, at } of from.buckets) {
      const mine = this.buckets.get(name);
      if (!mine || tokens < mine.tokens) this.buckets.set(name, { tokens, at });
    }
    if (this.buckets.size) {
      this.ctx.storage.sql.exec(
        `INSERT OR REPLACE INTO buckets (name, tokens, at) VALUES ${[...this.buckets].map(() => '(?, ?, ?)').join(', ')}`,
        ...[...this.buckets].flatMap(([k, b]) => [k, b.tokens, b.at]),
      );
    }
    for (const r of from.agentUsage) {
      this.ctx.storage.sql.exec(
        `INSERT INTO agent_usage (period, agent_id, asks, prompt_tokens, completion_tokens) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (period, agent_id) DO UPDATE SET asks = asks + excluded.asks,
         prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens`,
        r.period, r.agent_id, r.asks, r.prompt_tokens, r.completion_tokens,
      );
    }
    for (const { k, ...a } of from.activity) {
      const mine = this.activity.get(k);
      // The later sighting wins; anything not yet in D1 on either side is written again (the upserts never move back).
      const merged: Activity = mine && mine.seenAt >= a.seenAt ? { ...mine } : { ...a };
      if (mine && (mine.writtenAt === null || a.writtenAt === null)) merged.writtenAt = null;
      this.activity.set(k, merged);
      this.saveActivity(k, merged);
    }
    for (const r of from.thresholds ?? []) {
      // Announced by either guard counts as announced; one still pending is sent by this one.
      this.ctx.storage.sql.exec(
        `INSERT INTO thresholds (period, quota, percent, used, lim, sent) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (period, quota, percent) DO UPDATE SET sent = max(sent, excluded.sent)`,
        r.period, r.quota, r.percent, r.used, r.lim, r.sent,
      );
      this.reached.add(`${r.period}:${r.quota}:${r.percent}`);
    }
    this.handover = { adopted: moveId };
    this.saveHandover();
    this.scheduleFlush(0);
  }

  /** Drops every figure and bucket (a retired or stale guard): memory and storage. */
  private wipe(): void {
    const sql = this.ctx.storage.sql;
    for (const t of ['periods', 'buckets', 'agent_usage', 'activity', 'thresholds']) sql.exec(`DELETE FROM ${t}`);
    this.reached.clear();
    this.periods.clear();
    this.buckets.clear();
    this.activity.clear();
    this.cur = null;
    this.curStarts = this.curEnds = 0;
  }

  private saveHandover(): void {
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('handover', ?)", JSON.stringify(this.handover));
  }

  /** The tenant's guard after a move that retired this one, or null while this one serves. */
  private successor(tenantId: string): DurableObjectStub<TenantGuard> | null {
    this.bind(tenantId);
    const retired = this.handover.retired;
    if (!retired) return null;
    const ns = guardNamespace(this.env as AppEnv, retired.jurisdiction);
    return ns.get(ns.idFromName(tenantId));
  }

  // ---------------------------------------------------------------- internals

  /** The object remembers its tenant (the alarm has no caller to ask) and refuses to serve another. */
  private bind(tenantId: string): void {
    if (this.tenantId === tenantId) return;
    if (this.tenantId !== null) throw new Error('TenantGuard addressed with a different tenant id');
    if (typeof tenantId !== 'string' || !tenantId) throw new TypeError('tenantId is required');
    this.tenantId = tenantId;
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('tenant', ?)", tenantId);
  }

  /** The current month's state, rolling over when the clock has entered a new month. */
  private current(now: number): PeriodState {
    // Inside the current month (the common case), no date arithmetic at all.
    if (this.cur && now < this.curEnds && now >= this.curStarts) return this.cur;
    const period = periodOf(now);
    const prev = this.cur;
    if (prev && period <= prev.period) {
      if (period === prev.period) [this.curStarts, this.curEnds] = [monthStart(now), nextMonthStart(now)];
      return prev;
    }
    [this.curStarts, this.curEnds] = [monthStart(now), nextMonthStart(now)];
    const next = { period, version: prev ? 1 : 0, flushed: 0 } as PeriodState;
    for (const c of COUNTERS) next[c] = prev && CARRIED.includes(c) ? prev[c] : 0;
    this.periods.set(period, next);
    this.cur = next;
    this.savePeriod(next);
    // Per-agent figures are kept for this month and the one before (they are not flushed to D1).
    if (prev) this.ctx.storage.sql.exec('DELETE FROM agent_usage WHERE period < ?', prev.period);
    // Thresholds announced for earlier months are never looked at again.
    if (prev) {
      this.ctx.storage.sql.exec('DELETE FROM thresholds WHERE period < ? AND sent = 1', period);
      for (const k of this.reached) if (!k.startsWith(`${period}:`)) this.reached.delete(k);
    }
    // Flush the month that just closed (and the carried-over totals) right away.
    if (prev) this.scheduleFlush(0);
    return next;
  }

  private quotaCheck(limits: PlanLimits, quota: QuotaName, amount: number, now: number): QuotaCheck {
    if (!(quota in QUOTA_LIMIT_FIELD)) throw new TypeError(`unknown quota "${quota}"`);
    this.lastLimits = limits;
    if (typeof amount !== 'number' || !Number.isFinite(amount)) throw new TypeError('amount must be a finite number');
    const cur = this.current(now);
    const limit = quotaLimit(limits, quota);
    const used = cur[quota];
    const monthly = MONTHLY_QUOTAS.includes(quota);
    return {
      ok: limit === null || used + amount <= limit,
      limit,
      used,
      retryAfterSeconds: monthly ? toSeconds(nextMonthStart(now) - now) : STANDING_RETRY_SECONDS,
    };
  }

  private add(p: PeriodState, delta: Partial<Record<Counter, number>>, limits: PlanLimits | null = this.lastLimits): void {
    let changed = false;
    for (const [k, v] of Object.entries(delta) as [Counter, number][]) {
      if (!v) continue;
      // Counters never go below zero (e.g. deleting a document counted before metering began).
      p[k] = Math.max(0, p[k] + v);
      changed = true;
      if (v > 0 && p === this.cur) this.noteThresholds(p, k, limits);
    }
    if (!changed) return;
    p.version += 1;
    this.savePeriod(p);
    this.scheduleFlush(FLUSH_INTERVAL_MS);
  }

  /**
   * Remembers the thresholds (80 %, 100 %) a monthly quota's counter has now reached, each
   * once per month, for the alarm to announce (`quota.threshold`). The counter includes
   * reservations still held, as the quota checks do. No I/O here: the hot path stays exact.
   */
  private noteThresholds(p: PeriodState, counter: Counter, limits: PlanLimits | null): void {
    if (!limits || !MONTHLY_QUOTAS.includes(counter as QuotaName) || !this.tenantId || this.tenantId.startsWith('__')) return;
    let limit: number | null;
    try {
      limit = quotaLimit(limits, counter as QuotaName);
    } catch {
      return; // malformed limits were refused by the quota check itself
    }
    if (!limit) return; // unlimited, or 0 (nothing can be spent)
    for (const percent of THRESHOLD_PERCENTS) {
      if (p[counter] * 100 < limit * percent) continue;
      const key = `${p.period}:${counter}:${percent}`;
      if (this.reached.has(key)) continue;
      this.reached.add(key);
      this.ctx.storage.sql.exec(
        'INSERT OR IGNORE INTO thresholds (period, quota, percent, used, lim, sent) VALUES (?, ?, ?, ?, ?, 0)', p.period, counter, percent, p[counter], limit,
      );
      this.scheduleFlush(0);
    }
  }

  /** Sends the thresholds not yet announced to the job queue (the webhook job drops them for tenants without a webhook). */
  private async sendThresholds(): Promise<void> {
    const tenantId = this.tenantId;
    const queue = (this.env as AppEnv).INGEST_QUEUE;
    if (!tenantId || tenantId.startsWith('__') || !queue) return;
    const rows = this.ctx.storage.sql
      .exec<{ period: string; quota: string; percent: number; used: number; lim: number }>('SELECT period, quota, percent, used, lim FROM thresholds WHERE sent = 0')
      .toArray();
    if (!rows.length) return;
    const messages = await Promise.all(
      rows.map((r) => webhookMessage(tenantId, 'quota.threshold', `${r.period}:${r.quota}:${r.percent}`, { quota: r.quota, percent: r.percent, limit: r.lim, used: r.used, period: r.period })),
    );
    // At least once: a send that fails leaves them unsent for the next alarm; the event id dedupes a repeat.
    await queue.sendBatch(messages.map((body) => ({ body })));
    for (const r of rows) this.ctx.storage.sql.exec('UPDATE thresholds SET sent = 1 WHERE period = ? AND quota = ? AND percent = ?', r.period, r.quota, r.percent);
  }

  private savePeriod(p: PeriodState): void {
    const cols = COUNTERS.map((c) => COLUMNS[c]);
    this.ctx.storage.sql.exec(
      `INSERT OR REPLACE INTO periods (period, ${cols.join(', ')}, version, flushed) VALUES (?${', ?'.repeat(cols.length + 2)})`,
      p.period,
      ...COUNTERS.map((c) => p[c]),
      p.version,
      p.flushed,
    );
  }

  private isDirty(): boolean {
    for (const p of this.periods.values()) if (p.version > p.flushed) return true;
    for (const a of this.activity.values()) if (activityDue(a)) return true;
    for (const _ of this.ctx.storage.sql.exec('SELECT 1 FROM thresholds WHERE sent = 0 LIMIT 1')) return true;
    return false;
  }

  // ---------------------------------------------------------------- admission record

  /** The record, loaded from D1 when missing, invalidated or while a change is pending (then not kept). */
  private async admissionRecord(): Promise<{ record: AdmissionRecord | null; keys: Map<string, KeyGrant | null>; limits: PlanLimits | null }> {
    if (this.pending.size) this.expirePending(Date.now());
    if (this.pending.size === 0 && this.held && this.held.generation === this.generation) return this.held;
    const generation = this.generation;
    let load = this.loading?.generation === generation ? this.loading.promise : null;
    if (!load) {
      load = loadAdmissionRecord(this.db, this.tenantId!);
      this.loading = { generation, promise: load };
      const done = () => {
        if (this.loading?.promise === load) this.loading = null;
      };
      load.then(done, done);
    }
    const value = await load;
    // Kept only if nothing changed while D1 answered and no change is in flight.
    if (generation === this.generation && this.pending.size === 0 && this.held?.generation === generation) return this.held;
    // Plan tables merged with the tenant's overrides once per record, not per request.
    const held = { generation, record: value, keys: new Map<string, KeyGrant | null>(), limits: value ? limitsOf(loadConfig(this.env).plans, value.tenant) : null };
    if (generation === this.generation && this.pending.size === 0) this.held = held;
    return held;
  }

  /** A key's grant: from the record, or loaded once from D1 into it (a key created after the record was built). */
  private async keyGrant(keys: Map<string, KeyGrant | null>, keyId: string): Promise<KeyGrant | null> {
    if (keys.has(keyId)) return keys.get(keyId) ?? null;
    const generation = this.generation;
    const grant = await loadKeyGrant(this.db, this.tenantId!, keyId);
    // A revocation that began while D1 answered must not be overwritten by this older read.
    if (generation === this.generation) keys.set(keyId, grant);
    return grant;
  }

  private invalidate(): void {
    this.generation += 1;
    this.held = null;
  }

  private expirePending(now: number): void {
    let changed = false;
    for (const [token, since] of this.pending) {
      if (now - since > PENDING_CHANGE_MAX_MS) {
        this.pending.delete(token);
        changed = true;
      }
    }
    if (changed) {
      this.savePending();
      this.invalidate();
    }
  }

  private savePending(): void {
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('pending', ?)", JSON.stringify(Object.fromEntries(this.pending)));
  }

  // ---------------------------------------------------------------- bookkeeping

  /**
   * Remembers that a user or key acted (members.last_seen_at, api_keys.last_used_at). Storage
   * is written only when the entry becomes due, so a busy user costs one DO write per
   * coalescing window, and D1 one write per window at the next flush.
   */
  private noteActivity(cred: GateCredential, now: number): void {
    if (cred.kind === 'user' && !cred.track) return;
    const kind = cred.kind === 'user' ? 'user' : 'key';
    const id = cred.kind === 'user' ? cred.userId : cred.keyId;
    const role = cred.kind === 'user' ? cred.role : null;
    const k = `${kind}:${id}`;
    let a = this.activity.get(k);
    const wasDue = a ? activityDue(a) : false;
    if (!a) {
      a = { kind, id, role, seenAt: now, writtenAt: null, writtenRole: null };
      this.activity.set(k, a);
    } else {
      a.seenAt = Math.max(a.seenAt, now);
      if (role !== a.role) a.role = role;
    }
    if (!wasDue && activityDue(a)) {
      this.saveActivity(k, a);
      this.scheduleFlush(FLUSH_INTERVAL_MS);
    }
  }

  private saveActivity(k: string, a: Activity): void {
    this.ctx.storage.sql.exec(
      'INSERT OR REPLACE INTO activity (k, kind, id, role, seen_at, written_at, written_role) VALUES (?, ?, ?, ?, ?, ?, ?)',
      k, a.kind, a.id, a.role, a.seenAt, a.writtenAt, a.writtenRole,
    );
  }

  /**
   * Writes due activity to D1: membership upserts (role from the latest token, last_seen_at
   * never moved back) and key last_used_at (never moved back), so a retried alarm rewrites
   * the same values.
   */
  private async flushActivityOnce(now: number): Promise<void> {
    const tenantId = this.tenantId;
    if (!tenantId || tenantId.startsWith('__')) return;
    const due = [...this.activity.entries()].filter(([, a]) => activityDue(a)).map(([k, a]) => ({ k, snap: { ...a } }));
    if (due.length) {
      const iso = (ms: number) => new Date(ms).toISOString();
      const member = this.d1db.prepare(
        `INSERT INTO memberships (tenant_id, user_id, role, last_seen_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = excluded.role,
         last_seen_at = max(coalesce(memberships.last_seen_at, ''), excluded.last_seen_at)`,
      );
      const key = this.d1db.prepare(
        `UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, ''), ?1) WHERE id = ?2 AND tenant_id = ?3`,
      );
      await this.d1db.batch(
        due.map(({ snap }) => (snap.kind === 'user' ? member.bind(tenantId, snap.id, snap.role, iso(snap.seenAt)) : key.bind(iso(snap.seenAt), snap.id, tenantId))),
      );
      for (const { k, snap } of due) {
        const a = this.activity.get(k);
        if (!a) continue;
        a.writtenAt = snap.seenAt;
        a.writtenRole = snap.role;
        this.saveActivity(k, a);
      }
    }
    for (const [k, a] of this.activity) {
      if (!activityDue(a) && now - a.seenAt > ACTIVITY_FORGET_MS) {
        this.activity.delete(k);
        this.ctx.storage.sql.exec('DELETE FROM activity WHERE k = ?', k);
      }
    }
  }

  /** Makes sure an alarm fires within `delayMs` (wall clock); an earlier alarm already set is kept. */
  private scheduleFlush(delayMs: number): void {
    const at = Date.now() + delayMs;
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    // Storage writes are covered by the output gate: the reply waits for them to be durable.
    void this.ctx.storage.setAlarm(at);
  }
}
