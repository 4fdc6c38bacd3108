/**
 * Stored citations (messages.sources) turned back into sources when a conversation is
 * read. Numbering never shifts: a stored answer's `[n]` is `sources[n-1]` for as long as
 * the message exists. A source whose document has been deleted since (or is not the
 * tenant's — which never happens for a stored answer, but is checked anyway) becomes a
 * placeholder in the same place that carries nothing of that document: the stored text
 * snapshot is not served, so deleting a document does not leave its passages readable
 * through old conversations.
 */
import type { StoredSource } from '../db/repositories/conversations';
import type { DocumentRow, MessageRow } from '../db/schema';
import type { TenantScope } from '../db/tenant-scope';
import type { CitedSource, DeletedSource } from './types';

export interface MessageWithSources {
  row: MessageRow;
  /** `sources[n-1]` is what `[n]` in the message refers to. */
  sources: CitedSource[];
}

/** The placeholder for a source whose document is gone: its place and position only. */
export function deletedSource(s: Pick<StoredSource, 'chunkId' | 'chunkIndex' | 'score' | 'page'>): DeletedSource {
  return { chunkId: s.chunkId, chunkIndex: s.chunkIndex, score: s.score, page: s.page, text: '', heading: null, document: null };
}

/** Resolves the stored sources of messages (one document lookup for all of them, tenant-bound). */
export async function messagesWithSources(scope: TenantScope, rows: MessageRow[]): Promise<MessageWithSources[]> {
  const parsed = rows.map((row) => ({ row, sources: JSON.parse(row.sources) as StoredSource[] }));
  const ids = [...new Set(parsed.flatMap((p) => p.sources.map((s) => s.documentId)))];
  const found = ids.length ? await scope.documents.getMany(ids) : [];
  // getMany is tenant-bound already; an answer's sources are the one place a leak would be read aloud, so check again.
  const docs = new Map<string, DocumentRow>(found.filter((d) => d.tenantId === scope.tenantId).map((d) => [d.id, d]));
  return parsed.map(({ row, sources }) => ({
    row,
    sources: sources.map((s): CitedSource => {
      const document = docs.get(s.documentId);
      if (!document) return deletedSource(s);
      return {
        chunkId: s.chunkId, documentId: s.documentId, chunkIndex: s.chunkIndex, score: s.score,
        text: s.text, page: s.page, heading: s.heading, document,
      };
    }),
  }));
}
