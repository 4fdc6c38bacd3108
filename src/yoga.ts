/**
 * The GraphQL server, built once per isolate (never per request). Hardening (DESIGN §9):
 * graphql-armor limits, no batching, GET only for queries, introspection and
 * suggestions per configuration, errors masked with the request id.
 */
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { createYoga, type Plugin, useExecutionCancellation } from 'graphql-yoga';
import { NoSchemaIntrospectionCustomRule } from 'graphql';
import type { GraphQLContext } from './context';
import { errorDetail } from './lib/log';
import { requestStore } from './lib/request-store';
import { schema } from './schema';
import { maskError } from './schema/errors';
import { rateLimitExtension } from './http/rate-limit-headers';

export interface YogaOptions {
  introspection: boolean;
}

/** Blocks introspection when configured off (armor's block-field-suggestions covers "did you mean"). */
function introspectionRule(enabled: boolean): Plugin {
  return {
    onValidate({ addValidationRule }) {
      if (!enabled) addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

/** Copies the TenantGuard's figures into `extensions.rateLimit` of every result. */
const rateLimitExtensionPlugin: Plugin<GraphQLContext> = {
  onExecute({ args }) {
    return {
      onExecuteDone({ result, setResult }) {
        const r = (args.contextValue as GraphQLContext).app?.rateLimit;
        if (!r || !result || Symbol.asyncIterator in (result as object)) return;
        const res = result as { extensions?: Record<string, unknown> };
        setResult({ ...res, extensions: { ...res.extensions, rateLimit: rateLimitExtension(r) } } as never);
      },
    };
  },
};

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
    maskedErrors: {
      maskError: (error) => {
        const local = requestStore.getStore();
        return maskError(local?.requestId ?? 'unknown', (err) =>
          (local?.log ?? console).error?.('unexpected error', errorDetail((err as { originalError?: unknown }).originalError ?? err)),
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
        blockFieldSuggestion: { enabled: !opts.introspection },
      }),
      introspectionRule(opts.introspection),
      useExecutionCancellation(),
      rateLimitExtensionPlugin,
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
