/**
 * Keyset pagination for Relay connections. A cursor is the opaque base64url of
 * `<created_at>|<id>`; pages are ordered by (created_at, id) so inserts never shift them.
 */
import { badInput } from './errors';

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}
export interface Keyset {
  createdAt: string;
  id: string;
}
export interface Page<T> {
  items: T[];
  hasNextPage: boolean;
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export function pageSize(first: number | null | undefined): number {
  if (first == null) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw badInput(`first must be between 1 and ${MAX_PAGE_SIZE}`, 'first');
  }
  return first;
}

export function encodeCursor(k: Keyset): string {
  return btoa(`${k.createdAt}|${k.id}`).replace(/=+$/, '');
}

export function decodeCursor(cursor: string | null | undefined): Keyset | null {
  if (!cursor) return null;
  try {
    const [createdAt, id, extra] = atob(cursor).split('|');
    if (!createdAt || !id || extra !== undefined) throw new Error('shape');
    return { createdAt, id };
  } catch {
    throw badInput('after is not a valid cursor', 'after');
  }
}
