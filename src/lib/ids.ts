/** Random identifiers and small encoding helpers (Web Crypto only). */
export const newId = (): string => crypto.randomUUID();

const B32 = 'abcdefghijkmnpqrstuvwxyz23456789';
/** Lower-case, unambiguous random string (API key prefixes). */
export function randomToken(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = '';
  for (const b of bytes) out += B32[b % B32.length];
  return out;
}

export function toBase64Url(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export async function sha256Hex(input: string | Uint8Array): Promise<string> {
  const data: Uint8Array<ArrayBuffer> = typeof input === 'string' ? new TextEncoder().encode(input) : new Uint8Array(input);
  const digest = await crypto.subtle.digest('SHA-256', data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export const nowIso = (): string => new Date().toISOString();
