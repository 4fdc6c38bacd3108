/**
 * Writes are refused while the request's tenant moves between databases (DESIGN §7
 * TENANT_MIGRATING, 503 with Retry-After); queries keep working against the source database.
 * Mutations and subscriptions (askStream stores its answer) are refused before they run, so a
 * write never gets half done (an upload stored, a model called) only to meet the database fence
 * of migration 0009. That fence stays the guarantee for a write that raced the start of a move;
 * its refusal is translated by the error mask (src/schema/errors.ts).
 */
import type { Plugin } from 'graphql-yoga';
import { getOperationAST } from 'graphql';
import type { GraphQLContext } from '../context';
import { migratingError } from '../placement/fence';

export function useMigrationFence(): Plugin<GraphQLContext> {
  const refuse = (args: { document: Parameters<typeof getOperationAST>[0]; operationName?: string | null; contextValue: GraphQLContext }) => {
    if (!args.contextValue.app?.session?.migrating) return;
    const op = getOperationAST(args.document, args.operationName ?? undefined);
    if (op && op.operation !== 'query') throw migratingError();
  };
  return {
    onExecute: ({ args }) => refuse(args as never),
    onSubscribe: ({ args }) => refuse(args as never),
  };
}
