/**
 * Resolves a placement id to the handles that serve it: the tenant-data database (a D1
 * binding through a D1 session, or a libSQL database), the R2 bucket for originals, the
 * vector index and the Durable Object jurisdiction. Only the tenant session
 * (src/tenant-session.ts), the move job and the migrate checks call this; nothing below
 * them picks a database.
 */
import { createClient, type Client as LibsqlClient } from '@libsql/client/web';
import { databaseFor, libsqlDatabase, type Database } from '../db/client';
import { PlatformStore } from '../db/platform-store';
import { SCHEMA_VERSION, schemaVersionOf } from '../db/schema-version';
import type { AppEnv, Config } from '../env';
import { AppError } from '../lib/errors';
import { errorDetail, type Logger } from '../lib/log';
import { misconfigurationOf } from '../lib/misconfiguration';
import { cachedSecretBox, type SecretBox } from '../lib/secret-box';
import { placedVectorStore } from '../vector';
import type { VectorReader, VectorStore } from '../vector/types';
import { libsqlDefaults, parsePlacement, type PlacementRef } from './config';

export interface TenantStore {
  placement: PlacementRef;
  backend: 'd1' | 'libsql';
  /** Tenant data: collections, documents, chunks, conversations, messages, their audit rows. */
  db: Database;
  blobs: R2Bucket;
  /** Identity of the bucket (its binding name): two stores with one bucket share originals. */
  bucket: string;
  vectors: VectorStore & VectorReader;
  /** Identity of the vector index: two stores with one index share vectors. */
  vectorIndex: string;
  /** Where the tenant's Durable Objects live (production regional placements). */
  jurisdiction: DurableObjectJurisdiction | null;
  /** The D1 session's latest bookmark (after this request's queries); null for libSQL. */
  bookmark(): string | null;
}

export interface StoreRoot {
  env: AppEnv;
  config: Config;
  catalogue: Database;
  log: Logger;
  /**
   * Opens a libSQL client; default `@libsql/client/web` (HTTP/WebSocket, what Workers can
   * run). The Node tests pass `@libsql/client`'s createClient to reach `file:` databases.
   */
  connectLibsql?: (config: { url: string; authToken?: string }) => LibsqlClient;
}

export interface OpenStoreOptions {
  /** A D1 Sessions bookmark the client sent back (read-your-writes); absent: any replica. */
  bookmark?: string | null;
  /** Refuse a database behind SCHEMA_VERSION (default true). */
  checkSchema?: boolean;
}

/** Databases whose schema was found current, per isolate (a database never goes back). */
const current = new Set<string>();

/** Opens the handles of a placement. Unknown or unconfigured placements are a clear error. */
export async function openStore(root: StoreRoot, placementId: string, opts: OpenStoreOptions = {}): Promise<TenantStore> {
  const ref = parsePlacement(placementId);
  if (!ref) throw new Error(`tenant placement "${placementId}" is not a placement id`);
  const entry = root.config.placements.get(placementId);
  const env = root.env as unknown as Record<string, unknown>;
  let store: TenantStore;
  if (entry?.backend === 'd1') {
    const d1 = env[entry.database!] as D1Database;
    // Sessions API (DESIGN §10): reads may be served by a replica; a bookmark makes them at
    // least as new as the client's last write; within the request the session is sequential.
    const session = d1.withSession(opts.bookmark || 'first-unconstrained');
    const vectors = placedVectorStore(root.config, root.env, placementId, entry.vectors);
    store = {
      placement: ref,
      backend: 'd1',
      db: databaseFor(session),
      blobs: env[entry.bucket] as R2Bucket,
      bucket: entry.bucket,
      vectors: vectors.store,
      vectorIndex: vectors.index,
      jurisdiction: entry.jurisdiction,
      bookmark: () => session.getBookmark(),
    };
  } else if (ref.kind === 'dedicated') {
    // A libSQL database: its own bucket, index and jurisdiction when PLACEMENTS names them.
    const bindings = entry ?? libsqlDefaults(ref);
    const db = await libsqlFor(root, ref.name!);
    const vectors = placedVectorStore(root.config, root.env, placementId, bindings.vectors);
    store = {
      placement: ref, backend: 'libsql', db, blobs: env[bindings.bucket] as R2Bucket, bucket: bindings.bucket,
      vectors: vectors.store, vectorIndex: vectors.index, jurisdiction: bindings.jurisdiction, bookmark: () => null,
    };
  } else {
    throw new Error(`tenant placement "${placementId}" is not configured (PLACEMENTS has no entry for it)`);
  }
  if (opts.checkSchema !== false) await ensureSchema(root, placementId, store.db);
  return store;
}

async function ensureSchema(root: StoreRoot, placementId: string, db: Database): Promise<void> {
  if (current.has(placementId)) return;
  let version: number;
  try {
    version = await schemaVersionOf(db);
  } catch (err) {
    // The first contact with the tenant's database in this isolate: a database that cannot be
    // reached (a libSQL server down, a wrong URL) is an outage of this tenant, not a bug.
    if (misconfigurationOf(err)) throw err;
    root.log.error('tenant database unreachable', { placement: placementId, ...redacted(placementId, errorDetail(err)) });
    throw new AppError('UPSTREAM_UNAVAILABLE', "This tenant's database cannot be reached right now; try again later.", { reason: 'database_unreachable' }, { cause: err });
  }
  if (version < SCHEMA_VERSION) {
    root.log.error('tenant database behind the schema', { placement: placementId, version, needed: SCHEMA_VERSION, fix: 'npm run db:migrate -- --remote' });
    throw new AppError(
      'UPSTREAM_UNAVAILABLE',
      `This tenant's database is at schema version ${version}, and this service needs ${SCHEMA_VERSION}: it is refused until the database is migrated.`,
      { reason: 'schema_behind', schemaVersion: version, requiredSchemaVersion: SCHEMA_VERSION },
    );
  }
  current.add(placementId);
}

/** The key ring of ENCRYPTION_KEY, parsed once per isolate and key value. */
export function secretBoxOf(env: AppEnv): Promise<SecretBox> {
  return cachedSecretBox(env.ENCRYPTION_KEY);
}

/** The purpose (AES-GCM associated data) of a stored libSQL credential. */
export const credentialPurpose = (name: string, field: 'url' | 'token') => `tenant_databases:${name}:${field}`;

const libsqlClients = new Map<string, { sealed: string; db: Database }>();
/** The host of each opened libSQL database, kept only to scrub it from logged errors. */
const libsqlHosts = new Map<string, string>();

/**
 * A logged error without the libSQL database's host (a connection error names host and port,
 * and the URL is part of the sealed credential, which is never logged).
 */
function redacted(placementId: string, detail: Record<string, unknown>): Record<string, unknown> {
  const host = libsqlHosts.get(placementId);
  if (!host) return detail;
  // host:port first, then the bare name (a DNS error names only that).
  const text = JSON.stringify(detail).replaceAll(host, '<libsql host>').replaceAll(host.replace(/:\d+$/, ''), '<libsql host>');
  return JSON.parse(text) as Record<string, unknown>;
}

/** The libSQL database registered as `name` in the catalogue, its credential opened here only. */
async function libsqlFor(root: StoreRoot, name: string): Promise<Database> {
  const row = await new PlatformStore(root.catalogue).tenantDatabase(name);
  if (!row) throw new Error(`tenant placement "dedicated:${name}" has neither a D1 binding in PLACEMENTS nor a libSQL database in the catalogue`);
  const sealed = `${row.urlCiphertext}|${row.tokenCiphertext}`;
  const hit = libsqlClients.get(name);
  if (hit && hit.sealed === sealed) return hit.db;
  const box = await secretBoxOf(root.env);
  // SecretBoxError names the key id and the database, never the credential.
  const url = await box.open(row.urlCiphertext, credentialPurpose(name, 'url'));
  const authToken = await box.open(row.tokenCiphertext, credentialPurpose(name, 'token'));
  const db = libsqlDatabase((root.connectLibsql ?? createClient)({ url, authToken: authToken || undefined }));
  try {
    libsqlHosts.set(`dedicated:${name}`, new URL(url).host);
  } catch {
    // file: URLs (Node tests) have no host to hide.
  }
  libsqlClients.set(name, { sealed, db });
  return db;
}

/** Test hook: forget which databases were found current (a test downgrades one). */
export function forgetSchemaChecks(): void {
  current.clear();
}
