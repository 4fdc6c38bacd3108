/**
 * Tenant webhooks (issue 15, DESIGN §13): registration (URL rules, the secret shown once and
 * stored sealed), signed document and quota events delivered by the queue job, retries with
 * backoff, bounded attempts, delivery status, and isolation: a tenant's receiver only ever
 * gets that tenant's events.
 */
import { env } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { signWebhook } from '../../src/lifecycle/webhook-signature';
import { WEBHOOK_MAX_ATTEMPTS, webhookRetryDelaySeconds } from '../../src/lifecycle/webhooks';
import { guardClient } from '../../src/objects/guard-client';
import { createRoot, openTenantSession } from '../../src/tenant-session';
import { ask } from '../chat/chat-helpers';
import { withDns, type DnsTable } from '../documents/fake-dns';
import { scopeOf } from '../documents/keyword-helpers';
import { deliver, ingest, row } from '../documents/doc-helpers';
import { codeOf, createApiKey, createTenant, gql, twoTenants, type TestTenant } from '../helpers';
import { capturingQueue, installReceiver, runJob, verifySignature, type Receiver } from './webhook-helpers';

const SET = `mutation($input: SetWebhookInput!) { setWebhook(input: $input) { secret webhook { id url events } } }`;
const VIEW = `{ webhook { id url events lastDelivery { id event status attempts responseStatus error at nextAttemptAt deliveredAt }
  deliveries { id event status attempts } } }`;

const A_HOST = 'receiver-a.test';
const B_HOST = 'receiver-b.test';
let receiverA: Receiver;
let receiverB: Receiver;
beforeEach(() => {
  receiverA = installReceiver(A_HOST);
  receiverB = installReceiver(B_HOST);
});
afterEach(() => {
  receiverB.restore();
  receiverA.restore();
});

async function setWebhook(t: TestTenant, input: Record<string, unknown>, token = t.token) {
  return gql(SET, { input }, { token });
}
async function register(t: TestTenant, host: string, events?: string[]): Promise<string> {
  const r = await setWebhook(t, { url: `https://${host}/hooks/edgerag`, ...(events ? { events } : {}) });
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data.setWebhook.secret as string;
}
const view = async (t: TestTenant) => (await gql(VIEW, {}, { token: t.token })).body.data.webhook;

/** Ingests and processes a document for `t`; returns the webhook messages the ingest job sent. */
async function processDocument(t: TestTenant, opts: { text?: string; breakOriginal?: boolean } = {}) {
  const r = await ingest(t, { name: `doc-${crypto.randomUUID().slice(0, 8)}.md`, text: opts.text ?? '# Webhooks\n\nThe receiver hears about this document.' });
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  const id = r.body.data.ingestDocument.id as string;
  if (opts.breakOriginal) await env.DOCUMENTS.delete((await row(id))!.object_key);
  const { sent, queue } = capturingQueue();
  await deliver(id, { workerEnv: { ...env, INGEST_QUEUE: queue } });
  return { id, messages: sent.filter((m) => m.type === 'webhook.event') };
}

describe('webhook delivery', () => {
  it('delivers document.completed signed (Standard Webhooks v1) to the tenant that owns the document only', async () => {
    const [a, b] = await twoTenants();
    const secretA = await register(a, A_HOST);
    const secretB = await register(b, B_HOST);
    expect(secretA).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    const { id, messages } = await processDocument(a);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ tenantId: a.id, event: 'document.completed', data: { documentId: id, status: 'COMPLETED' } });
    expect(await runJob(messages[0])).toMatchObject({ acked: true, retried: false });

    expect(receiverA.calls).toHaveLength(1);
    const call = receiverA.calls[0]!;
    expect(call.url).toBe(`https://${A_HOST}/hooks/edgerag`);
    expect(call.headers).toMatchObject({ 'content-type': 'application/json', 'webhook-id': messages[0].eventId });
    expect(Math.abs(Number(call.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    expect(await verifySignature(secretA, call)).toBe(true);
    expect(await verifySignature(secretB, call)).toBe(false);
    // A body changed on the way no longer verifies.
    expect(await verifySignature(secretA, { ...call, body: call.body.replace('COMPLETED', 'FAILED') })).toBe(false);
    expect(JSON.parse(call.body)).toMatchObject({
      id: messages[0].eventId, type: 'document.completed', tenantId: a.id, data: { documentId: id, status: 'COMPLETED', chunkCount: 1 },
    });
    expect(receiverB.calls).toEqual([]);

    expect((await view(a)).lastDelivery).toMatchObject({ id: messages[0].eventId, event: 'document.completed', status: 'DELIVERED', attempts: 1, responseStatus: 200, error: null });
    expect((await view(b)).lastDelivery).toBeNull();
    // The same event again (at-least-once queue) is not delivered twice.
    expect(await runJob(messages[0])).toMatchObject({ acked: true });
    expect(receiverA.calls).toHaveLength(1);
  });

  it('retries a failed attempt with backoff (document.failed: 500, then 200), same id and body, each attempt signed', async () => {
    const [a, b] = await twoTenants();
    const secret = await register(a, A_HOST);
    await register(b, B_HOST);
    const { id, messages } = await processDocument(a, { breakOriginal: true });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ event: 'document.failed', data: { documentId: id, status: 'FAILED', error: 'The original file is missing from storage.' } });

    receiverA.script(500);
    expect(await runJob(messages[0], 1)).toMatchObject({ acked: false, retried: true, delays: [webhookRetryDelaySeconds(1)] });
    const pending = (await view(a)).lastDelivery;
    expect(pending).toMatchObject({ status: 'PENDING', attempts: 1, responseStatus: 500, error: 'HTTP 500', deliveredAt: null });
    expect(Date.parse(pending.nextAttemptAt) - Date.parse(pending.at)).toBeGreaterThanOrEqual(29_000);

    expect(await runJob(messages[0], 2)).toMatchObject({ acked: true, retried: false });
    expect((await view(a)).lastDelivery).toMatchObject({ status: 'DELIVERED', attempts: 2, responseStatus: 200, error: null, nextAttemptAt: null });
    expect(receiverA.calls).toHaveLength(2);
    expect(receiverA.calls[1]!.body).toBe(receiverA.calls[0]!.body);
    expect(receiverA.calls[1]!.headers['webhook-id']).toBe(receiverA.calls[0]!.headers['webhook-id']);
    for (const c of receiverA.calls) expect(await verifySignature(secret, c)).toBe(true);
    expect(receiverB.calls).toEqual([]);
  });

  it(`gives up after ${WEBHOOK_MAX_ATTEMPTS} attempts, with growing delays, and never calls again`, async () => {
    const a = await createTenant();
    await register(a, A_HOST);
    const { messages } = await processDocument(a);
    receiverA.script(...Array(10).fill(503));
    const delays: (number | undefined)[] = [];
    for (let attempt = 1; attempt < WEBHOOK_MAX_ATTEMPTS; attempt++) {
      const r = await runJob(messages[0], attempt);
      expect(r.retried).toBe(true);
      delays.push(...r.delays);
    }
    expect(delays).toEqual([30, 120, 480, 1920]);
    expect(await runJob(messages[0], WEBHOOK_MAX_ATTEMPTS)).toMatchObject({ acked: true, retried: false });
    expect((await view(a)).lastDelivery).toMatchObject({ status: 'FAILED', attempts: WEBHOOK_MAX_ATTEMPTS, responseStatus: 503, error: 'HTTP 503' });
    // A redelivery (e.g. from the dead-letter queue) makes no further request.
    expect(await runJob(messages[0], 1)).toMatchObject({ acked: true });
    expect(receiverA.calls).toHaveLength(WEBHOOK_MAX_ATTEMPTS);
  });

  it('announces only subscribed events; a tenant without a webhook sends nothing', async () => {
    const [a, b] = await twoTenants();
    await register(a, A_HOST, ['DOCUMENT_FAILED']);
    expect((await view(a)).events).toEqual(['DOCUMENT_FAILED']);
    expect((await processDocument(a)).messages).toEqual([]);
    expect((await processDocument(b)).messages).toEqual([]);
  });

  it('announces quota.threshold at 80 % and 100 % of a monthly quota, once each, through the real queue', async () => {
    const [a, b] = await twoTenants({ limits: { monthlyAsks: 5 } });
    const secret = await register(a, A_HOST);
    await register(b, B_HOST);
    const quotaEvents = () => receiverA.calls.map((c) => JSON.parse(c.body)).filter((e) => e.type === 'quota.threshold');
    for (let i = 0; i < 4; i++) expect((await ask(a.token, { question: `question ${i}` })).body.errors).toBeUndefined();
    // The guard's alarm sends the event to the queue; Miniflare delivers it to the webhook job in the background.
    await vi.waitFor(() => expect(quotaEvents()).toHaveLength(1), { timeout: 15_000, interval: 50 });
    expect(quotaEvents()[0]).toMatchObject({ tenantId: a.id, data: { quota: 'asks', percent: 80, limit: 5, used: 4 } });
    expect(await ask(a.token, { question: 'the last one' })).toMatchObject({ body: { data: expect.anything() } });
    await vi.waitFor(() => expect(quotaEvents()).toHaveLength(2), { timeout: 15_000, interval: 50 });
    expect(quotaEvents()[1]).toMatchObject({ data: { quota: 'asks', percent: 100, limit: 5, used: 5 } });
    for (const c of receiverA.calls) expect(await verifySignature(secret, c)).toBe(true);
    expect(codeOf(await ask(a.token, { question: 'over the quota' }))).toBe('QUOTA_EXCEEDED');
    // B asked nothing: its receiver heard nothing of A's quota.
    expect(receiverB.calls).toEqual([]);
    expect(quotaEvents()).toHaveLength(2);
  }, 40_000);
});

describe('webhook registration', () => {
  it('shows the secret once, stores it sealed, replaces it with a new one, and deletes', async () => {
    const [a, b] = await twoTenants();
    const first = await setWebhook(a, { url: `https://${A_HOST}/x` });
    const secret = first.body.data.setWebhook.secret as string;
    const stored = await env.DB.prepare('SELECT * FROM tenant_webhooks WHERE tenant_id = ?').bind(a.id).first<Record<string, string>>();
    expect(stored!.secret_sealed).toMatch(/^v1\./);
    expect(JSON.stringify(stored)).not.toContain(secret.slice(6));
    expect(await view(a)).toMatchObject({ url: `https://${A_HOST}/x`, events: ['DOCUMENT_COMPLETED', 'DOCUMENT_FAILED', 'QUOTA_THRESHOLD'], lastDelivery: null });
    expect(await view(b)).toBeNull();

    const second = await setWebhook(a, { url: `https://${A_HOST}/y` });
    expect(second.body.data.setWebhook.secret).not.toBe(secret);
    expect(second.body.data.setWebhook.webhook.id).not.toBe(first.body.data.setWebhook.webhook.id);
    const audit = await env.DB.prepare("SELECT action, details FROM audit_log WHERE tenant_id = ? AND action LIKE 'tenant.webhook.%' ORDER BY created_at").bind(a.id).all<{ details: string }>();
    expect(audit.results).toHaveLength(2);
    expect(JSON.stringify(audit.results)).not.toContain(secret.slice(6));

    expect((await gql('mutation { deleteWebhook }', {}, { token: a.token })).body.data.deleteWebhook).toBe(true);
    expect((await gql('mutation { deleteWebhook }', {}, { token: a.token })).body.data.deleteWebhook).toBe(false);
    expect(await view(a)).toBeNull();
  });

  it.each([
    ['not a URL', { url: 'receiver' }, 'url'],
    ['another scheme', { url: 'ftp://receiver-a.test/x' }, 'url'],
    ['credentials in it', { url: 'https://user:pw@receiver-a.test/x' }, 'url'],
    ['no events', { url: 'https://receiver-a.test/x', events: [] }, 'events'],
  ])('refuses %s with BAD_USER_INPUT naming the field', async (_, input, field) => {
    const t = await createTenant();
    const r = await setWebhook(t, input);
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.body.errors?.[0]?.extensions?.field).toBe(field);
    expect(await view(t)).toBeNull();
  });

  it('is for owners and admins (or an ADMIN key) of the tenant only', async () => {
    const [a, b] = await twoTenants();
    expect(codeOf(await setWebhook(a, { url: `https://${A_HOST}/x` }, await a.tokenFor('member')))).toBe('FORBIDDEN');
    expect(codeOf(await gql(VIEW, {}, { token: await a.tokenFor('viewer') }))).toBe('FORBIDDEN');
    const ingestKey = await createApiKey(a, ['INGEST']);
    expect(codeOf(await setWebhook(a, { url: `https://${A_HOST}/x` }, ingestKey.secret))).toBe('FORBIDDEN');
    const adminKey = await createApiKey(a, ['ADMIN']);
    expect((await setWebhook(a, { url: `https://${A_HOST}/x` }, adminKey.secret)).body.errors).toBeUndefined();
    expect((await setWebhook(a, { url: `https://${A_HOST}/x` }, await a.tokenFor('owner'))).body.errors).toBeUndefined();
    // A's credential on B's host is refused, and B's webhook stays unset.
    expect(codeOf(await gql(SET, { input: { url: `https://${A_HOST}/x` } }, { token: a.token, host: `${b.slug}.localhost` }))).toBe('FORBIDDEN');
    expect(await view(b)).toBeNull();
  });
});

describe('webhook URLs in production: the URL-ingestion SSRF rules, with DNS', () => {
  const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
  /** The tenant's webhook service in a production session whose fetches go to the fake resolver or are recorded. */
  async function prodWebhooks(t: TestTenant, records: DnsTable) {
    const posted: string[] = [];
    const fetcher = withDns(records, (async (input: RequestInfo | URL) => {
      posted.push(input instanceof Request ? input.url : String(input));
      return new Response(null, { status: 204 });
    }) as typeof fetch);
    const scope = await scopeOf(t);
    const prodEnv = { ...env, ENVIRONMENT: 'production', URL_FETCH_PORTS: '', DNS_RESOLVER_URL: '' } as never;
    const session = await openTenantSession(createRoot(prodEnv, { log: silent }), scope.tenant, scope.principal, 'test', {
      guard: guardClient(env.TENANT_GUARD, t.id, silent), fetcher,
    });
    return { webhooks: session.services.webhooks, posted, fetcher };
  }

  it.each([
    ['a name that resolves to loopback', 'https://hooks.internal-alias.example/x', 'url must name a public host'],
    ['a private literal', 'https://10.0.0.5/x', 'url must name a public host'],
    ['localhost', 'https://localhost/x', 'url must name a public host'],
    ['a port outside URL_FETCH_PORTS', 'https://hooks.example:8443/x', 'url may only use port 80 or 443'],
    ['plain http', 'http://hooks.example/x', 'url must use https'],
  ])('refuses %s and stores nothing', async (_, url, message) => {
    const [a, b] = await twoTenants();
    const { webhooks, posted } = await prodWebhooks(a, { 'hooks.internal-alias.example': ['127.0.0.1'], 'hooks.example': ['93.184.216.34'] });
    await expect(webhooks.set({ url })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message, extensions: { field: 'url' } });
    expect(posted).toEqual([]);
    for (const t of [a, b]) expect(await env.DB.prepare('SELECT count(*) AS n FROM tenant_webhooks WHERE tenant_id = ?').bind(t.id).first('n')).toBe(0);
  });

  it('judges the name again before every attempt: one that turned private is never called', async () => {
    const a = await createTenant();
    const records: DnsTable = { 'hooks.example': ['93.184.216.34'] };
    const { webhooks, posted } = await prodWebhooks(a, records);
    await webhooks.set({ url: 'https://hooks.example/edgerag' });
    const first = { type: 'webhook.event', tenantId: a.id, eventId: 'evt_prod_1', event: 'document.completed', occurredAt: new Date().toISOString(), data: {} } as const;
    expect(await webhooks.handle(first)).toBeNull();
    expect(posted).toEqual(['https://hooks.example/edgerag']);
    records['hooks.example'] = ['169.254.169.254'];
    expect(await webhooks.handle({ ...first, eventId: 'evt_prod_2' })).toEqual({ retryDelaySeconds: 30 });
    expect(posted).toHaveLength(1);
    expect(await webhooks.deliveries((await webhooks.view())!.id, 1)).toMatchObject([{ id: 'evt_prod_2', status: 'pending', attempts: 1, error: 'refused: url must name a public host' }]);
  });
});

describe('webhook signatures', () => {
  it('match the Standard Webhooks test vector', async () => {
    // From the Standard Webhooks reference libraries' tests.
    const sig = await signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(sig).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });
});
