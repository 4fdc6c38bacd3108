/**
 * Ingestion, request side (DESIGN §6, §7 ingestDocument / deleteDocument): validate,
 * reserve the plan quota, store the original in R2 under the tenant's prefix, record the
 * document (PENDING) and enqueue it. Processing happens in the queue consumer
 * (src/rag/ingest-consumer.ts); clients poll `document(id) { status }`.
 */
import type { TenantScope } from '../db/tenant-scope';
import { keyVersion, type AcceptedDocument } from '../db/repositories/documents';
import type { DocumentRow } from '../db/schema';
import type { PlanLimits } from '../env';
import { AppError, conflict } from '../lib/errors';
import { checkedName, INPUT_LIMITS } from '../lib/input';
import { newId, sha256Hex } from '../lib/ids';
import type { Logger } from '../lib/log';
import type { GuardClient, UsageDelta } from '../objects/guard-types';
import type { VectorStore } from '../vector/types';
import { decodeUtf8, detectMime, isPdf, normaliseText, type SupportedMime } from './extract';
import { objectKeyFor, type IngestQueue } from './ingest-types';
import { fetchUrlSource } from './url-source';

export interface IngestInput {
  name: string;
  text?: string | null;
  file?: File | null;
  url?: string | null;
  collectionId?: string | null;
  tags?: string[] | null;
  metadata?: unknown;
}

export interface IngestionDeps {
  scope: TenantScope;
  blobs: R2Bucket;
  queue: IngestQueue;
  vectors: VectorStore;
  guard: GuardClient | null;
  limits: PlanLimits;
  fetcher: typeof fetch;
  /** Development/test only: allow ingesting from localhost URLs. */
  allowPrivateUrls: boolean;
  /** Where private URLs are refused: allowed ports and the DNS-over-HTTPS resolver (defaults: 80/443, Cloudflare's). */
  urlFetch?: { ports: readonly number[]; resolverUrl: string };
  log: Logger;
}

const MAX_METADATA_BYTES = 8 * 1024;
/** Write attempts per ingest; every attempt after the first follows another request's write of the same name. */
const MAX_WRITE_ATTEMPTS = 5;

interface Source {
  bytes: Uint8Array;
  mime: SupportedMime;
  sourceType: AcceptedDocument['sourceType'];
  sourceUrl: string | null;
  /** SHA-256 of the normalised text (text types) or of the bytes (PDF). */
  contentHash: string;
}

const bad = (message: string, field: string) => new AppError('BAD_USER_INPUT', message, { field });

export class IngestionService {
  constructor(private readonly deps: IngestionDeps) {}

  /**
   * Accepts a document. Same name (in the same collection) and same content as a
   * document that did not fail: returns it unchanged (no-op). Same name, other content:
   * a replacement — the old version stays searchable until the new one completes.
   *
   * Concurrent ingests of one name behave as if they ran one after the other: the row
   * write is conditional (a UNIQUE name for a new document, a compare-and-set for a
   * replacement), and a request that loses reads the document again and takes the path
   * it would have taken had it come second.
   */
  async ingest(input: IngestInput): Promise<DocumentRow> {
    const { scope } = this.deps;
    const name = checkedName(input.name ?? '', 'name', INPUT_LIMITS.documentName);
    const given = [input.text != null, input.file != null, input.url != null].filter(Boolean).length;
    if (given !== 1) throw bad('give exactly one of text, file or url', 'input');
    const tags = normaliseTags(input.tags);
    const metadata = normaliseMetadata(input.metadata);
    const collectionId = input.collectionId ? String(input.collectionId) : null;
    // A credential restricted to collections may only add to them; without one the document
    // would land outside its boundary, where it could never see it again.
    if (!collectionId && scope.allowedCollections !== null) {
      throw bad('collectionId is required: this credential is restricted to collections', 'collectionId');
    }
    // Outside the credential's collections reads as not existing (scope.collections applies the restriction).
    if (collectionId && !(await scope.collections.get(collectionId))) throw new AppError('NOT_FOUND', 'Collection not found');

    const source = await this.readSource(input, name);
    for (let attempt = 1; ; attempt++) {
      const existing = await scope.documents.findByName(name, collectionId);
      if (existing && existing.contentHash === source.contentHash && existing.status !== 'failed') return existing;
      const row = await this.write(existing, source, { name, collectionId, tags, metadata });
      if (row) return row;
      // Each lost race is another request's successful write of this name, so this only
      // runs out under a sustained stream of writers to one document.
      if (attempt >= MAX_WRITE_ATTEMPTS) {
        this.deps.log.warn('ingest: lost every write race', { name, attempts: attempt });
        throw conflict('The document is being changed by other requests at the same time, try again', { field: 'name' });
      }
    }
  }

  /**
   * One attempt at storing `source` as a new document (`existing` null) or as a replacement
   * of `existing`. Null when another request wrote this name since `existing` was read: the
   * attempt then leaves nothing behind (its original deleted, its quota returned).
   */
  private async write(
    existing: DocumentRow | null,
    source: Source,
    fields: Pick<AcceptedDocument, 'name' | 'collectionId' | 'tags' | 'metadata'>,
  ): Promise<DocumentRow | null> {
    const { scope } = this.deps;
    const sizeBytes = source.bytes.byteLength;
    // A replacement counts only its growth; a shrink is recorded once the row says so.
    const growth = sizeBytes - (existing?.sizeBytes ?? 0);
    const reserved = await this.reserve(existing ? { storedBytes: growth } : { documents: 1, storedBytes: sizeBytes });

    const id = existing?.id ?? newId();
    const version = existing ? Math.max(existing.version, keyVersion(existing.objectKey)) + 1 : 1;
    const objectKey = objectKeyFor(scope.tenantId, id, version);
    try {
      await this.deps.blobs.put(objectKey, source.bytes, {
        httpMetadata: { contentType: source.mime },
        customMetadata: { tenantId: scope.tenantId, documentId: id, contentHash: source.contentHash },
      });
    } catch (err) {
      // No row was written: the storage outage is the caller's answer, and the quota goes back.
      this.deps.log.error('storing the original in R2 failed', { error: String(err) });
      await this.release(reserved, id);
      throw new AppError('UPSTREAM_UNAVAILABLE', 'Document storage is unavailable, try again');
    }
    const accepted: AcceptedDocument = {
      ...fields, sourceType: source.sourceType, mimeType: source.mime, sourceUrl: source.sourceUrl,
      contentHash: source.contentHash, sizeBytes, objectKey,
    };
    let row: DocumentRow | null;
    try {
      row = existing ? await scope.documents.acceptReplacement(existing, accepted) : await scope.documents.insertPending(id, accepted);
    } catch (err) {
      await this.discard(objectKey, reserved, id);
      throw err;
    }
    if (!row) {
      await this.discard(objectKey, reserved, id);
      return null;
    }
    // From here the row (new, or pointing at the new original) exists: the plan counts
    // follow it whether or not the enqueue works, or a later delete would count down
    // what was never counted up.
    if (growth < 0) await this.recordUsage({ storedBytes: growth }, id);
    try {
      await this.deps.queue.send({ type: 'ingest', tenantId: scope.tenantId, documentId: id, objectKey, version });
    } catch (err) {
      this.deps.log.error('ingest enqueue failed', { documentId: id, error: String(err) });
      await scope.documents.markAttempt(id, objectKey, 'failed', 'Could not be queued for processing; ingest it again.');
      throw new AppError('UPSTREAM_UNAVAILABLE', 'The ingestion queue is unavailable, try again');
    }
    return row;
  }

  /**
   * Takes the plan quota a write needs before anything is written, with the guard's atomic
   * check-and-record: of many concurrent ingests exactly as many pass as fit (a check now and
   * a record after the write let them all pass). Documents first, then stored bytes; a refusal
   * of the bytes gives the document back. Returns what was taken, for release().
   */
  private async reserve(need: { documents?: number; storedBytes: number }): Promise<UsageDelta> {
    const { guard, limits } = this.deps;
    const taken: UsageDelta = {};
    if (!guard) return taken;
    if (need.documents) {
      await guard.consume(limits, 'documents', need.documents);
      taken.documents = need.documents;
    }
    if (need.storedBytes > 0) {
      try {
        await guard.consume(limits, 'storedBytes', need.storedBytes);
      } catch (err) {
        await this.release(taken, null);
        throw err;
      }
      taken.storedBytes = need.storedBytes;
    }
    return taken;
  }

  /** Gives back a reservation whose write did not happen (a negative record). */
  private async release(taken: UsageDelta, documentId: string | null): Promise<void> {
    const back: UsageDelta = {};
    for (const [quota, amount] of Object.entries(taken) as [keyof UsageDelta, number][]) if (amount) back[quota] = -amount;
    if (Object.keys(back).length) await this.recordUsage(back, documentId);
  }

  /** Undoes an attempt whose row was not written: its own original (a key no row names) and its quota. */
  private async discard(objectKey: string, taken: UsageDelta, documentId: string): Promise<void> {
    await this.deps.blobs.delete(objectKey).catch((err: unknown) =>
      this.deps.log.warn('deleting an unused original failed', { objectKey, error: String(err) }),
    );
    await this.release(taken, documentId);
  }

  /**
   * Deletes a document with its chunks, vectors and originals; a foreign or unknown id is
   * NOT_FOUND. Only the request whose delete statement removed the row answers true, gives the
   * document and its bytes back to the plan and has an audit row: a concurrent delete of the
   * same id (which read the row too) removed nothing and answers NOT_FOUND.
   */
  async delete(id: string): Promise<boolean> {
    const { scope } = this.deps;
    const row = await scope.documents.get(id);
    if (!row) throw new AppError('NOT_FOUND', 'Document not found');
    const chunkIds = await scope.chunks.ids(id);
    const removed = await scope.documents.delete(id, {
      action: 'document.delete', targetType: 'document', targetId: id, details: { name: row.name, chunks: chunkIds.length },
    });
    if (!removed) throw new AppError('NOT_FOUND', 'Document not found');
    // D1 is the source of truth: from here on no hit can resolve to this document, so a
    // failure below leaves unreachable leftovers (logged), never visible data.
    try {
      await this.deps.vectors.deleteByIds(scope.vectorNamespace, chunkIds);
    } catch (err) {
      this.deps.log.warn('vector delete failed', { documentId: id, error: String(err) });
    }
    await deleteOriginals(this.deps.blobs, `${scope.tenantId}/${id}/`, null).catch((err: unknown) =>
      this.deps.log.warn('original delete failed', { documentId: id, error: String(err) }),
    );
    // The sizes the deleted row had (a replacement or a completed version may have changed
    // them since the read above): the original plus the derived chunk text.
    await this.recordUsage({ documents: -1, storedBytes: -(removed.sizeBytes + removed.indexedBytes) }, id);
    return true;
  }

  /**
   * The change is done (or, for a release, undone) and cannot be taken back here: a guard
   * outage is logged, not thrown at the client.
   */
  private async recordUsage(delta: UsageDelta, documentId: string | null): Promise<void> {
    try {
      await this.deps.guard?.record(delta);
    } catch (err) {
      this.deps.log.error('usage record failed', { documentId, delta, error: String(err) });
    }
  }

  private async readSource(input: IngestInput, name: string): Promise<Source> {
    const max = this.deps.limits.maxDocumentBytes;
    const tooLarge = () => new AppError('PAYLOAD_TOO_LARGE', `document is larger than ${max} bytes`, { limit: max });
    if (input.text != null) {
      const bytes = new TextEncoder().encode(input.text);
      if (bytes.byteLength > max) throw tooLarge();
      // Inline text is Markdown or HTML when its name says so.
      const mime = detectMime(null, name) ?? 'text/plain';
      return this.finish(bytes, mime === 'application/pdf' ? 'text/plain' : mime, 'text', null, 'text');
    }
    if (input.file != null) {
      const file = input.file;
      if (file.size > max) throw tooLarge();
      const mime = detectMime(file.type, file.name || name);
      if (!mime) throw bad(`unsupported file type "${file.type || file.name}": use text, Markdown, HTML or PDF`, 'file');
      return this.finish(new Uint8Array(await file.arrayBuffer()), mime, 'file', null, 'file');
    }
    const fetched = await fetchUrlSource(String(input.url), {
      maxBytes: max, allowPrivateHosts: this.deps.allowPrivateUrls, fetcher: this.deps.fetcher,
      allowedPorts: this.deps.urlFetch?.ports, resolverUrl: this.deps.urlFetch?.resolverUrl,
    });
    const mime = detectMime(fetched.contentType, new URL(fetched.finalUrl).pathname);
    if (!mime) throw bad(`unsupported content type "${fetched.contentType}": use text, Markdown, HTML or PDF`, 'url');
    return this.finish(fetched.bytes, mime, 'url', fetched.finalUrl, 'url');
  }

  private async finish(bytes: Uint8Array, mime: SupportedMime, sourceType: Source['sourceType'], sourceUrl: string | null, field: string): Promise<Source> {
    if (bytes.byteLength === 0) throw bad('the document is empty', field);
    if (mime === 'application/pdf') {
      if (!isPdf(bytes)) throw bad('the file is not a PDF', field);
      return { bytes, mime, sourceType, sourceUrl, contentHash: await sha256Hex(bytes) };
    }
    const text = normaliseText(decodeUtf8(bytes));
    if (!text) throw bad('the document has no text', field);
    return { bytes, mime, sourceType, sourceUrl, contentHash: await sha256Hex(text) };
  }
}

/**
 * Deletes the originals under `prefix` except `keep` (R2 lists at most 1000 keys per page).
 * With `upToVersion`, only those of that version or older: an original of a newer version may
 * belong to a replacement that stored it and has not yet written its row (the original goes
 * to R2 first). An older-or-equal one never becomes current again: a write attempt that
 * could still land picks a version above the one it read.
 */
export async function deleteOriginals(blobs: R2Bucket, prefix: string, keep: string | null, upToVersion = Infinity): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await blobs.list({ prefix, cursor });
    const keys = page.objects.map((o) => o.key).filter((k) => k !== keep && keyVersion(k) <= upToVersion);
    if (keys.length) await blobs.delete(keys);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}

/** Tags as stored: each a checked name (NFC, no control or format characters), duplicates after normalising dropped. */
function normaliseTags(tags: string[] | null | undefined): string[] {
  if (!tags) return [];
  const out = [...new Set(tags.filter((t) => t.trim()).map((t) => checkedName(t, 'tags', INPUT_LIMITS.tag)))];
  if (out.length > INPUT_LIMITS.tags) throw bad(`at most ${INPUT_LIMITS.tags} tags`, 'tags');
  return out;
}

function normaliseMetadata(m: unknown): Record<string, unknown> {
  if (m === undefined || m === null) return {};
  if (typeof m !== 'object' || Array.isArray(m)) throw bad('metadata must be a JSON object', 'metadata');
  if (new TextEncoder().encode(JSON.stringify(m)).byteLength > MAX_METADATA_BYTES) throw bad(`metadata must be at most ${MAX_METADATA_BYTES} bytes`, 'metadata');
  return m as Record<string, unknown>;
}
