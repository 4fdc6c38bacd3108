/**
 * The webhook job (src/jobs/queue-router.ts): each `webhook.event` message opens its
 * tenant's session as the webhook system and makes the event's next delivery attempt
 * (src/lifecycle/webhooks.ts). A failed attempt goes back to the queue with the backoff
 * delay; the attempt count lives in the delivery row, so redeliveries (at-least-once, the
 * dead-letter queue) never make more than WEBHOOK_MAX_ATTEMPTS requests to the receiver.
 */
import type { Principal } from '../auth/principal';
import type { AppEnv } from '../env';
import { createLogger, errorDetail } from '../lib/log';
import { createRoot, openTenantSession } from '../tenant-session';
import { isWebhookMessage, webhookRetryDelaySeconds, type WebhookEventMessage } from './webhooks';

/** The principal the job acts as (it reads and writes only the tenant's webhook rows). */
export const WEBHOOK_PRINCIPAL: Principal = {
  kind: 'user', tenantRef: null, userId: 'system:webhooks', apiKeyId: null, role: 'member',
  scopes: [], platformAdmin: false, rateLimitPerMinute: null, collectionIds: null, agentIds: null,
};

/** Acks or retries each message on its own: one tenant's failing receiver never holds back another's. */
export async function consumeWebhookMessages(messages: readonly Message<unknown>[], env: AppEnv, opts: { fetcher?: typeof fetch } = {}): Promise<void> {
  const log = createLogger(`queue:${crypto.randomUUID()}`);
  const root = createRoot(env, { log });
  for (const message of messages) {
    const msg = message.body as WebhookEventMessage;
    if (!isWebhookMessage(msg) || typeof msg.tenantId !== 'string' || typeof msg.eventId !== 'string' || typeof msg.event !== 'string') {
      log.warn('webhook: malformed message dropped', { id: message.id });
      message.ack();
      continue;
    }
    try {
      const tenant = await root.platform.tenantById(msg.tenantId);
      // A tenant that is gone or cancelled gets no more events.
      if (!tenant || tenant.status === 'cancelled') {
        message.ack();
        continue;
      }
      const session = await openTenantSession(root, tenant, { ...WEBHOOK_PRINCIPAL, tenantRef: tenant.id }, `webhook:${msg.eventId}`, { guard: null, fetcher: opts.fetcher });
      const next = await session.services.webhooks.handle(msg);
      if (next) message.retry({ delaySeconds: next.retryDelaySeconds });
      else message.ack();
    } catch (err) {
      // Our own bookkeeping failed (D1 unreachable…): try again later; the row's count still bounds the attempts.
      log.error('webhook: message handling failed', { tenantId: msg.tenantId, eventId: msg.eventId, ...errorDetail(err) });
      message.retry({ delaySeconds: webhookRetryDelaySeconds(message.attempts) });
    }
  }
}
