/**
 * Webhook signatures in the Standard Webhooks format (https://www.standardwebhooks.com/,
 * spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md),
 * so receivers can verify with any of its libraries or a few lines of code:
 *
 *   webhook-id:        the event id (stable across retries: dedupe on it)
 *   webhook-timestamp: Unix seconds of this attempt (reject if far from your clock)
 *   webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>
 *
 * The secret is `whsec_<base64 of 32 random bytes>`; the HMAC key is the decoded bytes.
 * Pure Web Crypto: no I/O.
 */

export const SECRET_PREFIX = 'whsec_';

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** A fresh signing secret (shown to the tenant once, stored sealed). */
export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${b64(crypto.getRandomValues(new Uint8Array(32)))}`;
}

/** The v1 signature of one attempt. Throws on a secret that is not `whsec_<base64>`. */
export async function signWebhook(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  if (!secret.startsWith(SECRET_PREFIX)) throw new TypeError('webhook secret must start with whsec_');
  const key = await crypto.subtle.importKey('raw', unb64(secret.slice(SECRET_PREFIX.length)), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${id}.${timestamp}.${body}`));
  return `v1,${b64(new Uint8Array(mac))}`;
}

/** The headers of one delivery attempt. */
export async function webhookHeaders(secret: string, id: string, timestamp: number, body: string): Promise<Record<string, string>> {
  return {
    'content-type': 'application/json',
    'user-agent': 'edgerag-webhooks/1',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': await signWebhook(secret, id, timestamp, body),
  };
}
