/**
 * Tenant export (DESIGN §13, docs/lifecycle.md): one ZIP archive in the tenant's placement
 * bucket with a JSON Lines file per table and the original files, written by a queue job and
 * downloaded through the Worker with a signed, expiring link (GET /exports/<id>?token=…).
 *
 * Streaming end to end: rows are read a keyset page at a time, originals are read as R2
 * streams, and the archive goes to R2 as a multipart upload of fixed-size parts (R2 wants
 * every part but the last of one size, at least 5 MiB), so memory holds one part and one page,
 * whatever the tenant's size. A run that dies starts the archive again on redelivery (a
 * half-written multipart upload is aborted); the export row shows progress meanwhile.
 *
 *   manifest.json            tenant row (settings included), counts, format version
 *   tables/<table>.jsonl     collections, agents, documents, chunks, conversations, messages,
 *                            audit_log (tenant data and catalogue rows), api_keys (no secret
 *                            hashes), memberships, domains, webhooks (no secrets), usage
 *   originals/<document id>/<version…>   every stored original, byte for byte
 */
import { DeletionStore, ExportStore } from '../db/lifecycle-store';
import { parseSettings } from '../db/repositories/tenant';
import type { TenantExportRow, TenantRow } from '../db/schema';
import { readTenantRows, TENANT_TABLES } from '../db/tenant-copy';
import { cataloguePage } from '../db/tenant-purge';
import { ConfigError, type Config } from '../env';
import { AppError } from '../lib/errors';
import { toBase64Url } from '../lib/ids';
import type { Root } from '../tenant-session';
import { lifecycleSession } from './tenant-deletion';
import { ZipWriter } from './zip';

export interface ExportMessage {
  type: 'tenant.export';
  exportId: string;
}

export const isExportMessage = (body: unknown): body is ExportMessage =>
  !!body && typeof body === 'object' && (body as ExportMessage).type === 'tenant.export' && typeof (body as ExportMessage).exportId === 'string';

/** Multipart part size: R2's minimum for every part but the last (they must also all be equal). */
export const PART_BYTES = 5 * 1024 * 1024;
const ROW_PAGE = 200;
const OBJECT_PAGE = 100;

export interface ExportProgress {
  /** Rows written per table file. */
  tables: Record<string, number>;
  /** Original files written. */
  files: number;
  /** The multipart upload of the running attempt (aborted by the next attempt if this one dies). */
  uploadId?: string | null;
  parts?: number;
}

export interface ExportDeps extends Root {
  /** Part size override (tests use R2's minimum anyway; smaller parts break R2's rules). */
  partBytes?: number;
  /** Test hook: called after each part upload; throwing there is a crash mid-archive. */
  afterPart?(partNumber: number): void | Promise<void>;
}

/**
 * exportTenant: records the export and enqueues its job. Platform admins may export any
 * tenant; an owner only their own (checked by the resolver). NOT_FOUND for an unknown tenant.
 */
export async function startExport(deps: Root, tenantId: string, actor: string, requestId: string): Promise<TenantExportRow> {
  const tenant = await deps.platform.tenantById(tenantId);
  if (!tenant) throw new AppError('NOT_FOUND', 'Tenant not found');
  // During the grace period an export is what offboarding wants; once the purge runs there is nothing to export.
  const deletion = await new DeletionStore(deps.catalogue).latestFor(tenantId);
  if (deletion && !['scheduled', 'restored'].includes(deletion.step)) {
    throw new AppError('BAD_USER_INPUT', `the tenant ${deletion.step === 'purged' ? 'was purged' : 'is being purged'}: nothing left to export`, { field: 'id' });
  }
  const row = await new ExportStore(deps.catalogue).create(tenantId, actor, requestId);
  await deps.enqueueJob({ type: 'tenant.export', exportId: row.id });
  return row;
}

/** Collects bytes into fixed-size parts and uploads each as soon as it is full. */
class PartSink {
  private buffer: Uint8Array;
  private filled = 0;
  readonly parts: R2UploadedPart[] = [];

  constructor(
    private readonly upload: R2MultipartUpload,
    private readonly partBytes: number,
    private readonly onPart: (n: number) => Promise<void>,
  ) {
    this.buffer = new Uint8Array(partBytes);
  }

  async write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(bytes.length - at, this.partBytes - this.filled);
      this.buffer.set(bytes.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === this.partBytes) await this.flush();
    }
  }

  private async flush(): Promise<void> {
    if (this.filled === 0) return;
    const number = this.parts.length + 1;
    this.parts.push(await this.upload.uploadPart(number, this.buffer.subarray(0, this.filled)));
    // A fresh buffer: the runtime may still be reading the one it was given.
    this.buffer = new Uint8Array(this.partBytes);
    this.filled = 0;
    await this.onPart(number);
  }

  async close(): Promise<R2Object> {
    await this.flush();
    return this.upload.complete(this.parts);
  }
}

const encoder = new TextEncoder();

/** JSON Lines of keyset pages: `page(after)` returns rows ordered by `key`. */
async function* jsonl(page: (after: string | null) => Promise<Record<string, unknown>[]>, key: string, count: (n: number) => void): AsyncGenerator<Uint8Array> {
  let after: string | null = null;
  for (;;) {
    const rows = await page(after);
    if (rows.length === 0) return;
    count(rows.length);
    yield encoder.encode(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    if (rows.length < ROW_PAGE) return;
    after = String(rows.at(-1)![key]);
  }
}

/** An R2 object's body as pieces (never read whole). */
async function* objectBytes(bucket: R2Bucket, key: string): AsyncGenerator<Uint8Array> {
  const obj = await bucket.get(key);
  if (!obj) return;
  const reader = obj.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}

/** The keyset column of each catalogue file's rows. */
const CATALOGUE_FILES = [
  { file: 'api_keys', which: 'api_keys', key: 'id' },
  { file: 'memberships', which: 'memberships', key: 'userId' },
  { file: 'domains', which: 'domains', key: 'domain' },
  { file: 'webhooks', which: 'webhooks', key: 'id' },
  { file: 'usage', which: 'usage', key: 'period' },
] as const;

/**
 * Runs one export attempt from the start to the completed archive. Returns the row as it
 * ends; throws on a transient failure (the queue retries: the next attempt starts over).
 */
export async function runExport(deps: ExportDeps, exportId: string): Promise<TenantExportRow | null> {
  const exports = new ExportStore(deps.catalogue);
  const row = await exports.get(exportId);
  if (!row || row.finishedAt) return row;
  const tenant = await deps.platform.tenantById(row.tenantId);
  if (!tenant) {
    await exports.fail(row, 'the tenant no longer exists');
    return exports.get(exportId);
  }
  const session = await lifecycleSession(deps, tenant, exportId);
  const { db, blobs } = session.store;
  const earlier = JSON.parse(row.progress) as Partial<ExportProgress>;
  if (earlier.uploadId) await blobs.resumeMultipartUpload(row.objectKey, earlier.uploadId).abort().catch(() => undefined);
  if (!(await exports.begin(exportId))) return exports.get(exportId);

  const upload = await blobs.createMultipartUpload(row.objectKey, {
    httpMetadata: { contentType: 'application/zip' },
    customMetadata: { tenantId: tenant.id, exportId },
  });
  const progress: ExportProgress = { tables: {}, files: 0, uploadId: upload.uploadId, parts: 0 };
  const sink = new PartSink(upload, deps.partBytes ?? PART_BYTES, async (n) => {
    progress.parts = n;
    await exports.progress(exportId, progress, n * (deps.partBytes ?? PART_BYTES));
    await deps.afterPart?.(n);
  });
  const zip = new ZipWriter((bytes) => sink.write(bytes));
  const counter = (table: string) => (n: number) => void (progress.tables[table] = (progress.tables[table] ?? 0) + n);

  for (const t of TENANT_TABLES) {
    progress.tables[t.name] = 0;
    const own = jsonl((after) => readTenantRows(db, t.name, tenant.id, after, ROW_PAGE), 'id', counter(t.name));
    // The tenant's catalogue audit rows (keys, members, domains, the tenant row) follow its own.
    const content = t.name === 'audit_log' ? concat(own, jsonl(cataloguePage(deps.catalogue, tenant.id, 'audit', ROW_PAGE), 'id', counter(t.name))) : own;
    await zip.add(`tables/${t.name}.jsonl`, content);
  }
  for (const c of CATALOGUE_FILES) {
    progress.tables[c.file] = 0;
    await zip.add(`tables/${c.file}.jsonl`, jsonl(cataloguePage(deps.catalogue, tenant.id, c.which, ROW_PAGE), c.key, counter(c.file)));
  }
  let cursor: string | undefined;
  do {
    const page = await blobs.list({ prefix: `${tenant.id}/`, limit: OBJECT_PAGE, ...(cursor ? { cursor } : {}) });
    for (const o of page.objects) {
      // Earlier exports live under the same prefix; an archive never contains archives.
      if (o.key.startsWith(`${tenant.id}/exports/`)) continue;
      await zip.add(`originals/${o.key.slice(tenant.id.length + 1)}`, objectBytes(blobs, o.key));
      progress.files++;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  await zip.add('manifest.json', [encoder.encode(JSON.stringify(manifest(tenant, row, progress), null, 2))]);
  await zip.finish();
  await sink.close();
  const { uploadId: _u, ...totals } = progress;
  await exports.complete(row, { ...totals, uploadId: null }, zip.size);
  return exports.get(exportId);
}

async function* concat(...parts: AsyncIterable<Uint8Array>[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield* p;
}

function manifest(tenant: TenantRow, row: TenantExportRow, progress: ExportProgress) {
  const { settings: _s, limits, ...fields } = tenant;
  return {
    format: 'edgerag-tenant-export',
    version: 1,
    exportId: row.id,
    createdAt: row.createdAt,
    tenant: { ...fields, settings: parseSettings(tenant), limits: JSON.parse(limits) as unknown },
    tables: progress.tables,
    files: progress.files,
  };
}

// ---------------------------------------------------------------- download links

/** The HMAC key of download links: derived from JWT_SECRET (or ENCRYPTION_KEY when JWTs come from a JWKS) under its own label. */
async function linkKey(config: Config): Promise<CryptoKey> {
  const secret = config.lifecycle.linkSecret;
  if (!secret) throw new ConfigError('JWT_SECRET', 'export download links are signed with JWT_SECRET (or ENCRYPTION_KEY): set one of them');
  const base = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  // A key of its own, derived under a label: a link signature is never a valid JWT signature.
  const derived = await crypto.subtle.sign('HMAC', base, encoder.encode('edgerag export download link v1'));
  return crypto.subtle.importKey('raw', derived, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

const linkMessage = (exportId: string, tenantId: string, expires: number) => encoder.encode(`${exportId}\n${tenantId}\n${expires}`);

/** A download token for the export, valid until `expires` (seconds since the epoch): `<expires>.<signature>`. */
export async function signDownload(config: Config, exportId: string, tenantId: string, expires: number): Promise<string> {
  const sig = await crypto.subtle.sign('HMAC', await linkKey(config), linkMessage(exportId, tenantId, expires));
  return `${expires}.${toBase64Url(new Uint8Array(sig))}`;
}

/** Whether `token` is a valid, unexpired link to this export of this tenant. */
export async function verifyDownload(config: Config, exportId: string, tenantId: string, token: string, nowSeconds: number): Promise<boolean> {
  const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return false;
  const expires = Number(m[1]);
  if (expires <= nowSeconds) return false;
  const b64 = m[2]!.replace(/-/g, '+').replace(/_/g, '/') + '=';
  const sig = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  // One spelling per signature: the last of 43 characters carries 2 bits atob ignores, so
  // without this, 4 different tokens would pass for each link.
  if (toBase64Url(sig) !== m[2]) return false;
  // crypto.subtle.verify compares in constant time.
  return crypto.subtle.verify('HMAC', await linkKey(config), sig, linkMessage(exportId, tenantId, expires));
}
