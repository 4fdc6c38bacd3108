/** Collections and documents (read side + collection creation). Ingestion adds its mutations in src/schema/ingest.ts. */
import type { CollectionRow, DocumentRow } from '../db/schema';
import { checkedName, INPUT_LIMITS, optionalId } from '../lib/input';
import { pageSize } from '../lib/pagination';
import { allow, READ_DOCUMENTS } from './access';
import { builder } from './builder';
import { connectionType, toConnection } from './connection';
import { DocumentStatusEnum, lower, upper } from './enums';

export const Collection = builder.objectRef<CollectionRow>('Collection').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (c) => c.createdAt }),
  }),
});

export const Document = builder.objectRef<DocumentRow>('Document').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    status: t.field({ type: DocumentStatusEnum, resolve: (d) => upper(d.status) }),
    error: t.exposeString('error', { nullable: true }),
    chunkCount: t.exposeInt('chunkCount'),
    contentHash: t.exposeString('contentHash'),
    mimeType: t.exposeString('mimeType'),
    sourceType: t.exposeString('sourceType'),
    sourceUrl: t.exposeString('sourceUrl', { nullable: true }),
    sizeBytes: t.exposeInt('sizeBytes'),
    indexedBytes: t.exposeInt('indexedBytes', {
      description:
        'Bytes of extracted text stored for search (the visible version\'s chunks; 0 until one completes). ' +
        'Counted against the plan\'s storedBytes together with sizeBytes.',
    }),
    tags: t.stringList({ resolve: (d) => JSON.parse(d.tags) as string[] }),
    metadata: t.field({ type: 'JSON', resolve: (d) => JSON.parse(d.metadata) as unknown }),
    collection: t.field({
      type: Collection,
      nullable: true,
      // No scope check here: the caller already holds the document (a read, a search hit,
      // an ingest result or an answer's source), and its collection is part of it.
      resolve: (d, _a, ctx) => (d.collectionId ? allow(ctx, 'viewer').collections.get(d.collectionId) : null),
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (d) => d.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (d) => d.updatedAt }),
  }),
});

const CollectionConnection = connectionType('Collection', Collection);
const DocumentConnection = connectionType('Document', Document);

const DocumentFilter = builder.inputType('DocumentFilter', {
  fields: (t) => ({
    collectionId: t.id({ required: false }),
    status: t.field({ type: DocumentStatusEnum, required: false }),
    tag: t.string({ required: false }),
  }),
});

const CreateCollectionInput = builder.inputType('CreateCollectionInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    description: t.string({ required: false }),
  }),
});

builder.queryFields((t) => ({
  collections: t.field({
    type: CollectionConnection,
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: async (_r, args, ctx) =>
      toConnection(await allow(ctx, 'viewer', READ_DOCUMENTS).collections.list(pageSize(args.first), args.after), args.after),
  }),
  documents: t.field({
    type: DocumentConnection,
    args: { first: t.arg.int(), after: t.arg.string(), filter: t.arg({ type: DocumentFilter }) },
    resolve: async (_r, args, ctx) => {
      const scope = allow(ctx, 'viewer', READ_DOCUMENTS);
      const page = await scope.documents.list(pageSize(args.first), args.after, {
        collectionId: optionalId(args.filter?.collectionId, 'filter.collectionId'),
        status: args.filter?.status ? lower(args.filter.status) : null,
        tag: args.filter?.tag != null ? checkedName(args.filter.tag, 'filter.tag', INPUT_LIMITS.tag) : null,
      });
      return toConnection(page, args.after);
    },
  }),
  document: t.field({
    type: Document,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, { id }, ctx) => allow(ctx, 'viewer', READ_DOCUMENTS).documents.get(String(id)),
  }),
}));

builder.mutationFields((t) => ({
  createCollection: t.field({
    type: Collection,
    args: { input: t.arg({ type: CreateCollectionInput, required: true }) },
    resolve: (_r, { input }, ctx) =>
      allow(ctx, 'member', 'ingest').collections.create(input, ctx.app.limits?.collections ?? null),
  }),
  deleteCollection: t.boolean({
    description:
      'Deletes an empty collection, freeing its place in the plan. Refused (BAD_USER_INPUT) while it has documents: ' +
      'delete them first; nothing is deleted along with a collection.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, { id }, ctx) => {
      await allow(ctx, 'member', 'ingest').collections.delete(String(id));
      return true;
    },
  }),
}));
