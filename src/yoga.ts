/**
 * The GraphQL server, built once per isolate (never per request). Hardening (DESIGN §9):
 * graphql-armor limits, no batching, GET only for queries, introspection and
 * suggestions per configuration, errors masked with the request id.
 */
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useMigrationFence } from './http/use-migration-fence';
import { createYoga, type Plugin, useExecutionCancellation } from 'graphql-yoga';
import { GraphQLError, NoSchemaIntrospectionCustomRule } from 'graphql';
import type { GraphQLContext } from './context';
import { AppError, ERROR_STATUS, type ErrorCode } from './lib/errors';
import { errorDetail } from './lib/log';
import { requestStore } from './lib/request-store';
import { schema } from './schema';
import { isGraphQLError, maskError } from './schema/errors';
import { hideSchemaHints } from './schema/schema-hints';
import { rateLimitExtension } from './http/rate-limit-headers';

export interface YogaOptions {
  introspection: boolean;
  /** Misconfiguration errors say less in production (src/lib/misconfiguration.ts); default true. */
  production?: boolean;
}

/** Blocks introspection when configured off (suggestions: hideSchemaHints). */
function introspectionRule(enabled: boolean): Plugin {
  return {
    onValidate({ addValidationRule }) {
      if (!enabled) addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

/** Retry-After for a quota refusal that names no reset time (standing limits). */
const STANDING_RETRY_AFTER_SECONDS = 3_600;

/**
 * Copies the TenantGuard's figures into `extensions.rateLimit` of every result (executed,
 * refused in validation, or failed), and gives a RATE_LIMITED / QUOTA_EXCEEDED / CONFLICT error
 * raised during execution (a resolver's quota check, a lost write race) its Retry-After header.
 */
const rateLimitExtensionPlugin: Plugin<GraphQLContext, GraphQLContext> = {
  onResultProcess({ result, setResult, serverContext }) {
    if (!result || Array.isArray(result) || Symbol.asyncIterator in (result as object)) return;
    const r = (serverContext as Partial<GraphQLContext> | undefined)?.app?.rateLimit;
    const res = result as { errors?: readonly GraphQLError[]; extensions?: Record<string, unknown> };
    let retryAfter = 0;
    for (const e of res.errors ?? []) {
      const code = e.extensions?.code;
      // CONFLICT (a lost race) always names its own short retryAfter.
      if (code !== 'RATE_LIMITED' && code !== 'QUOTA_EXCEEDED' && code !== 'CONFLICT' && code !== 'TENANT_MIGRATING') continue;
      // A limit with no reset time (e.g. a standing total such as collections) still tells
      // clients to back off rather than retry at once.
      const after = e.extensions?.retryAfter;
      retryAfter = Math.max(retryAfter, typeof after === 'number' ? after : STANDING_RETRY_AFTER_SECONDS);
    }
    if (!r && !retryAfter) return;
    const extensions: Record<string, unknown> = { ...res.extensions };
    if (r) extensions.rateLimit = rateLimitExtension(r);
    if (retryAfter) {
      // Yoga turns extensions.http.headers into response headers and strips them from the body.
      const http = (extensions.http ?? {}) as { headers?: Record<string, string> };
      extensions.http = { ...http, headers: { ...http.headers, 'Retry-After': String(Math.max(1, Math.ceil(retryAfter))) } };
    }
    setResult({ ...res, extensions } as never);
  },
};

/**
 * Parse and validation errors never reach the error mask (Yoga reports them itself with
 * codes like GRAPHQL_VALIDATION_FAILED and HTTP 200). Map them onto the closed set:
 * BAD_USER_INPUT with HTTP 400, plus the request id. With `hideHints` (introspection off)
 * their messages lose suggestions and schema type names (src/schema/schema-hints.ts).
 * `extensions.originalError` (Yoga's copy of e.g. the JSON parser's error) never reaches
 * the client: the message already says what was wrong.
 *
 * One exception to the 400, from GraphQL over HTTP
 * (https://graphql.github.io/graphql-over-http/draft/#sec-application-json): a client that
 * accepts only `application/json` (the legacy media type) gets GraphQL's own request errors
 * (parse, validation, variable coercion) with 200, which Yoga does for an error that keeps
 * its `spec: true` marker. HTTP-level refusals (malformed JSON, bad parameters: Yoga's
 * BAD_REQUEST) keep their 400 for everyone, and clients that accept
 * `application/graphql-response+json`, a wildcard or no Accept keep the 400 (DESIGN §9).
 */
function requestErrorPlugin(hideHints: boolean): Plugin {
  return {
    onResultProcess({ request, result, setResult }) {
      if (!result || Array.isArray(result) || Symbol.asyncIterator in (result as object)) return;
      const res = result as { errors?: readonly GraphQLError[]; data?: unknown };
      if (!res.errors?.length) return;
      const requestId = requestStore.getStore()?.requestId;
      const legacyJson = acceptsOnlyLegacyJson(request);
      let changed = false;
      const errors = res.errors.map((e) => {
        const code = e.extensions?.code as string | undefined;
        if (code && code in ERROR_STATUS && e.extensions?.requestId) return e;
        changed = true;
        const known = code && code in ERROR_STATUS ? (code as ErrorCode) : 'BAD_USER_INPUT';
        const given = e.extensions?.http as { status?: number; spec?: boolean } | undefined;
        const status = given?.status ?? ERROR_STATUS[known];
        // Yoga marks its GraphQL errors `spec`; its BAD_REQUEST ones are HTTP-level (JSON, params).
        const spec = legacyJson && (given ? given.spec === true && code !== 'BAD_REQUEST' : true);
        const { originalError: _internal, ...extensions } = (e.extensions ?? {}) as Record<string, unknown>;
        return new GraphQLError(hideHints ? hideSchemaHints(e.message) : e.message, {
          nodes: e.nodes,
          source: e.source,
          positions: e.positions,
          path: e.path,
          extensions: { ...extensions, code: known, requestId, http: spec ? { status, spec } : { status } },
        });
      });
      if (changed) setResult({ ...res, errors } as never);
    },
  };
}

/** The Accept header names application/json and not application/graphql-response+json. */
function acceptsOnlyLegacyJson(request: Request): boolean {
  const accept = (request.headers.get('accept') ?? '').toLowerCase();
  return accept.includes('application/json') && !accept.includes('application/graphql-response+json');
}

function yogaLog(level: 'warn' | 'error', args: unknown[]): void {
  const log = requestStore.getStore()?.log;
  if (!log) {
    console[level](...args);
    return;
  }
  const [first, ...rest] = args;
  const detail = rest.map((a) => (a instanceof Error ? errorDetail(a) : a));
  log[level](first instanceof Error ? first.message : String(first), {
    ...(first instanceof Error ? errorDetail(first) : {}),
    ...(detail.length ? { detail } : {}),
  });
}

const cache = new Map<string, ReturnType<typeof build>>();

function build(opts: YogaOptions) {
  return createYoga<GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    // GraphiQL is served by the Worker from a bundled asset (src/http/graphiql.ts).
    graphiql: false,
    landingPage: false,
    batching: false,
    cors: false,
    // Client errors (AppError) are expected outcomes, not log noise; unexpected ones are
    // logged by the mask below with the request id.
    logging: {
      debug: () => undefined,
      info: () => undefined,
      // Through the request's logger when there is one, so the line has the request and tenant ids.
      warn: (...args: unknown[]) => yogaLog('warn', args),
      error: (...args: unknown[]) => {
        if (args.some((a) => a instanceof AppError || isGraphQLError(a))) return;
        yogaLog('error', args);
      },
    },
    maskedErrors: {
      maskError: (error) => {
        const local = requestStore.getStore();
        return maskError(
          local?.requestId ?? 'unknown',
          (err) => (local?.log ?? console).error?.('unexpected error', errorDetail((err as { originalError?: unknown }).originalError ?? err)),
          { hideHints: !opts.introspection, production: opts.production ?? true },
        )(error);
      },
    },
    plugins: [
      EnvelopArmorPlugin({
        maxDepth: { n: 10, ignoreIntrospection: true },
        maxAliases: { n: 15 },
        maxTokens: { n: 1000 },
        maxDirectives: { n: 10 },
        costLimit: { maxCost: 5000, ignoreIntrospection: true },
        // Suggestions are hidden by requestErrorPlugin / maskError (hideSchemaHints), which
        // also covers enum-value suggestions and variable errors that armor's plugin misses.
        blockFieldSuggestion: { enabled: false },
      }),
      introspectionRule(opts.introspection),
      useExecutionCancellation(),
      useMigrationFence(),
      rateLimitExtensionPlugin,
      requestErrorPlugin(!opts.introspection),
    ],
  });
}

export function yogaFor(opts: YogaOptions) {
  const key = JSON.stringify(opts);
  let y = cache.get(key);
  if (!y) {
    y = build(opts);
    cache.set(key, y);
  }
  return y;
}
