/** GraphQL shapes shared by search and chat (DESIGN §7): SearchMode, SearchFilter, SearchHit. */
import type { CitedSource } from '../rag/types';
import { optionalIdList, optionalTags } from '../lib/input';
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

export const SearchHit = builder.objectRef<CitedSource>('SearchHit').implement({
  description: 'A retrieved passage: a search hit, or a source an answer cites.',
  fields: (t) => ({
    score: t.exposeFloat('score'),
    text: t.exposeString('text', { description: 'The passage; empty in the placeholder of a deleted document (documentDeleted).' }),
    chunkIndex: t.exposeInt('chunkIndex'),
    page: t.exposeInt('page', { nullable: true }),
    heading: t.exposeString('heading', { nullable: true }),
    chunkId: t.exposeID('chunkId'),
    document: t.field({
      type: Document,
      nullable: true,
      description:
        'The document the passage comes from. Always set in search results and in a new answer; null only in ' +
        'Message.sources when the cited document has been deleted since (then documentDeleted is true).',
      resolve: (h) => h.document,
    }),
    documentDeleted: t.boolean({
      description:
        'True for a source of a stored message whose document has been deleted: a placeholder that keeps its number ' +
        '([n] is still sources[n-1]) and carries no document, text or heading.',
      resolve: (h) => h.document === null,
    }),
  }),
});

/**
 * Normalises the GraphQL filter input of search and ask (ids arrive as string | number).
 * An empty or blank id or tag is BAD_USER_INPUT naming the list: dropped silently it would
 * turn `[""]` into "everything" or "nothing" without telling the caller.
 */
export function toFilter(f: { collectionIds?: (string | number)[] | null; documentIds?: (string | number)[] | null; tags?: string[] | null } | null | undefined) {
  if (!f) return null;
  return {
    collectionIds: optionalIdList(f.collectionIds, 'filter.collectionIds'),
    documentIds: optionalIdList(f.documentIds, 'filter.documentIds'),
    tags: optionalTags(f.tags, 'filter.tags'),
  };
}
