/** Pothos builder: configuration only (types live in their domain modules). */
import SchemaBuilder from '@pothos/core';
import type { GraphQLContext } from '../context';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
    File: { Input: File; Output: never };
  };
}>({
  defaultFieldNullability: false,
});

builder.queryType({});
builder.mutationType({});
// askStream (src/schema/chat.ts) is served over SSE by Yoga.
builder.subscriptionType({});
