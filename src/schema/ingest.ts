/** ingestDocument / deleteDocument (DESIGN §7). Processing continues on the ingest queue; poll document(id) { status }. */
import { AppError } from '../lib/errors';
import { optionalId, optionalTags } from '../lib/input';
import type { GraphQLContext } from '../context';
import { allow } from './access';
import { builder } from './builder';
import { Document } from './documents';

const IngestDocumentInput = builder.inputType('IngestDocumentInput', {
  description: 'Exactly one of text, file (multipart upload) or url.',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Unique per collection: the same name with new content replaces the document.' }),
    text: t.string({ required: false, description: 'Inline text (Markdown when the name ends in .md, HTML for .html).' }),
    file: t.field({ type: 'File', required: false, description: 'Text, Markdown, HTML or PDF, as a GraphQL multipart upload.' }),
    url: t.string({ required: false, description: 'An http(s) URL to fetch the document from.' }),
    collectionId: t.id({ required: false }),
    tags: t.stringList({ required: false }),
    metadata: t.field({ type: 'JSON', required: false }),
  }),
});

function ingestion(ctx: GraphQLContext) {
  const svc = ctx.app.services.ingestion;
  if (!svc) throw new AppError('FORBIDDEN', 'This operation needs a tenant: call it on the tenant host');
  return svc;
}

builder.mutationFields((t) => ({
  ingestDocument: t.field({
    type: Document,
    description: 'Accepts a document (PENDING); it becomes searchable when its status is COMPLETED.',
    args: { input: t.arg({ type: IngestDocumentInput, required: true }) },
    resolve: (_r, { input }, ctx) => {
      allow(ctx, 'member', 'ingest');
      return ingestion(ctx).ingest({
        name: input.name,
        text: input.text ?? null,
        file: input.file ?? null,
        url: input.url ?? null,
        collectionId: optionalId(input.collectionId, 'collectionId'),
        tags: optionalTags(input.tags, 'tags'),
        metadata: input.metadata,
      });
    },
  }),
  deleteDocument: t.boolean({
    description: 'Deletes the document, its chunks, vectors and stored original.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, { id }, ctx) => {
      allow(ctx, 'member', 'ingest');
      return ingestion(ctx).delete(String(id));
    },
  }),
}));
