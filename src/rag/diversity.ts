/**
 * Result diversity for `search` (docs/retrieval.md "Diversity"): at most N chunks per
 * document, and hits grouped by document. Pure functions over ranked hits.
 *
 * Without a cap, one long document whose chunks all mention the query fills the ten hits
 * and pushes every other document, the answer's included, off the page. The cap applies to
 * `search`; `ask` retrieves uncapped because several passages of one document are often
 * exactly the context an answer needs.
 */
import { AppError } from '../lib/errors';

/** search's default when neither the request nor the tenant says otherwise. */
export const DEFAULT_MAX_CHUNKS_PER_DOCUMENT = 2;
/** Largest cap accepted (= search's topK maximum: a larger cap is no cap). */
export const MAX_CHUNKS_PER_DOCUMENT = 50;

/** What diversity needs of a hit. */
export interface Diversifiable {
  documentId: string;
  score: number;
}

/**
 * Validates a cap from a request or a tenant setting: an integer from 1 to
 * MAX_CHUNKS_PER_DOCUMENT. BAD_USER_INPUT names `field`.
 */
export function validateMaxPerDocument(n: unknown, field: string): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_CHUNKS_PER_DOCUMENT) {
    throw new AppError('BAD_USER_INPUT', `${field} must be an integer from 1 to ${MAX_CHUNKS_PER_DOCUMENT}`, { field });
  }
  return n;
}

/**
 * The first `topK` of `ranked` (best first) taking at most `maxPerDocument` of each
 * document (null: no cap). A chunk beyond its document's cap is skipped, not deferred: the
 * order of what remains is the ranking's order.
 */
export function capPerDocument<T extends Diversifiable>(ranked: readonly T[], maxPerDocument: number | null, topK: number): T[] {
  const out: T[] = [];
  const taken = new Map<string, number>();
  for (const h of ranked) {
    if (out.length >= topK) break;
    const n = taken.get(h.documentId) ?? 0;
    if (maxPerDocument !== null && n >= maxPerDocument) continue;
    taken.set(h.documentId, n + 1);
    out.push(h);
  }
  return out;
}

/**
 * Like capPerDocument, but `topDocuments` counts documents: the best `topDocuments`
 * documents (by their best chunk), each with up to `maxPerDocument` of its chunks, in
 * ranking order. Used by `groupByDocument`.
 */
export function topDocuments<T extends Diversifiable>(ranked: readonly T[], maxPerDocument: number | null, topDocuments: number): T[] {
  const docs = new Set<string>();
  const out: T[] = [];
  const taken = new Map<string, number>();
  for (const h of ranked) {
    if (!docs.has(h.documentId)) {
      if (docs.size >= topDocuments) continue;
      docs.add(h.documentId);
    }
    const n = taken.get(h.documentId) ?? 0;
    if (maxPerDocument !== null && n >= maxPerDocument) continue;
    taken.set(h.documentId, n + 1);
    out.push(h);
  }
  return out;
}

/** One document's hits: its best score first, hits in ranking order. */
export interface DocumentGroup<T> {
  documentId: string;
  /** The best hit's score. */
  score: number;
  hits: T[];
}

/** Groups ranked hits by document, in the order each document first appears. */
export function groupByDocument<T extends Diversifiable>(ranked: readonly T[]): DocumentGroup<T>[] {
  const groups = new Map<string, DocumentGroup<T>>();
  for (const h of ranked) {
    const g = groups.get(h.documentId);
    if (g) g.hits.push(h);
    else groups.set(h.documentId, { documentId: h.documentId, score: h.score, hits: [h] });
  }
  return [...groups.values()];
}
