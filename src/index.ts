/**
 * Worker entry: routing, and the Durable Object classes wrangler must find here.
 *   GET  /healthz   status; details for operators; names a configuration problem (src/http/health.ts)
 *   GET  /graphql   GraphiQL (development) or a GET query
 *   POST /graphql   GraphQL over HTTP (+ multipart uploads, SSE subscriptions)
 *   GET  /exports/<id>?token=…   a tenant export's archive, by signed link (src/http/exports.ts)
 */
import { ConfigError, loadConfig, type AppEnv, type Config } from './env';
import { graphiql, wantsGraphiQL } from './http/graphiql';
import { health } from './http/health';
import { EXPORT_PATH, handleExportDownload } from './http/exports';
import { handleGraphQL } from './http/pipeline';
import { countingD1, isolateD1Counter } from './lib/d1-counter';
import { routeQueueBatch } from './jobs/queue-router';

export { TenantGuard } from './objects/tenant-guard';
export { LocalVectorIndex } from './objects/local-vector-index';

const counted = new WeakMap<AppEnv, AppEnv>();

/** `env` with its DB counted into isolateD1Counter (one wrapper per env object). */
function countedEnv(env: AppEnv): AppEnv {
  let e = counted.get(env);
  if (!e) {
    e = { ...env, DB: countingD1(env.DB, isolateD1Counter) };
    counted.set(env, e);
  }
  return e;
}

export default {
  async fetch(request, rawEnv, ctx): Promise<Response> {
    // D1_QUERY_COUNT=true (npm run bench:pipeline only): count D1 statements, readable at /__bench/d1.
    const counting = rawEnv.D1_QUERY_COUNT === 'true';
    const env = counting ? countedEnv(rawEnv) : rawEnv;
    const url = new URL(request.url);
    if (counting && url.pathname === '/__bench/d1') return Response.json(isolateD1Counter);
    if (url.pathname === '/healthz') return health(request, env);
    if (url.pathname === '/graphql') {
      if (wantsGraphiQL(request)) {
        // With a configuration problem, the pipeline answers (503 naming it).
        const config = configOrNull(env);
        if (config) return config.graphiql ? graphiql(env, request) : new Response('Not found', { status: 404 });
      }
      return handleGraphQL(request, env, ctx);
    }
    const exportId = EXPORT_PATH.exec(url.pathname)?.[1];
    if (exportId) return handleExportDownload(request, env, exportId);
    if (url.pathname === '/') return Response.redirect(new URL('/graphql', url).toString(), 302);
    return new Response('Not found', { status: 404 });
  },
  /**
   * Document ingestion (edgerag-ingest) and its dead-letter queue (edgerag-ingest-dlq); the same
   * queue carries the tenant jobs (moves, …), routed by src/jobs/queue-router.ts.
   */
  async queue(batch, env): Promise<void> {
    await routeQueueBatch(batch, env);
  },
} satisfies ExportedHandler<AppEnv>;

function configOrNull(env: AppEnv): Config | null {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return null;
    throw err;
  }
}
