/**
 * The tenant's webhook and its delivery outbox (docs/guard.md "Webhooks"), in the catalogue
 * beside the tenant row. The signing secret is written and read here as sealed text only
 * (sealing happens in src/lifecycle/webhooks.ts). Setting and removing the webhook is
 * audited in the same batch; delivery bookkeeping (written by the queue job) is not.
 */
import { and, desc, eq, sql } from 'drizzle-orm';
import { nowIso } from '../../lib/ids';
import { tenantWebhooks, webhookDeliveries, type WebhookDeliveryRow, type WebhookRow } from '../schema';
import type { TenantScope } from '../tenant-scope';

export interface WebhookWrite {
  id: string;
  url: string;
  events: string[];
  secretSealed: string;
  keyId: string;
}

/** One attempt's outcome, as the delivery row records it. */
export interface AttemptOutcome {
  status: 'pending' | 'delivered' | 'failed';
  responseStatus: number | null;
  error: string | null;
  nextAttemptAt: string | null;
}

/** The subscribed events of a stored webhook (a JSON array), failing closed on anything else. */
export function eventsOf(row: Pick<WebhookRow, 'events'>): string[] {
  const list = JSON.parse(row.events) as unknown;
  if (!Array.isArray(list) || list.some((e) => typeof e !== 'string')) throw new Error('tenant_webhooks.events is not a JSON array of event names');
  return list as string[];
}

export class WebhooksRepo {
  constructor(private readonly scope: TenantScope) {}

  async get(): Promise<WebhookRow | null> {
    const { catalogue: db, tenantId } = this.scope;
    const rows = await db.select().from(tenantWebhooks).where(eq(tenantWebhooks.tenantId, tenantId)).limit(1);
    return rows[0] ?? null;
  }

  /** Creates or replaces the tenant's one webhook (a new id, so pending deliveries of the old one stop), audited. */
  async set(w: WebhookWrite): Promise<WebhookRow> {
    this.scope.requireUnrestricted('change the webhook');
    const { catalogue: db, tenantId, actor } = this.scope;
    const at = nowIso();
    const existing = await this.get();
    const row: WebhookRow = {
      tenantId, id: w.id, url: w.url, events: JSON.stringify(w.events), secretSealed: w.secretSealed, keyId: w.keyId,
      createdBy: actor, createdAt: existing?.createdAt ?? at, updatedAt: at,
    };
    await this.scope.writeAudited(
      [db.insert(tenantWebhooks).values(row).onConflictDoUpdate({ target: tenantWebhooks.tenantId, set: { ...row, tenantId: undefined } })],
      { action: 'tenant.webhook.set', targetType: 'webhook', targetId: w.id, details: { url: w.url, events: w.events, keyId: w.keyId, replaced: existing?.id ?? null } },
      db,
    );
    return row;
  }

  /** Removes the webhook and its delivery history; true if there was one. */
  async remove(): Promise<boolean> {
    this.scope.requireUnrestricted('change the webhook');
    const { catalogue: db, tenantId } = this.scope;
    const existing = await this.get();
    if (!existing) return false;
    await this.scope.writeAudited(
      [db.delete(tenantWebhooks).where(eq(tenantWebhooks.tenantId, tenantId)), db.delete(webhookDeliveries).where(eq(webhookDeliveries.tenantId, tenantId))],
      { action: 'tenant.webhook.delete', targetType: 'webhook', targetId: existing.id, details: { url: existing.url } },
      db,
    );
    return true;
  }

  /** Records an event for the webhook once: a second call with the same event id changes nothing. Returns the row. */
  async enqueue(d: { id: string; webhookId: string; event: string; payload: string }): Promise<WebhookDeliveryRow> {
    const { catalogue: db, tenantId } = this.scope;
    await db.insert(webhookDeliveries).values({ tenantId, id: d.id, webhookId: d.webhookId, event: d.event, payload: d.payload }).onConflictDoNothing();
    return (await this.delivery(d.id))!;
  }

  async delivery(id: string): Promise<WebhookDeliveryRow | null> {
    const { catalogue: db, tenantId } = this.scope;
    const rows = await db.select().from(webhookDeliveries).where(and(eq(webhookDeliveries.tenantId, tenantId), eq(webhookDeliveries.id, id))).limit(1);
    return rows[0] ?? null;
  }

  /**
   * Counts an attempt that is about to be made, if the delivery is still pending and under
   * `maxAttempts`: the attempt number, or null (delivered, failed, or out of attempts). The
   * count is taken before the request, so a delivery that dies mid-attempt still uses one up.
   */
  async startAttempt(id: string, maxAttempts: number): Promise<number | null> {
    const { catalogue: db, tenantId } = this.scope;
    const rows = await db
      .update(webhookDeliveries)
      .set({ attempts: sql`${webhookDeliveries.attempts} + 1`, lastAttemptAt: nowIso() })
      .where(and(eq(webhookDeliveries.tenantId, tenantId), eq(webhookDeliveries.id, id), eq(webhookDeliveries.status, 'pending'), sql`${webhookDeliveries.attempts} < ${maxAttempts}`))
      .returning({ attempts: webhookDeliveries.attempts });
    return rows[0]?.attempts ?? null;
  }

  async finishAttempt(id: string, o: AttemptOutcome): Promise<void> {
    const { catalogue: db, tenantId } = this.scope;
    await db
      .update(webhookDeliveries)
      .set({ status: o.status, responseStatus: o.responseStatus, error: o.error, nextAttemptAt: o.nextAttemptAt, deliveredAt: o.status === 'delivered' ? nowIso() : null })
      .where(and(eq(webhookDeliveries.tenantId, tenantId), eq(webhookDeliveries.id, id)));
  }

  /** The webhook's most recent deliveries, newest first. */
  async recent(webhookId: string, limit: number): Promise<WebhookDeliveryRow[]> {
    const { catalogue: db, tenantId } = this.scope;
    return db
      .select()
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.tenantId, tenantId), eq(webhookDeliveries.webhookId, webhookId)))
      .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
      .limit(limit);
  }
}
