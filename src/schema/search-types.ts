/** GraphQL shapes shared by search and chat (DESIGN §7): SearchMode, SearchFilter, SearchHit. */
import type { CitedSource, SearchFilter } from '../rag/types';
import { optionalIdList, optionalTags } from '../lib/input';
import { builder } from './builder';
import { Document } from './documents';

export { SearchModeEnum } from './enums';
export { RetrievalWeights, RetrievalWeightsInput } from './retrieval-weights';

const DateRangeInput = builder.inputType('DateRange', {
  description: '`from` is inclusive, `before` exclusive; either may be omitted.',
  fields: (t) => ({
    from: t.field({ type: 'DateTime', required: false }),
    before: t.field({ type: 'DateTime', required: false }),
  }),
});

const MetadataConditionInput = builder.inputType('MetadataCondition', {
  description:
    'A condition on one filterable custom metadata key (SEARCH_METADATA_KEYS; docs/retrieval.md "Filters"): eq, or in, ' +
    'or a range (gt|gte and/or lt|lte). Values must have the key\'s declared type; strings are at most 64 bytes.',
  fields: (t) => ({
    key: t.string({ required: true }),
    eq: t.field({ type: 'JSON', required: false }),
    in: t.field({ type: ['JSON'], required: false }),
    gt: t.field({ type: 'JSON', required: false }),
    gte: t.field({ type: 'JSON', required: false }),
    lt: t.field({ type: 'JSON', required: false }),
    lte: t.field({ type: 'JSON', required: false }),
  }),
});

export const SearchFilterInput = builder.inputType('SearchFilter', {
  fields: (t) => ({
    collectionIds: t.idList({ required: false }),
    documentIds: t.idList({ required: false }),
    tags: t.stringList({ required: false }),
    types: t.stringList({ required: false, description: 'Document types (MIME): text/plain, text/markdown, text/html, application/pdf.' }),
    created: t.field({ type: DateRangeInput, required: false, description: "The document's creation time." }),
    updated: t.field({ type: DateRangeInput, required: false, description: "The document's last change (ingest, replacement, status)." }),
    metadata: t.field({ type: [MetadataConditionInput], required: false, description: 'ANDed; at most 5.' }),
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
export function toFilter(f: typeof SearchFilterInput.$inferInput | null | undefined): SearchFilter | null {
  if (!f) return null;
  // Attribute filters are validated by the retriever (it knows the deployment's metadata keys).
  return {
    collectionIds: optionalIdList(f.collectionIds, 'filter.collectionIds'),
    documentIds: optionalIdList(f.documentIds, 'filter.documentIds'),
    tags: optionalTags(f.tags, 'filter.tags'),
    types: f.types ?? null,
    created: f.created ?? null,
    updated: f.updated ?? null,
    metadata: f.metadata?.map((c) => ({ ...c, in: c.in ?? null })) ?? null,
  };
}
