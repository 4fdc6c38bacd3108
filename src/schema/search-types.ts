/** GraphQL shapes shared by search and chat (DESIGN §7): SearchMode, SearchFilter, SearchHit. */
import type { Hit } from '../rag/types';
import { builder } from './builder';
import { Document } from './documents';

export { SearchModeEnum } from './enums';

export const SearchFilterInput = builder.inputType('SearchFilter', {
  fields: (t) => ({
    collectionIds: t.idList({ required: false }),
    documentIds: t.idList({ required: false }),
    tags: t.stringList({ required: false }),
  }),
});

export const SearchHit = builder.objectRef<Hit>('SearchHit').implement({
  fields: (t) => ({
    score: t.exposeFloat('score'),
    text: t.exposeString('text'),
    chunkIndex: t.exposeInt('chunkIndex'),
    page: t.exposeInt('page', { nullable: true }),
    heading: t.exposeString('heading', { nullable: true }),
    chunkId: t.exposeID('chunkId'),
    document: t.field({ type: Document, resolve: (h) => h.document }),
  }),
});

/** Normalises the GraphQL filter input (ids arrive as string | number). */
export function toFilter(f: { collectionIds?: (string | number)[] | null; documentIds?: (string | number)[] | null; tags?: string[] | null } | null | undefined) {
  if (!f) return null;
  return {
    collectionIds: f.collectionIds?.map(String) ?? null,
    documentIds: f.documentIds?.map(String) ?? null,
    tags: f.tags ?? null,
  };
}
