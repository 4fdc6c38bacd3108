/** search(input) (DESIGN §7): VECTOR, KEYWORD or HYBRID retrieval over the tenant's documents. */
import type { DocumentRow } from '../db/schema';
import { groupByDocument, MAX_CHUNKS_PER_DOCUMENT } from '../rag/diversity';
import { MAX_WEIGHT } from '../rag/fusion';
import type { Hit } from '../rag/types';
import { AppError } from '../lib/errors';
import { allow } from './access';
import { builder } from './builder';
import { Document } from './documents';
import { RetrievalWeightsInput, SearchFilterInput, SearchHit, SearchModeEnum, toFilter } from './search-types';

const FusionMethodEnum = builder.enumType('FusionMethod', {
  description: 'How HYBRID fuses the keyword and vector lists (docs/retrieval.md "Fusion and weights").',
  values: {
    CONVEX: { description: 'Weighted sum of each list\'s min-max normalised scores, 0 to 1 (the default).' },
    RRF: { description: 'Weighted reciprocal rank fusion, Σ w / (60 + rank).' },
  } as const,
});

const SearchInput = builder.inputType('SearchInput', {
  fields: (t) => ({
    query: t.string({ required: true }),
    topK: t.int({ required: false, defaultValue: 5, description: '1 to 50.' }),
    mode: t.field({ type: SearchModeEnum, required: false, defaultValue: 'HYBRID' }),
    filter: t.field({ type: SearchFilterInput, required: false, description: 'Fields are ANDed; values within a field are ORed.' }),
    weights: t.field({
      type: RetrievalWeightsInput,
      required: false,
      description: `HYBRID fusion weights (0 to ${MAX_WEIGHT} each); omitted: the tenant's retrievalWeights, else the embedding provider's default.`,
    }),
    fusion: t.field({ type: FusionMethodEnum, required: false, description: 'HYBRID only; omitted: CONVEX.' }),
    maxChunksPerDocument: t.int({
      required: false,
      description: `At most this many hits per document, 1 to ${MAX_CHUNKS_PER_DOCUMENT}; omitted: the tenant's searchMaxChunksPerDocument, else 2.`,
    }),
    groupByDocument: t.boolean({
      required: false,
      description: 'topK counts documents (each with up to maxChunksPerDocument hits) instead of hits; see SearchResult.groups.',
    }),
    rerank: t.boolean({ required: false, description: "Rerank candidates with the configured cross-encoder (RERANK_URL); omitted: the tenant's rerank setting. Ignored when none is configured." }),
  }),
});

interface DocumentGroupShape {
  document: DocumentRow;
  score: number;
  hits: Hit[];
}

const SearchDocumentGroup = builder.objectRef<DocumentGroupShape>('SearchDocumentGroup').implement({
  description: "One document's hits, in ranking order.",
  fields: (t) => ({
    document: t.field({ type: Document, resolve: (g) => g.document }),
    score: t.exposeFloat('score', { description: 'The score of its best hit.' }),
    hits: t.field({ type: [SearchHit], resolve: (g) => g.hits }),
  }),
});

const SearchResult = builder.objectRef<{ hits: Hit[] }>('SearchResult').implement({
  fields: (t) => ({
    hits: t.field({ type: [SearchHit], resolve: (r) => r.hits }),
    groups: t.field({
      type: [SearchDocumentGroup],
      description: 'The same hits grouped by document, documents in the order of their best hit.',
      resolve: (r) => groupByDocument(r.hits).map((g) => ({ document: g.hits[0]!.document, score: g.score, hits: g.hits })),
    }),
  }),
});

builder.queryFields((t) => ({
  search: t.field({
    type: SearchResult,
    description: 'Scores: VECTOR cosine similarity; KEYWORD 1/rank by BM25; HYBRID the fused score (CONVEX: 0..1; RRF: Σ w/(60+rank)); with rerank, the reranker\'s relevance.',
    args: { input: t.arg({ type: SearchInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      allow(ctx, 'viewer', 'search');
      const retriever = ctx.app.services.retriever;
      if (!retriever) throw new AppError('FORBIDDEN', 'This operation needs a tenant: call it on the tenant host');
      const hits = await retriever.search({
        query: input.query,
        topK: input.topK ?? 5,
        mode: input.mode ?? 'HYBRID',
        filter: toFilter(input.filter),
        weights: input.weights ?? null,
        fusion: input.fusion ?? null,
        maxChunksPerDocument: input.maxChunksPerDocument ?? 'default',
        groupByDocument: input.groupByDocument ?? false,
        rerank: input.rerank ?? null,
      });
      return { hits };
    },
  }),
}));
