/**
 * What a chunk's vector is made of, shared by ingestion (src/rag/ingest-consumer.ts) and the
 * re-embedding job (src/rag/reembedding.ts), so a re-embedded vector is the one ingestion
 * would have written with the new model: the same input text and the same metadata.
 */
import type { DocumentRow } from '../db/schema';
import type { Metadata } from '../vector/types';
import { vectorMetadataFor, type MetadataKeySpec } from './search-filters';

/** Headings travel with the chunk into the embedding (not into the stored text). */
export const embeddingInput = (c: { text: string; heading: string | null }): string => (c.heading ? `${c.heading}\n\n${c.text}` : c.text);

/** The vector metadata of a chunk of `doc` at `version` (tenant_id is the first tenant check of every hit). */
export function chunkMetadata(tenantId: string, doc: DocumentRow, version: number, metadataKeys: readonly MetadataKeySpec[]): Metadata {
  const tags = JSON.parse(doc.tags) as string[];
  return {
    ...vectorMetadataFor(parseObject(doc.metadata), metadataKeys),
    tenant_id: tenantId,
    document_id: doc.id,
    collection_id: doc.collectionId,
    // Vectorize metadata is scalar: tags as one delimited string (filtering on tags happens in D1).
    tags: tags.length ? `|${tags.join('|')}|` : null,
    type: doc.mimeType,
    version,
  };
}

/** A stored JSON object column; anything else reads as {} (it was validated on the way in). */
function parseObject(json: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(json);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
