/**
 * GET /healthz.
 *
 * - Anyone: `{ status: 'ok' }` (200) or `{ status: 'degraded' }` (503), and nothing about
 *   the deployment: no database name, latency or binding names (a probe needs no more).
 * - `Authorization: Bearer <HEALTHZ_TOKEN>` (a secret; optional) or a platform-admin JWT:
 *   also the checks (environment, D1 reachable and its latency, latest applied migration,
 *   bindings).
 * - A configuration problem answers 503 `{ status: 'misconfigured', setting, problem, fix }`
 *   to anyone: a missing or bad var or secret, a missing binding, or a database whose
 *   migrations are not (all) applied. Saying which setting is wrong tells a prober nothing it can
 *   use, and it is what the person who just ran `wrangler dev` or `wrangler deploy` needs.
 */
import { verifyJwt } from '../auth/jwt';
import { SCHEMA_VERSION } from '../db/schema-version';
import { ConfigError, loadConfig, type AppEnv, type Config } from '../env';
import { MIGRATIONS_FIX, misconfigurationOf, type Misconfiguration } from '../lib/misconfiguration';

const NO_STORE = { 'cache-control': 'no-store' };

/** Answers /healthz (see the module comment for who sees what). */
export async function health(request: Request, env: AppEnv): Promise<Response> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return misconfigured({ setting: err.setting, problem: err.problem, fix: err.fix });
    throw err;
  }

  const bindings: Record<string, boolean> = {
    DB: !!env.DB,
    TENANT_GUARD: !!env.TENANT_GUARD,
    DOCUMENTS: !!env.DOCUMENTS,
    INGEST_QUEUE: !!env.INGEST_QUEUE,
    [config.vectorBackend === 'vectorize' ? 'VECTORIZE' : 'LOCAL_VECTORS']:
      config.vectorBackend === 'vectorize' ? !!env.VECTORIZE : !!env.LOCAL_VECTORS,
  };
  const missing = Object.keys(bindings).filter((name) => !bindings[name]);
  if (missing.length) {
    return misconfigured({
      setting: missing[0]!,
      problem: `the ${missing.join(', ')} binding${missing.length > 1 ? 's are' : ' is'} missing`,
      fix: 'declare it in wrangler.toml (each [env.*] repeats every binding: wrangler environments inherit none)',
    });
  }

  const started = Date.now();
  let reachable = true;
  let latestMigration: string | null = null;
  try {
    // D1's own record of applied migrations (wrangler d1 migrations apply, npm run db:migrate,
    // the tests' applyD1Migrations); the version is the newest file's number (src/db/schema-version.ts).
    const row = await env.DB.prepare(
      "SELECT name, CAST(substr(name, 1, instr(name, '_') - 1) AS INTEGER) AS version FROM d1_migrations ORDER BY version DESC, id DESC LIMIT 1",
    ).first<{ name: string; version: number }>();
    if (!row) return misconfigured(noMigrations());
    if (row.version < SCHEMA_VERSION) {
      return misconfigured({
        setting: 'DB',
        problem: `the database is at schema version ${row.version} (${row.name}) and this code needs ${SCHEMA_VERSION}: later migrations are not applied`,
        fix: MIGRATIONS_FIX,
      });
    }
    latestMigration = row.name;
  } catch (err) {
    if (misconfigurationOf(err)) return misconfigured(noMigrations());
    reachable = false;
  }
  const latencyMs = Date.now() - started;
  const status = reachable ? 'ok' : 'degraded';
  const body: Record<string, unknown> = { status };
  if (await mayReadDetails(request, env, config)) {
    Object.assign(body, { environment: config.environment, d1: { reachable, latencyMs, latestMigration }, bindings });
  }
  return Response.json(body, { status: reachable ? 200 : 503, headers: NO_STORE });
}

function noMigrations(): Misconfiguration {
  return { setting: 'DB', problem: 'the database has no migrations applied', fix: MIGRATIONS_FIX };
}

function misconfigured(m: Misconfiguration): Response {
  return Response.json({ status: 'misconfigured', ...m }, { status: 503, headers: NO_STORE });
}

/** HEALTHZ_TOKEN (compared in constant time) or a valid platform-admin JWT. Anything else: no details. */
async function mayReadDetails(request: Request, env: AppEnv, config: Config): Promise<boolean> {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '');
  if (!m) return false;
  const presented = m[1]!;
  if (env.HEALTHZ_TOKEN && (await sameSecret(presented, env.HEALTHZ_TOKEN))) return true;
  try {
    return (await verifyJwt(presented, config)).platformAdmin;
  } catch {
    return false;
  }
}

/** Constant-time comparison of SHA-256 digests (equal length whatever was sent). */
async function sameSecret(a: string, b: string): Promise<boolean> {
  const digest = async (s: string) => new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)));
  const [x, y] = await Promise.all([digest(a), digest(b)]);
  // workerd's non-standard constant-time compare (the DOM lib typing of SubtleCrypto lacks it).
  return (crypto.subtle as unknown as { timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean }).timingSafeEqual(x, y);
}
