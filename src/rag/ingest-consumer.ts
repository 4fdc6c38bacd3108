/**
 * Ingestion, queue side: PENDING → PROCESSING → COMPLETED | FAILED.
 *
 * All-or-nothing visibility: chunks are written under the new version while the
 * document still points at its previous one, vectors are upserted, and only then one
 * UPDATE flips `documents.version` and the status together. Retrieval shows a chunk only
 * when its version is the document's, so readers see the old version or the new one,
 * never a mix. Old versions are cleaned up after the flip; a version that fails is
 * removed before the document is marked FAILED.
 *
 * Idempotent under Queues' at-least-once delivery: chunk ids are deterministic
 * (`<document>:<version>:<index>`), inserts skip existing ids, upserts replace, and every
 * state change is conditional on the document still naming this message's content.
 */
import { embedAll, EmbeddingProviderError, type EmbeddingProvider } from '../ai/embeddings';
import { estimateTokens } from '../ai/tokens';
import type { TenantScope } from '../db/tenant-scope';
import type { DocumentRow } from '../db/schema';
import type { PlanLimits } from '../env';
import { AppError } from '../lib/errors';
import { withFields, type Logger } from '../lib/log';
import type { GuardClient } from '../objects/guard-types';
import { isFenceError } from '../placement/fence';
import type { Metadata, VectorStore } from '../vector/types';
import type { Chunk } from './chunking';
import { documentChunks } from './document-text';
import { SUPPORTED_MIME, type SupportedMime } from './extract';
import { ExtractionBudget, ExtractionLimitError } from './extract-budget';
import type { MetadataKeySpec } from './search-filters';
import { chunkMetadata, embeddingInput } from './chunk-vectors';
import type { TenantEmbeddings } from './embedding-spaces';
import { deleteOriginals } from './ingestion';
import { INGEST_MAX_ATTEMPTS, type IngestMessage } from './ingest-types';

/** Most chunks one document may produce (a 10 MiB text is about 8k chunks). */
export const MAX_CHUNKS_PER_DOCUMENT = 20_000;
/** D1 statements per batch() while writing chunks (each batch is one transaction). */
const STATEMENTS_PER_BATCH = 50;

/** What the tenant session resolved for one message: scope, model, and the placement's bucket and index. */
export interface TenantContext {
  scope: TenantScope;
  limits: PlanLimits;
  guard: GuardClient | null;
  /** The tenant's embedder (its own provider's); absent = deps.embedder, the deployment's. */
  embedder?: EmbeddingProvider;
  blobs: R2Bucket;
  /** Deletes reach every embedding generation when `embeddings` is given (its tenant-bound store). */
  vectors: VectorStore;
  /** The tenant's embedding spaces; absent = one space (`embedder`, the tenant namespace), as before generations. */
  embeddings?: TenantEmbeddings;
  /** A move is running: the message waits (requeued) instead of writing. */
  migrating?: boolean;
  /** Announces document.completed / document.failed to the tenant's webhook (never throws, never waits on delivery). */
  webhooks?: { emit(event: 'document.completed' | 'document.failed', key: string, data: Record<string, unknown>): Promise<void> };
}

/** How long a message waits while its tenant moves between databases. */
export const MIGRATING_REQUEUE_SECONDS = 30;

export interface ConsumerDeps {
  /** The tenant's session; null when the tenant no longer exists. */
  tenant(tenantId: string): Promise<TenantContext | null>;
  /**
   * Sends the message again after a delay, as a new message (its attempt count starts over):
   * waiting for a move is not a failed attempt and must not lead to the dead-letter queue.
   */
  requeue?(message: IngestMessage, delaySeconds: number): Promise<unknown>;
  embedder: EmbeddingProvider;
  log: Logger;
  maxAttempts?: number;
  /** Chunk cap per document (tests lower it); default MAX_CHUNKS_PER_DOCUMENT. */
  maxChunks?: number;
  /** The processing budget of one document from its original's size (tests lower it); default ExtractionBudget.forBytes. */
  extractionBudget?: (bytes: number) => ExtractionBudget;
  /** Filterable custom metadata keys (SEARCH_METADATA_KEYS), copied into vector metadata as m_<key>. */
  metadataKeys?: readonly MetadataKeySpec[];
}

/**
 * Deliveries of a message whose earlier deliveries died mid-work (the document was still
 * PROCESSING: the invocation was killed, e.g. over the CPU limit) after which it is failed
 * without being processed again.
 */
export const INTERRUPTED_DELIVERY_LIMIT = 3;

/** A failure with a message fit for `document.error`; `retryable` sends it back to the queue. */
export class IngestError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'IngestError';
  }
}

/** Marks the document FAILED with `error` and tells the tenant's webhook (keyed by version: a replay announces nothing new). */
async function fail(t: TenantContext, doc: Pick<DocumentRow, 'id' | 'name'>, msg: IngestMessage, error: string): Promise<void> {
  // Only the delivery whose update took effect announces it (not one for replaced content).
  if (!(await t.scope.documents.markAttempt(doc.id, msg.objectKey, 'failed', error))) return;
  await t.webhooks?.emit('document.failed', `${doc.id}:${msg.version}:failed`, { documentId: doc.id, name: doc.name, version: msg.version, status: 'FAILED', error });
}

/** Exponential backoff between attempts: 10 s, 20 s, 40 s, 80 s … capped at 10 minutes. */
export const retryDelaySeconds = (attempt: number) => Math.min(600, 10 * 2 ** Math.max(0, attempt - 1));

/**
 * Handles one batch from the ingest queue, or (dlq = true) from its dead-letter queue.
 *
 * Every message is acknowledged or retried on its own, as soon as its outcome is known, and a
 * failure of one (its document's limits, a dependency, a bug) never decides another's. On
 * Cloudflare an invocation over its CPU limit fails every message it has not acknowledged yet,
 * so a message whose document was still PROCESSING when it came back (its last delivery was
 * killed mid-work) is handled after all the others, and on its INTERRUPTED_DELIVERY_LIMIT-th
 * delivery fails its document instead of running again: one hostile document cannot keep
 * another tenant's message from completing.
 */
export async function consumeIngestBatch(batch: MessageBatch<unknown>, batchDeps: ConsumerDeps, dlq: boolean): Promise<void> {
  const work: { message: Message<unknown>; msg: IngestMessage; interrupted: boolean }[] = [];
  for (const message of batch.messages) {
    const body = message.body as Partial<IngestMessage>;
    if (!body || body.type !== 'ingest' || !body.tenantId || !body.documentId || !body.objectKey || !body.version) {
      batchDeps.log.warn('ingest: malformed message dropped', { id: message.id });
      message.ack();
      continue;
    }
    const msg = body as IngestMessage;
    work.push({ message, msg, interrupted: !dlq && message.attempts > 1 && (await wasInterrupted(msg, batchDeps)) });
  }
  // Stable: fresh messages keep their order, interrupted ones go last.
  work.sort((x, y) => Number(x.interrupted) - Number(y.interrupted));
  for (const { message, msg, interrupted } of work) {
    // Every line about this message names its tenant and document (an operator follows one tenant).
    const deps = { ...batchDeps, log: withFields(batchDeps.log, { tenantId: msg.tenantId, documentId: msg.documentId, messageId: message.id }) };
    try {
      if (dlq) {
        await giveUp(msg, deps);
        message.ack();
        continue;
      }
      const outcome = await processMessage(msg, message.attempts, deps, interrupted);
      if (outcome.retry) message.retry({ delaySeconds: outcome.delaySeconds });
      else message.ack();
    } catch (err) {
      if (err instanceof TenantMigrating || isFenceError(err)) {
        // The tenant is moving: nothing was half-written (the fence refuses whole batches);
        // after the switch the message opens the new placement and resumes idempotently.
        if (deps.requeue) {
          await deps.requeue(msg, MIGRATING_REQUEUE_SECONDS);
          message.ack();
        } else message.retry({ delaySeconds: MIGRATING_REQUEUE_SECONDS });
        continue;
      }
      // Bookkeeping itself failed (D1 unreachable…): let the queue redeliver.
      deps.log.error('ingest: message handling failed', { documentId: msg.documentId, error: String(err) });
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
}

/** True when the message's document is still PROCESSING this content: an earlier delivery started and never finished. */
async function wasInterrupted(msg: IngestMessage, deps: ConsumerDeps): Promise<boolean> {
  try {
    const t = await deps.tenant(msg.tenantId);
    const row = t ? await t.scope.documents.get(msg.documentId) : null;
    return row?.status === 'processing' && row.objectKey === msg.objectKey;
  } catch {
    return false; // the handling itself will meet the same outage and retry
  }
}

/** The dead-letter consumer: the message exhausted its retries without an outcome. */
async function giveUp(msg: IngestMessage, deps: ConsumerDeps): Promise<void> {
  const t = await deps.tenant(msg.tenantId);
  if (!t) return;
  const row = await t.scope.documents.get(msg.documentId);
  if (!row || row.objectKey !== msg.objectKey) return;
  await removeVersion(t, row.id, msg.version, deps);
  const reason = row.error ? ` Last error: ${row.error.replace(/^Attempt \d+ failed: /, '').replace(/; retrying\.?$/, '')}` : '';
  await fail(t, row, msg, `Processing gave up after repeated failures.${reason}`);
}

type Outcome = { retry: false } | { retry: true; delaySeconds: number };

/** Thrown when the message's tenant is being moved (its session says so). */
class TenantMigrating extends Error {}

async function processMessage(msg: IngestMessage, attempt: number, deps: ConsumerDeps, interrupted = false): Promise<Outcome> {
  const t = await deps.tenant(msg.tenantId);
  if (!t) return { retry: false };
  if (t.migrating) throw new TenantMigrating(msg.tenantId);
  const doc = await t.scope.documents.claim(msg.documentId, msg.objectKey);
  if (!doc) return { retry: false }; // replaced, deleted or already finished
  if (interrupted && attempt >= INTERRUPTED_DELIVERY_LIMIT) {
    deps.log.warn('ingest: giving up on a document whose deliveries keep dying', { documentId: doc.id, attempt });
    await removeVersion(t, doc.id, msg.version, deps);
    await fail(
      t, doc, msg,
      `Processing stopped without finishing on ${attempt - 1} deliveries (the document needs more processing time than a Worker may use), so it was not tried again.`,
    );
    return { retry: false };
  }
  try {
    await indexVersion(t, doc, msg, deps);
    return { retry: false };
  } catch (err) {
    if (isFenceError(err)) throw err;
    const maxAttempts = deps.maxAttempts ?? INGEST_MAX_ATTEMPTS;
    const failure = asIngestError(err);
    if (!(failure instanceof IngestError)) deps.log.error('ingest: unexpected error', { documentId: doc.id, error: String(err), stack: (err as Error)?.stack });
    const e = failure instanceof IngestError ? failure : new IngestError('Processing failed unexpectedly.', true);
    if (e.retryable && attempt < maxAttempts) {
      await t.scope.documents.markAttempt(doc.id, msg.objectKey, 'pending', `Attempt ${attempt} failed: ${e.message}; retrying.`);
      return { retry: true, delaySeconds: retryDelaySeconds(attempt) };
    }
    // Final: nothing of this version may stay behind, then FAILED with the reason.
    await removeVersion(t, doc.id, msg.version, deps);
    const suffix = e.retryable ? ` (gave up after ${attempt} attempts)` : '';
    await fail(t, doc, msg, `${e.message}${suffix}`);
    return { retry: false };
  }
}

function asIngestError(err: unknown): IngestError | unknown {
  if (err instanceof IngestError) return err;
  if (err instanceof EmbeddingProviderError) return new IngestError(err.message.charAt(0).toUpperCase() + err.message.slice(1) + '.', err.retryable);
  if (err instanceof AppError && err.code === 'QUOTA_EXCEEDED' && err.extensions.quota === 'storedBytes') {
    return new IngestError('The stored bytes quota is exhausted: the extracted text does not fit.', false);
  }
  if (err instanceof AppError && err.code === 'QUOTA_EXCEEDED') return new IngestError('The monthly embedding token quota is exhausted.', false);
  if (err instanceof AppError && err.code === 'UPSTREAM_UNAVAILABLE') return new IngestError('The usage guard was unavailable.', true);
  return err;
}

async function indexVersion(t: TenantContext, doc: DocumentRow, msg: IngestMessage, deps: ConsumerDeps): Promise<void> {
  const { scope } = t;
  const original = await t.blobs.get(msg.objectKey);
  if (!original) throw new IngestError('The original file is missing from storage.', false);
  const bytes = new Uint8Array(await original.arrayBuffer());
  const mime = (SUPPORTED_MIME as readonly string[]).includes(doc.mimeType) ? (doc.mimeType as SupportedMime) : 'text/plain';
  let chunks: Chunk[];
  try {
    chunks = await documentChunks(bytes, mime, {
      maxChunks: deps.maxChunks ?? MAX_CHUNKS_PER_DOCUMENT,
      maxPdfPages: t.limits.maxPdfPages,
      budget: (deps.extractionBudget ?? ExtractionBudget.forBytes)(bytes.byteLength),
    });
  } catch (err) {
    if (err instanceof ExtractionLimitError) throw new IngestError(err.message, false);
    deps.log.warn('ingest: extraction failed', { documentId: doc.id, error: String(err) });
    throw new IngestError(mime === 'application/pdf' ? 'The PDF could not be read.' : 'The text could not be extracted.', false);
  }
  if (chunks.length === 0) throw new IngestError('No text could be extracted from the document.', false);

  // Derived storage: the chunk text D1 keeps is metered against storedBytes like the original
  // (a 1 KB PDF can expand into megabytes of text). Taken before anything is embedded or
  // written, and given back unless this version becomes the visible one; the flip returns the
  // bytes of the version it replaces, which go back then.
  const indexedBytes = chunks.reduce((n, c) => n + utf8Bytes(c.text), 0);
  await t.guard?.consume(t.limits, 'storedBytes', indexedBytes);
  let flipped: { previousIndexedBytes: number } | null = null;
  try {
    // The embedding spaces this version goes into: the active generation and, while a switch
    // runs, the one being built (src/rag/embedding-spaces.ts). Recorded before the first
    // vectors are written, so a later configuration change is a switch, not a mix of models.
    const spaces = t.embeddings;
    if (spaces) await spaces.ensureRecorded();
    const inputs = chunks.map(embeddingInput);
    const targets = spaces ? await spaces.writeTargets(true) : null;
    const embedded = new Map<number, number[][]>();
    let legacy: number[][] = [];
    if (targets) for (const sp of targets) embedded.set(sp.generation, await embedMetered(t, sp.embedder, inputs));
    else legacy = await embedMetered(t, t.embedder ?? deps.embedder, inputs);

    const rows = chunks.map((c) => ({
      id: `${doc.id}:${msg.version}:${c.index}`,
      chunkIndex: c.index,
      text: c.text,
      page: c.page,
      heading: c.heading,
      tokenCount: c.tokenCount,
    }));
    await scope.chunks.insertVersion(doc.id, msg.version, rows, STATEMENTS_PER_BATCH);
    const metadata = (): Metadata => chunkMetadata(scope.tenantId, doc, msg.version, deps.metadataKeys ?? []);
    const records = (vectors: number[][]) => rows.map((r, i) => ({ id: r.id, values: vectors[i]!, metadata: metadata() }));
    try {
      if (targets && spaces) {
        for (const sp of targets) await sp.vectors.upsert(records(embedded.get(sp.generation)!));
        // Read again now that the chunks exist: a re-embedding that started (or switched) since
        // the first read may already have walked past them, so this version embeds for it too.
        for (const sp of await spaces.writeTargets(true)) {
          if (embedded.has(sp.generation)) continue;
          const vectors = await embedMetered(t, sp.embedder, inputs);
          embedded.set(sp.generation, vectors);
          await sp.vectors.upsert(records(vectors));
        }
      } else {
        await t.vectors.upsert(scope.vectorNamespace, records(legacy));
      }
    } catch (err) {
      if (err instanceof EmbeddingProviderError || err instanceof AppError) throw err;
      deps.log.warn('ingest: vector upsert failed', { documentId: doc.id, error: String(err) });
      throw new IngestError('The vector index was unavailable.', true);
    }
    flipped = await scope.documents.complete(doc.id, msg.objectKey, msg.version, rows.length, indexedBytes);
  } finally {
    const back = flipped ? flipped.previousIndexedBytes : indexedBytes;
    if (back > 0) {
      await t.guard?.record({ storedBytes: -back }).catch((err: unknown) =>
        deps.log.error('ingest: usage record failed', { documentId: doc.id, storedBytes: -back, error: String(err) }),
      );
    }
  }
  if (!flipped) {
    // Deleted or replaced while we worked: this version must not linger.
    await removeVersion(t, doc.id, msg.version, deps);
    return;
  }
  // Announced once the version is the visible one (a queue send; delivery happens elsewhere).
  await t.webhooks?.emit('document.completed', `${doc.id}:${msg.version}:completed`, {
    documentId: doc.id, name: doc.name, version: msg.version, status: 'COMPLETED', chunkCount: chunks.length,
  });
  // The flip is done; everything below is cleanup of versions nobody can see any more.
  try {
    const stale = await scope.chunks.ids(doc.id, { exceptVersion: msg.version });
    if (stale.length) {
      await t.vectors.deleteByIds(scope.vectorNamespace, stale);
      await scope.chunks.delete(doc.id, { exceptVersion: msg.version });
    }
    await deleteOriginals(t.blobs, `${scope.tenantId}/${doc.id}/`, msg.objectKey, msg.version);
  } catch (err) {
    deps.log.warn('ingest: cleanup of old versions failed', { documentId: doc.id, error: String(err) });
  }
}

/**
 * Embeds with one model, metered. Reserved, not just checked: documents of one tenant are
 * processed concurrently (a batch, several consumers), and each would see the same tokens
 * left. The provider's count settles the reservation as soon as it is known: those tokens are
 * spent even if a later step fails and the message is retried (a retry embeds, and reserves,
 * again). While a switch runs a version is embedded twice, and both are counted.
 */
async function embedMetered(t: TenantContext, embedder: EmbeddingProvider, inputs: string[]): Promise<number[][]> {
  const reservation = await t.guard?.reserve(t.limits, { embeddingTokens: inputs.reduce((n, s) => n + estimateTokens(s), 0) });
  let embedded: Awaited<ReturnType<typeof embedAll>>;
  try {
    embedded = await embedAll(embedder, inputs);
  } catch (err) {
    await reservation?.release();
    throw err;
  }
  await reservation?.settle({ embeddingTokens: embedded.tokens });
  return embedded.vectors;
}

const utf8Bytes = (text: string) => new TextEncoder().encode(text).byteLength;
/** Removes the chunks and vectors written for one version (never the visible one). */
async function removeVersion(t: TenantContext, documentId: string, version: number, deps: ConsumerDeps): Promise<void> {
  const row = await t.scope.documents.get(documentId);
  if (row && row.version === version) return;
  const ids = await t.scope.chunks.ids(documentId, { version });
  if (ids.length === 0) return;
  await t.vectors.deleteByIds(t.scope.vectorNamespace, ids);
  await t.scope.chunks.delete(documentId, { version });
}
