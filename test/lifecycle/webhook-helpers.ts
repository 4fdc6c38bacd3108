/**
 * Webhook test helpers: a fake receiver installed by replacing globalThis.fetch for its host
 * only (the Worker runs in the test's isolate, as with test/chat/fake-openai.ts), a signature
 * check written from the Standard Webhooks spec (independent of src/), a queue producer that
 * keeps what the Worker sends, and a runner that hands one message to the Worker's queue().
 */
import { env } from 'cloudflare:test';
import { deliverBody } from '../documents/doc-helpers';

export interface Received {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface Receiver {
  calls: Received[];
  /** HTTP statuses for the next requests (then 200). */
  script(...statuses: number[]): void;
  restore(): void;
}

export function installReceiver(host: string): Receiver {
  const original = globalThis.fetch;
  const calls: Received[] = [];
  const queue: number[] = [];
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    if (new URL(req.url).host !== host) return original(input, init);
    calls.push({ url: req.url, headers: Object.fromEntries(req.headers), body: await req.text() });
    return new Response(null, { status: queue.shift() ?? 200 });
  };
  return { calls, script: (...s) => queue.push(...s), restore: () => void (globalThis.fetch = original) };
}

/** Verifies a delivery the way a receiver would (Standard Webhooks v1: HMAC-SHA256 over "id.timestamp.body"). */
export async function verifySignature(secret: string, r: Pick<Received, 'headers' | 'body'>): Promise<boolean> {
  const key = Uint8Array.from(atob(secret.replace(/^whsec_/, '')), (c) => c.charCodeAt(0));
  const k = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const signed = `${r.headers['webhook-id']}.${r.headers['webhook-timestamp']}.${r.body}`;
  for (const part of (r.headers['webhook-signature'] ?? '').split(' ')) {
    const [version, sig] = part.split(',');
    if (version !== 'v1' || !sig) continue;
    const mac = Uint8Array.from(atob(sig), (c) => c.charCodeAt(0));
    if (await crypto.subtle.verify('HMAC', k, mac, new TextEncoder().encode(signed))) return true;
  }
  return false;
}

/** A producer that keeps every message (structured-cloned, like the real one). */
export function capturingQueue() {
  const sent: any[] = [];
  const queue = {
    send: async (body: unknown) => void sent.push(structuredClone(body)),
    sendBatch: async (messages: Iterable<{ body: unknown }>) => {
      for (const m of messages) sent.push(structuredClone(m.body));
    },
  } as unknown as Env['INGEST_QUEUE'];
  return { sent, queue };
}

/** Runs the Worker's queue handler on one message as delivery `attempts`: acked or retried, and the delay asked for. */
export async function runJob(body: unknown, attempts = 1, workerEnv: Env = env) {
  const result = await deliverBody(body, { attempts, workerEnv: workerEnv as never });
  return { acked: result.explicitAcks.length === 1, retried: result.retryMessages.length === 1, delays: result.delays };
}
