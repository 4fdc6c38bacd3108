import { randomToken } from '../lib/ids';

/** The ingestion queue message (Cloudflare Queues, binding INGEST_QUEUE). */
export interface IngestMessage {
  type: 'ingest';
  tenantId: string;
  documentId: string;
  /** R2 key of the original this message processes; stale when the document names another. */
  objectKey: string;
  /** The version its chunks are written under (the number the key's last segment starts with). */
  version: number;
}

/** Deliveries per message: wrangler.toml `max_retries = 4` plus the first. */
export const INGEST_MAX_ATTEMPTS = 5;

/** The part of the INGEST_QUEUE producer binding ingestion uses. */
export interface IngestQueue {
  send(message: IngestMessage): Promise<unknown>;
}

/**
 * The R2 key for one write attempt of a document's original: `<tenant>/<document>/<version>-<nonce>`.
 * Two concurrent replacements read the same row and so pick the same version; the nonce keeps
 * their objects apart, so the loser of the compare-and-set (DocumentsRepo.acceptReplacement)
 * can delete its own object without touching, or having overwritten, the winner's.
 */
export const objectKeyFor = (tenantId: string, documentId: string, version: number) =>
  `${tenantId}/${documentId}/${version}-${randomToken(10)}`;
