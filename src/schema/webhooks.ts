/**
 * The tenant's webhook (DESIGN §13, docs/guard.md "Webhooks"): owners and admins register a
 * URL for document and quota events and get the signing secret once; `webhook` shows the URL,
 * the events and each delivery's status.
 */
import type { WebhookDeliveryRow, WebhookRow } from '../db/schema';
import { eventsOf } from '../db/repositories/webhooks';
import { AppError } from '../lib/errors';
import { WEBHOOK_MAX_ATTEMPTS, type WebhookEventType } from '../lifecycle/webhooks';
import { allow } from './access';
import { builder } from './builder';

const EVENT_ENUM = { DOCUMENT_COMPLETED: 'document.completed', DOCUMENT_FAILED: 'document.failed', QUOTA_THRESHOLD: 'quota.threshold' } as const satisfies Record<string, WebhookEventType>;
type EventEnum = keyof typeof EVENT_ENUM;
const enumOf = (e: string) => (Object.keys(EVENT_ENUM) as EventEnum[]).find((k) => EVENT_ENUM[k] === e)!;

const WebhookEventEnum = builder.enumType('WebhookEvent', {
  description: 'document.completed, document.failed, quota.threshold (80 % and 100 % of a monthly quota, once per month each).',
  values: Object.keys(EVENT_ENUM) as EventEnum[],
});
const DeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  description: `PENDING: not delivered yet (a retry is scheduled); DELIVERED: the receiver answered 2xx; FAILED: ${WEBHOOK_MAX_ATTEMPTS} attempts failed, or the webhook was replaced.`,
  values: ['PENDING', 'DELIVERED', 'FAILED'] as const,
});

const WebhookDelivery = builder.objectRef<WebhookDeliveryRow>('WebhookDelivery').implement({
  description: 'One event for the webhook and how its delivery went.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The event id: the webhook-id header, the same on every attempt.' }),
    event: t.exposeString('event', { description: 'document.completed, document.failed or quota.threshold.' }),
    status: t.field({ type: DeliveryStatusEnum, resolve: (d) => d.status.toUpperCase() as 'PENDING' | 'DELIVERED' | 'FAILED' }),
    attempts: t.exposeInt('attempts'),
    responseStatus: t.exposeInt('responseStatus', { nullable: true, description: "The receiver's HTTP status on the last attempt." }),
    error: t.exposeString('error', { nullable: true, description: 'Why the last attempt failed.' }),
    createdAt: t.field({ type: 'DateTime', resolve: (d) => d.createdAt }),
    at: t.field({ type: 'DateTime', nullable: true, description: 'When the last attempt was made.', resolve: (d) => d.lastAttemptAt }),
    nextAttemptAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.nextAttemptAt }),
    deliveredAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.deliveredAt }),
  }),
});

const Webhook = builder.objectRef<WebhookRow>('Webhook').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    url: t.exposeString('url'),
    events: t.field({ type: [WebhookEventEnum], resolve: (w) => eventsOf(w).map(enumOf) }),
    createdAt: t.field({ type: 'DateTime', resolve: (w) => w.createdAt }),
    updatedAt: t.field({ type: 'DateTime', description: 'When the URL, events or secret last changed.', resolve: (w) => w.updatedAt }),
    lastDelivery: t.field({
      type: WebhookDelivery,
      nullable: true,
      resolve: async (w, _a, ctx) => (await webhooks(ctx).deliveries(w.id, 1))[0] ?? null,
    }),
    deliveries: t.field({
      type: [WebhookDelivery],
      description: 'The most recent events, newest first.',
      args: { first: t.arg.int({ required: false, defaultValue: 20 }) },
      resolve: (w, { first }, ctx) => {
        const n = first ?? 20;
        if (!Number.isInteger(n) || n < 1 || n > 100) throw new AppError('BAD_USER_INPUT', 'first must be from 1 to 100', { field: 'first' });
        return webhooks(ctx).deliveries(w.id, n);
      },
    }),
  }),
});

const CreatedWebhook = builder.objectRef<{ webhook: WebhookRow; secret: string }>('CreatedWebhook').implement({
  fields: (t) => ({
    webhook: t.field({ type: Webhook, resolve: (c) => c.webhook }),
    secret: t.exposeString('secret', {
      description: 'The signing secret (whsec_…). Shown once: it is stored encrypted and cannot be read again; setWebhook again makes a new one.',
    }),
  }),
});

const SetWebhookInput = builder.inputType('SetWebhookInput', {
  fields: (t) => ({
    url: t.string({ required: true, description: 'Where events are POSTed: https and a public host in production (checked like a document URL).' }),
    events: t.field({ type: [WebhookEventEnum], required: false, description: 'Omit for every event.' }),
  }),
});

function webhooks(ctx: Parameters<typeof allow>[0]) {
  allow(ctx, 'admin', 'admin');
  const w = ctx.app.services.webhooks;
  if (!w) throw new AppError('FORBIDDEN', 'This operation needs a tenant: call it on the tenant host');
  return w;
}

builder.queryFields((t) => ({
  webhook: t.field({
    type: Webhook,
    nullable: true,
    description: "The tenant's webhook (owner/admin); null: none.",
    resolve: (_r, _a, ctx) => webhooks(ctx).view(),
  }),
}));

builder.mutationFields((t) => ({
  setWebhook: t.field({
    type: CreatedWebhook,
    description: 'Registers or replaces the tenant webhook with a new signing secret (owner/admin). Pending deliveries to a replaced webhook stop.',
    args: { input: t.arg({ type: SetWebhookInput, required: true }) },
    resolve: (_r, { input }, ctx) =>
      webhooks(ctx).set({ url: input.url, events: input.events ? input.events.map((e) => EVENT_ENUM[e]) : null }),
  }),
  deleteWebhook: t.boolean({
    description: 'Removes the webhook and its delivery history; false when there was none.',
    resolve: (_r, _a, ctx) => webhooks(ctx).remove(),
  }),
}));

