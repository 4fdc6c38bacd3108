/** The ingestion queue message (Cloudflare Queues, binding INGEST_QUEUE). */
export interface IngestMessage {
  type: 'ingest';
  tenantId: string;
  documentId: string;
  /** R2 key of the original this message processes; stale when the document names another. */
  objectKey: string;
  /** The version its chunks are written under (the key's last segment). */
  version: number;
}

/** Deliveries per message: wrangler.toml `max_retries = 4` plus the first. */
export const INGEST_MAX_ATTEMPTS = 5;

/** The part of the INGEST_QUEUE producer binding ingestion uses. */
export interface IngestQueue {
  send(message: IngestMessage): Promise<unknown>;
}

export const objectKeyFor = (tenantId: string, documentId: string, version: number) => `${tenantId}/${documentId}/${version}`;
