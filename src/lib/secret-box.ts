/**
 * AES-GCM sealing of credentials stored in the catalogue (libSQL URLs and tokens), under
 * ENCRYPTION_KEY. The secret may list several keys, comma-separated, newest first: the
 * first seals, every one opens, so a key is rotated by prepending the new one, re-sealing
 * (`rotateSecrets`, or any re-registration) and then dropping the old one.
 *
 * A key's id is the first 8 bytes of SHA-256 of the key, hex: stored beside the ciphertext,
 * it names the key without revealing it and needs no separate configuration. Sealed text:
 * `v1.<keyId>.<iv base64url>.<ciphertext+tag base64url>`. The associated data binds a
 * ciphertext to its purpose (`tenant_databases:<name>:url`), so a ciphertext copied into
 * another row does not open.
 */

export class SecretBoxError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretBoxError';
  }
}

interface RingKey {
  id: string;
  key: CryptoKey;
}

export interface SecretBox {
  /** Id of the key that seals. */
  readonly currentKeyId: string;
  /** Ids of every key that opens. */
  readonly keyIds: readonly string[];
  seal(plaintext: string, purpose: string): Promise<string>;
  open(sealed: string, purpose: string): Promise<string>;
}

const b64 = {
  encode(bytes: Uint8Array): string {
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  },
  decode(text: string): Uint8Array<ArrayBuffer> {
    const std = text.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(std + '='.repeat((4 - (std.length % 4)) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  },
};

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');

/** The key id of one raw key (exported for tests and the rotation docs). */
export async function keyIdOf(raw: Uint8Array<ArrayBuffer>): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-256', raw)).slice(0, 8));
}

/**
 * Parses ENCRYPTION_KEY (one or more base64 32-byte keys, comma-separated, newest first).
 * Throws SecretBoxError naming what is wrong, never the key.
 */
export async function secretBox(encryptionKey: string | undefined): Promise<SecretBox> {
  const parts = (encryptionKey ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) throw new SecretBoxError('ENCRYPTION_KEY is not set: it is needed to store or read libSQL credentials');
  const ring: RingKey[] = [];
  for (const [i, part] of parts.entries()) {
    let raw: Uint8Array<ArrayBuffer>;
    try {
      raw = b64.decode(part);
    } catch (err) {
      throw new SecretBoxError(`ENCRYPTION_KEY key #${i + 1} is not base64`, { cause: err });
    }
    if (raw.byteLength !== 32) throw new SecretBoxError(`ENCRYPTION_KEY key #${i + 1} must be 32 bytes (got ${raw.byteLength})`);
    const key = await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
    ring.push({ id: await keyIdOf(raw), key });
  }
  const current = ring[0]!;
  const enc = new TextEncoder();
  return {
    currentKeyId: current.id,
    keyIds: ring.map((k) => k.id),
    async seal(plaintext, purpose) {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: enc.encode(purpose) }, current.key, enc.encode(plaintext));
      return `v1.${current.id}.${b64.encode(iv)}.${b64.encode(new Uint8Array(ct))}`;
    },
    async open(sealed, purpose) {
      const [version, keyId, iv, ct] = sealed.split('.');
      if (version !== 'v1' || !keyId || !iv || !ct) throw new SecretBoxError(`${purpose}: not a sealed value`);
      const k = ring.find((r) => r.id === keyId);
      if (!k) {
        throw new SecretBoxError(
          `${purpose} is sealed under key id ${keyId}, which ENCRYPTION_KEY does not hold (it has ${ring.map((r) => r.id).join(', ')}): ` +
            'put the old key back after the new one (ENCRYPTION_KEY="<new>,<old>") until every credential is re-sealed',
        );
      }
      try {
        const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: b64.decode(iv), additionalData: enc.encode(purpose) }, k.key, b64.decode(ct));
        return new TextDecoder().decode(pt);
      } catch (err) {
        throw new SecretBoxError(`${purpose} does not open under key id ${keyId}: the ciphertext was altered or belongs to another row`, { cause: err });
      }
    },
  };
}

/** The key id a sealed value names, without opening it. */
export function sealedKeyId(sealed: string): string | null {
  const [version, keyId] = sealed.split('.');
  return version === 'v1' && keyId ? keyId : null;
}

const boxes = new Map<string, Promise<SecretBox>>();
/** One parsed key ring per ENCRYPTION_KEY value (importKey is not free); a bad key is not kept. */
export function cachedSecretBox(encryptionKey: string | undefined): Promise<SecretBox> {
  const k = encryptionKey ?? '';
  let box = boxes.get(k);
  if (!box) {
    box = secretBox(k);
    box.catch(() => boxes.delete(k));
    boxes.set(k, box);
  }
  return box;
}
