/**
 * The isolate's directory of immutable mappings (DESIGN §5 "the hot path"): tenant id or
 * slug → tenant id, custom domain → tenant id, API key prefix → key id, tenant and secret
 * hash. None of these ever changes for a row (slugs and key prefixes are fixed at creation),
 * so a positive answer is kept for the isolate's life and no request after the first asks
 * D1 again. Everything that does change (status, plan, limits, origins, a key's scopes,
 * expiry, revocation, whether a domain still names the tenant) is answered by the tenant's
 * TenantGuard, which is authoritative: a stale entry here can send a request to the right
 * guard only, never admit it. A domain can change hands (removed, then verified by another
 * tenant): an answer that disagrees with the credential is looked up once more
 * (src/http/admission.ts), so the new owner is not refused by an old entry.
 *
 * Unknown names are remembered briefly (NEGATIVE_TTL_MS), so a flood of random keys or
 * guessed subdomains costs D1 one lookup per name per isolate per window; the pre-auth
 * limit (src/http/preauth.ts) caps how many new names one client may make us look up.
 */
import type { PlatformStore } from '../db/platform-store';

/** How long an unknown key prefix, slug, domain or tenant reference stays unknown in this isolate. */
export const NEGATIVE_TTL_MS = 10_000;
/** Entries per map; the oldest go first (Map keeps insertion order). */
const MAX_ENTRIES = 20_000;

export interface KeyIdentity {
  id: string;
  tenantId: string;
  secretHash: string;
}

type Entry<T> = { value: T } | { missingUntil: number };

class BoundedCache<T> {
  private readonly map = new Map<string, Entry<T>>();

  /** The cached answer: a value, `null` (known missing), or `undefined` (ask the database). */
  get(key: string, now: number): T | null | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if ('value' in e) return e.value;
    if (e.missingUntil > now) return null;
    this.map.delete(key);
    return undefined;
  }

  set(key: string, value: T | null, now: number): void {
    if (this.map.size >= MAX_ENTRIES) this.map.delete(this.map.keys().next().value as string);
    this.map.set(key, value === null ? { missingUntil: now + NEGATIVE_TTL_MS } : { value });
  }

  forget(key: string): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }
}

export class Directory {
  private readonly refs = new BoundedCache<string>();
  private readonly slugs = new BoundedCache<string>();
  private readonly domains = new BoundedCache<string>();
  private readonly keys = new BoundedCache<KeyIdentity>();
  /** Lookups in flight, so a cold burst asks D1 once per name. */
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(private readonly clock: () => number = () => Date.now()) {}

  /** Whether a lookup would be answered from memory (no D1): lets the pipeline charge the pre-auth limit only for misses. */
  cachedKey(prefix: string): boolean {
    return this.keys.get(prefix, this.clock()) !== undefined;
  }

  cachedSlug(slug: string): boolean {
    return this.slugs.get(slug, this.clock()) !== undefined;
  }

  cachedDomain(domain: string): boolean {
    return this.domains.get(domain, this.clock()) !== undefined;
  }

  apiKey(platform: PlatformStore, prefix: string): Promise<KeyIdentity | null> {
    return this.lookup(this.keys, `k:${prefix}`, prefix, () => platform.apiKeyIdentity(prefix));
  }

  /** A credential's tenant reference (id or slug). */
  tenantIdOfRef(platform: PlatformStore, ref: string): Promise<string | null> {
    return this.lookup(this.refs, `r:${ref}`, ref, () => platform.tenantIdByRef(ref));
  }

  tenantIdOfSlug(platform: PlatformStore, slug: string): Promise<string | null> {
    return this.lookup(this.slugs, `s:${slug}`, slug, () => platform.tenantIdBySlug(slug));
  }

  tenantIdOfDomain(platform: PlatformStore, domain: string): Promise<string | null> {
    return this.lookup(this.domains, `d:${domain}`, domain, () => platform.tenantIdByDomain(domain));
  }

  /**
   * Drops what this isolate knows about a domain (a verification or removal made here, or an
   * answer that disagrees with the credential): the next request asks D1.
   */
  forgetDomain(domain: string): void {
    this.domains.forget(domain);
  }

  /** A tenant created by this isolate must not stay "unknown" here for the negative window. */
  forgetMisses(slug: string): void {
    this.slugs.forget(slug);
    this.refs.forget(slug);
  }

  clear(): void {
    this.refs.clear();
    this.slugs.clear();
    this.domains.clear();
    this.keys.clear();
  }

  private lookup<T>(cache: BoundedCache<T>, flightKey: string, key: string, load: () => Promise<T | null>): Promise<T | null> {
    const hit = cache.get(key, this.clock());
    if (hit !== undefined) return Promise.resolve(hit);
    let p = this.inflight.get(flightKey) as Promise<T | null> | undefined;
    if (!p) {
      p = load().then((v) => {
        cache.set(key, v, this.clock());
        return v;
      });
      const settle = () => this.inflight.delete(flightKey);
      p.then(settle, settle);
      this.inflight.set(flightKey, p);
    }
    return p;
  }
}

/** The isolate's directory: built once, lives as long as the isolate. */
export const directory = new Directory();

/**
 * Forgets every cached mapping: a fresh isolate's state. Tests use it to show that nothing
 * stale in an isolate survives a change (the guard answers, not this cache).
 */
export function resetIsolateDirectory(): void {
  directory.clear();
}
