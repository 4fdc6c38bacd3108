/**
 * Error mask for Yoga (DESIGN §7): AppErrors become GraphQLErrors with their code and
 * HTTP status; GraphQL's own parse/validation errors are BAD_USER_INPUT; anything else
 * is unexpected and masked — the client sees a request id, the log sees the detail.
 */
import { GraphQLError } from 'graphql';
import { AppError, ERROR_STATUS, type ErrorCode } from '../lib/errors';
import { hideSchemaHints } from './schema-hints';
import { isFenceError, migratingError } from '../placement/fence';
import { misconfigurationOf, misconfiguredError } from '../lib/misconfiguration';

export function clientError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extensions, code, http: { status: ERROR_STATUS[code] } } });
}

function findAppError(err: unknown): AppError | null {
  let cur: unknown = err;
  for (let i = 0; i < 5 && cur; i++) {
    if (cur instanceof AppError) return cur;
    cur = (cur as { originalError?: unknown }).originalError;
  }
  return null;
}

/**
 * A GraphQLError from any copy of graphql. `instanceof` alone is not enough: a bundler
 * that pulls in a second copy of the package (see wrangler.toml [alias]) makes a second
 * class, and a syntax error from it would be masked as unexpected (500) instead of 400.
 */
export function isGraphQLError(err: unknown): err is GraphQLError {
  return err instanceof GraphQLError || (typeof err === 'object' && err !== null && Object.prototype.toString.call(err) === '[object GraphQLError]');
}

/**
 * The Yoga `maskError` for one request. `hideHints` (introspection off) strips suggestions
 * and schema type names from GraphQL's own messages (variable coercion errors arrive here);
 * `production` (default true) shortens misconfiguration messages.
 */
export function maskError(
  requestId: string,
  onUnexpected: (err: unknown) => void,
  opts: { hideHints?: boolean; production?: boolean } = {},
) {
  const text = (message: string) => (opts.hideHints ? hideSchemaHints(message) : message);
  return (error: unknown): Error => {
    // A write that met a move's database fence (it raced the move's start): retryable.
    const app = findAppError(error) ?? (isFenceError(error) ? migratingError(error) : null);
    const gql = isGraphQLError(error) ? error : null;
    if (app) {
      return new GraphQLError(app.message, {
        nodes: gql?.nodes,
        path: gql?.path,
        extensions: { ...app.extensions, code: app.code, requestId, http: { status: app.status } },
      });
    }
    if (gql && !gql.originalError) {
      // Produced by GraphQL itself (syntax, validation, variable coercion) or by a plugin
      // that already chose a code (graphql-armor, Yoga's own HTTP errors).
      const given = gql.extensions?.code as string | undefined;
      const code: ErrorCode = given && given in ERROR_STATUS ? (given as ErrorCode) : 'BAD_USER_INPUT';
      const { spec, ...http } = (gql.extensions?.http as { status?: number; spec?: boolean } | undefined) ?? {};
      const { originalError: _internal, ...extensions } = (gql.extensions ?? {}) as Record<string, unknown>;
      // Yoga's `spec` marker lets an application/json client get a GraphQL request error with
      // 200 (src/yoga.ts requestErrorPlugin); its BAD_REQUEST errors (malformed JSON, bad
      // parameters) are HTTP-level and keep their 400, so they lose the marker here.
      const keepSpec = spec === true && given !== 'BAD_REQUEST';
      return new GraphQLError(text(gql.message), {
        nodes: gql.nodes,
        source: gql.source,
        positions: gql.positions,
        path: gql.path,
        extensions: {
          ...extensions, code,
          http: { ...http, ...(keepSpec ? { spec } : {}), status: http.status && http.status !== 500 ? http.status : ERROR_STATUS[code] },
        },
      });
    }
    if (isGraphQLError(gql?.originalError) && !(gql.originalError instanceof AppError)) {
      // A scalar's parseValue threw a coded GraphQLError.
      const inner = gql.originalError;
      const code = (inner.extensions?.code as ErrorCode | undefined) ?? 'BAD_USER_INPUT';
      if (code in ERROR_STATUS && code !== 'INTERNAL_SERVER_ERROR') {
        return new GraphQLError(text(gql.message), { nodes: gql.nodes, path: gql.path, extensions: { code, requestId, http: { status: ERROR_STATUS[code] } } });
      }
    }
    onUnexpected(error);
    const misconfigured = misconfigurationOf(error);
    if (misconfigured) {
      // e.g. a resolver's query hit a table or column that a pending migration adds.
      const app = misconfiguredError(misconfigured, requestId, opts.production ?? true);
      return new GraphQLError(app.message, {
        nodes: gql?.nodes,
        path: gql?.path,
        extensions: { ...app.extensions, code: app.code, requestId, http: { status: app.status } },
      });
    }
    return new GraphQLError('Unexpected error.', {
      nodes: gql?.nodes,
      path: gql?.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR', requestId, http: { status: 500 } },
    });
  };
}
