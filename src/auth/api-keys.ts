/**
 * API keys (DESIGN §4): `erk_<prefix>_<secret>`. Only the prefix (lookup handle) and the
 * SHA-256 of the secret are stored; the full key is shown once, at creation.
 */
import { randomToken, sha256Hex, toBase64Url } from '../lib/ids';

const KEY_RE = /^erk_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

export interface GeneratedKey {
  prefix: string;
  secret: string;
  secretHash: string;
  /** The whole credential, shown to the client once. */
  token: string;
}

export async function generateApiKey(): Promise<GeneratedKey> {
  const prefix = randomToken(12);
  const secret = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  return { prefix, secret, secretHash: await sha256Hex(secret), token: `erk_${prefix}_${secret}` };
}

export function parseApiKey(token: string): { prefix: string; secret: string } | null {
  const m = KEY_RE.exec(token);
  return m ? { prefix: m[1]!, secret: m[2]! } : null;
}

/** Constant-time comparison of two equal-length hex digests. */
async function digestsEqual(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder();
  const x = enc.encode(a);
  const y = enc.encode(b);
  if (x.byteLength !== y.byteLength) return false;
  // workerd's non-standard constant-time compare (the DOM lib typing of SubtleCrypto lacks it).
  return (crypto.subtle as unknown as { timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean }).timingSafeEqual(x, y);
}

/**
 * Whether `secret` hashes to `storedHash`, compared in constant time. Hashes even when there
 * is no stored hash, so an unknown prefix costs the same as a wrong secret.
 */
export async function secretMatches(storedHash: string | null, secret: string): Promise<boolean> {
  const presented = await sha256Hex(secret);
  return storedHash ? digestsEqual(presented, storedHash) : false;
}

/**
 * A stored restriction (JSON array of ids, or null for none). Anything else fails closed:
 * a restriction we cannot read must never turn into "unrestricted".
 */
export function storedIdList(raw: string | null): string[] | null {
  if (raw === null) return null;
  const list = JSON.parse(raw) as unknown;
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'string')) throw new Error('api key restriction is not a JSON array of ids');
  return list as string[];
}
