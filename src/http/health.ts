/** GET /healthz: D1 reachable and the bindings this deployment needs are present. */
import type { AppEnv } from '../env';

export async function health(env: AppEnv): Promise<Response> {
  const checks: Record<string, boolean> = {
    DB: !!env.DB,
    TENANT_GUARD: !!env.TENANT_GUARD,
    DOCUMENTS: !!env.DOCUMENTS,
    INGEST_QUEUE: !!env.INGEST_QUEUE,
    VECTORS: env.VECTOR_BACKEND === 'vectorize' ? !!env.VECTORIZE : !!env.LOCAL_VECTORS,
  };
  let d1 = false;
  const started = Date.now();
  try {
    d1 = (await env.DB.prepare('SELECT 1 AS ok').first<{ ok: number }>())?.ok === 1;
  } catch {
    d1 = false;
  }
  const ok = d1 && Object.values(checks).every(Boolean);
  const body = { status: ok ? 'ok' : 'degraded', d1: { reachable: d1, latencyMs: Date.now() - started }, bindings: checks };
  return Response.json(body, { status: ok ? 200 : 503, headers: { 'cache-control': 'no-store' } });
}
