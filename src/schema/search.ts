/** search(input) (DESIGN §7): VECTOR, KEYWORD or HYBRID retrieval over the tenant's documents. */
import type { Hit } from '../rag/types';
import { AppError } from '../lib/errors';
import { allow } from './access';
import { builder } from './builder';
import { SearchFilterInput, SearchHit, SearchModeEnum, toFilter } from './search-types';

const SearchInput = builder.inputType('SearchInput', {
  fields: (t) => ({
    query: t.string({ required: true }),
    topK: t.int({ required: false, defaultValue: 5, description: '1 to 50.' }),
    mode: t.field({ type: SearchModeEnum, required: false, defaultValue: 'HYBRID' }),
    filter: t.field({ type: SearchFilterInput, required: false, description: 'Fields are ANDed; values within a field are ORed.' }),
  }),
});

const SearchResult = builder.objectRef<{ hits: Hit[] }>('SearchResult').implement({
  fields: (t) => ({
    hits: t.field({ type: [SearchHit], resolve: (r) => r.hits }),
  }),
});

builder.queryFields((t) => ({
  search: t.field({
    type: SearchResult,
    description: 'Scores: VECTOR cosine similarity; KEYWORD 1/rank by BM25; HYBRID reciprocal rank fusion.',
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
      });
      return { hits };
    },
  }),
}));
