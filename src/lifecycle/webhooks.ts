/**
 * Tenant webhooks (DESIGN §13 "signed webhooks", issue 15; docs/guard.md "Webhooks").
 *
 * A tenant's owners and admins register one URL (checked like a document URL: https, an
 * allowed port and a public host in production, judged again by DNS before every attempt)
 * and get its signing secret once. Events — `document.completed`, `document.failed`,
 * `quota.threshold` — never block the work that produces them: the producer (the ingest
 * job, the TenantGuard's alarm) only sends a queue message. The webhook job records the
 * event once in the tenant's delivery outbox (the event id is deterministic, so an event
 * produced twice is delivered once), POSTs it signed (src/lifecycle/webhook-signature.ts),
 * and retries a failed attempt with exponential backoff through the queue, at most
 * WEBHOOK_MAX_ATTEMPTS times; each delivery's status, attempts and last outcome are visible
 * through `webhook { lastDelivery { … } deliveries { … } }`.
 */
import type { WebhookDeliveryRow, WebhookRow } from '../db/schema';
import { eventsOf } from '../db/repositories/webhooks';
import type { TenantScope } from '../db/tenant-scope';
import { AppError } from '../lib/errors';
import { newId } from '../lib/ids';
import { errorDetail, type Logger } from '../lib/log';
import { cachedSecretBox, type SecretBox } from '../lib/secret-box';
import { checkPublicUrl } from '../rag/url-source';
import { newWebhookSecret, webhookHeaders } from './webhook-signature';

export const WEBHOOK_EVENTS = ['document.completed', 'document.failed', 'quota.threshold'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

/** Attempts per delivery (the first and four retries), counted in the outbox row. */
export const WEBHOOK_MAX_ATTEMPTS = 5;
/** How long one attempt may take before it counts as failed. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** Exponential backoff after failed attempt `n`: 30 s, 2 min, 8 min, 32 min (capped at an hour). */
export const webhookRetryDelaySeconds = (attempt: number) => Math.min(3_600, 30 * 4 ** Math.max(0, attempt - 1));

/** The queue message of one event (the shared job queue, src/jobs/queue-router.ts). */
export interface WebhookEventMessage {
  type: 'webhook.event';
  tenantId: string;
  /** Stable per event: the delivery row's key and the `webhook-id` header. */
  eventId: string;
  event: WebhookEventType;
  occurredAt: string;
  data: Record<string, unknown>;
}

/** Whether a queue message is a webhook event (the job registry's `matches`). */
export function isWebhookMessage(body: unknown): body is WebhookEventMessage {
  const b = body as Partial<WebhookEventMessage> | null;
  return !!b && typeof b === 'object' && b.type === 'webhook.event';
}

/**
 * The message of one event. `key` names the event within its tenant (e.g. the document,
 * version and outcome; the quota, month and percentage), so a producer that runs twice
 * (at-least-once queues and alarms) makes the same event id.
 */
export async function webhookMessage(tenantId: string, event: WebhookEventType, key: string, data: Record<string, unknown>): Promise<WebhookEventMessage> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${tenantId}\n${event}\n${key}`)));
  const eventId = `evt_${[...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  return { type: 'webhook.event', tenantId, eventId, event, occurredAt: new Date().toISOString(), data };
}

export interface WebhookRules {
  /** Development and tests may deliver to localhost and any port over http; production never. */
  allowPrivateHosts: boolean;
  urlFetch: { ports: readonly number[]; resolverUrl: string };
}

export interface WebhookServiceDeps {
  scope: TenantScope;
  encryptionKey: string | undefined;
  rules: WebhookRules;
  /** Sends event messages (the job queue). */
  queue: { send(body: WebhookEventMessage): Promise<unknown> };
  /** Delivers, and asks the DNS-over-HTTPS resolver (production). */
  fetcher?: typeof fetch;
  log: Logger;
}

export interface SetWebhookInput {
  url: string;
  events?: WebhookEventType[] | null;
}

/** What one attempt came to. */
interface AttemptResult {
  ok: boolean;
  responseStatus: number | null;
  error: string | null;
}

const purposeOf = (tenantId: string) => `tenant_webhooks:${tenantId}:secret`;
const bad = (message: string, field: string, extra: Record<string, unknown> = {}) => new AppError('BAD_USER_INPUT', message, { field, ...extra });

export class WebhookService {
  constructor(private readonly deps: WebhookServiceDeps) {}

  private get fetcher(): typeof fetch {
    return this.deps.fetcher ?? ((input, init) => globalThis.fetch(input, init));
  }

  view(): Promise<WebhookRow | null> {
    return this.deps.scope.webhooks.get();
  }

  /** Newest first; `webhookId` scopes them to the current webhook. */
  deliveries(webhookId: string, first: number): Promise<WebhookDeliveryRow[]> {
    return this.deps.scope.webhooks.recent(webhookId, first);
  }

  /** Registers (or replaces) the tenant's webhook with a new secret, returned this once. */
  async set(input: SetWebhookInput): Promise<{ webhook: WebhookRow; secret: string }> {
    const { scope, rules } = this.deps;
    const raw = input.url.trim();
    const url = await checkPublicUrl(raw, { allowPrivateHosts: rules.allowPrivateHosts, fetcher: this.fetcher, allowedPorts: rules.urlFetch.ports, resolverUrl: rules.urlFetch.resolverUrl, field: 'url' });
    if (!rules.allowPrivateHosts && url.protocol !== 'https:') throw bad('url must use https', 'url');
    if (url.hash) throw bad('url must not have a fragment', 'url');
    const events = input.events == null ? [...WEBHOOK_EVENTS] : [...new Set(input.events)];
    if (events.length === 0) throw bad('events needs at least one event (omit it for all of them)', 'events');
    const box = await this.box();
    const secret = newWebhookSecret();
    const webhook = await scope.webhooks.set({
      id: newId(), url: url.toString(), events, secretSealed: await box.seal(secret, purposeOf(scope.tenantId)), keyId: box.currentKeyId,
    });
    return { webhook, secret };
  }

  remove(): Promise<boolean> {
    return this.deps.scope.webhooks.remove();
  }

  /**
   * Announces an event if the tenant's webhook wants it: one catalogue read and a queue send.
   * Never throws: a lost announcement is logged, the work that produced it goes on.
   */
  async emit(event: WebhookEventType, key: string, data: Record<string, unknown>): Promise<void> {
    const { scope, queue, log } = this.deps;
    try {
      const hook = await scope.webhooks.get();
      if (!hook || !eventsOf(hook).includes(event)) return;
      await queue.send(await webhookMessage(scope.tenantId, event, key, data));
    } catch (err) {
      log.warn('webhook event not sent', { event, key, ...errorDetail(err) });
    }
  }

  /**
   * The webhook job's step for one event message: record it once, make the next attempt,
   * and say whether (and when) to try again. Null: done (delivered, given up, or nothing to
   * deliver: no webhook, not subscribed, or the webhook was replaced since).
   */
  async handle(msg: WebhookEventMessage): Promise<{ retryDelaySeconds: number } | null> {
    const repo = this.deps.scope.webhooks;
    const hook = await repo.get();
    if (!hook) return null; // removed: its deliveries went with it
    const existing = await repo.delivery(msg.eventId);
    // Subscriptions are judged when the event is first recorded; a recorded one is finished.
    if (!existing && !eventsOf(hook).includes(msg.event)) return null;
    const row = existing ?? (await repo.enqueue({
      id: msg.eventId, webhookId: hook.id, event: msg.event,
      payload: JSON.stringify({ id: msg.eventId, type: msg.event, createdAt: msg.occurredAt, tenantId: msg.tenantId, data: msg.data }),
    }));
    if (row.status !== 'pending') return null;
    if (row.webhookId !== hook.id) {
      await repo.finishAttempt(row.id, { status: 'failed', responseStatus: null, error: 'the webhook was replaced before this event was delivered', nextAttemptAt: null });
      return null;
    }
    const attempt = await repo.startAttempt(row.id, WEBHOOK_MAX_ATTEMPTS);
    if (attempt === null) {
      // Out of attempts (a delivery that died mid-attempt used its last one): close it.
      const now = await repo.delivery(row.id);
      if (now?.status === 'pending') await repo.finishAttempt(row.id, { status: 'failed', responseStatus: now.responseStatus, error: now.error ?? 'out of attempts', nextAttemptAt: null });
      return null;
    }
    const result = await this.attempt(hook, row);
    if (result.ok) {
      await repo.finishAttempt(row.id, { status: 'delivered', responseStatus: result.responseStatus, error: null, nextAttemptAt: null });
      return null;
    }
    if (attempt >= WEBHOOK_MAX_ATTEMPTS) {
      await repo.finishAttempt(row.id, { status: 'failed', responseStatus: result.responseStatus, error: result.error, nextAttemptAt: null });
      return null;
    }
    const delay = webhookRetryDelaySeconds(attempt);
    await repo.finishAttempt(row.id, {
      status: 'pending', responseStatus: result.responseStatus, error: result.error, nextAttemptAt: new Date(Date.now() + delay * 1000).toISOString(),
    });
    return { retryDelaySeconds: delay };
  }

  /** One signed POST of the stored payload (the same body and id on every attempt; a fresh timestamp). */
  private async attempt(hook: WebhookRow, row: WebhookDeliveryRow): Promise<AttemptResult> {
    const { rules, scope } = this.deps;
    try {
      // The name may resolve elsewhere since it was registered: judge it again before every attempt.
      await checkPublicUrl(hook.url, { allowPrivateHosts: rules.allowPrivateHosts, fetcher: this.fetcher, allowedPorts: rules.urlFetch.ports, resolverUrl: rules.urlFetch.resolverUrl, field: 'url' });
    } catch (err) {
      return { ok: false, responseStatus: null, error: `refused: ${err instanceof AppError ? err.message : 'the URL could not be checked'}` };
    }
    const secret = await (await this.box()).open(hook.secretSealed, purposeOf(scope.tenantId));
    const headers = await webhookHeaders(secret, row.id, Math.floor(Date.now() / 1000), row.payload);
    const signal = AbortSignal.timeout(WEBHOOK_TIMEOUT_MS);
    let res: Response;
    try {
      // Redirects are not followed: the registered URL is the one that was checked.
      res = await this.fetcher(hook.url, { method: 'POST', headers, body: row.payload, redirect: 'manual', signal });
    } catch {
      return { ok: false, responseStatus: null, error: signal.aborted ? `timed out after ${WEBHOOK_TIMEOUT_MS / 1000} seconds` : 'could not connect' };
    }
    await res.body?.cancel().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return { ok: true, responseStatus: res.status, error: null };
    const redirect = res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : '';
    return { ok: false, responseStatus: res.status, error: `HTTP ${res.status}${redirect}` };
  }

  private async box(): Promise<SecretBox> {
    try {
      return await cachedSecretBox(this.deps.encryptionKey);
    } catch (err) {
      const out = new AppError('UPSTREAM_UNAVAILABLE', 'Webhook secrets cannot be used: the deployment has no usable ENCRYPTION_KEY', { reason: 'encryption_unavailable' });
      out.cause = err;
      throw out;
    }
  }
}
