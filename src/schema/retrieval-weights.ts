/** The HYBRID fusion weights as GraphQL types, shared by search input and tenant settings (src/rag/fusion.ts). */
import { builder } from './builder';

export const RetrievalWeightsInput = builder.inputType('RetrievalWeightsInput', {
  description: 'Relative weights of the keyword and vector lists in HYBRID fusion (weighted reciprocal rank fusion).',
  fields: (t) => ({
    keyword: t.float({ required: true }),
    vector: t.float({ required: true }),
  }),
});

export const RetrievalWeights = builder.objectRef<{ keyword: number; vector: number }>('RetrievalWeights').implement({
  fields: (t) => ({ keyword: t.exposeFloat('keyword'), vector: t.exposeFloat('vector') }),
});
