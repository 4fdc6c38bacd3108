/**
 * Relay cursor connections (https://relay.dev/graphql/connections.htm) over the keyset
 * pages the repositories return. Only forward pagination (first/after), per DESIGN §7.
 */
import type { ObjectRef } from '@pothos/core';
import { encodeCursor, type Page } from '../lib/pagination';
import { builder } from './builder';

export interface PageInfoShape {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}
export interface ConnectionShape<T> {
  edges: { node: T; cursor: string }[];
  pageInfo: PageInfoShape;
}

export const PageInfo = builder.objectRef<PageInfoShape>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    hasPreviousPage: t.exposeBoolean('hasPreviousPage'),
    startCursor: t.exposeString('startCursor', { nullable: true }),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

export function connectionType<T>(name: string, node: ObjectRef<GraphQLContextFree, T>) {
  const edge = builder.objectRef<{ node: T; cursor: string }>(`${name}Edge`).implement({
    fields: (t) => ({
      node: t.field({ type: node, resolve: (e) => e.node as never }),
      cursor: t.exposeString('cursor'),
    }),
  });
  return builder.objectRef<ConnectionShape<T>>(`${name}Connection`).implement({
    fields: (t) => ({
      edges: t.field({ type: [edge], resolve: (c) => c.edges }),
      pageInfo: t.field({ type: PageInfo, resolve: (c) => c.pageInfo }),
    }),
  });
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- ObjectRef's first parameter is the builder's types
type GraphQLContextFree = any;

export function toConnection<T extends { createdAt: string; id: string }, N = T>(
  page: Page<T>,
  after: string | null | undefined,
  map: (row: T) => N = (r) => r as unknown as N,
): ConnectionShape<N> {
  const edges = page.items.map((row) => ({ node: map(row), cursor: encodeCursor(row) }));
  return {
    edges,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: !!after,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
