/**
 * GET /healthz.
 *
 * - Anyone: `{ status: 'ok' }` (200) or `{ status: 'degraded' }` (503), and nothing about
 *   the deployment: no database name, latency or binding names (a probe needs no more).
 * - `Authorization: Bearer <HEALTHZ_TOKEN>` (a secret; optional) or a platform-admin JWT:
 *   also the checks (environment, each placement database reachable with its latency and
 *   latest applied migration, the failing placements, bindings).
 * - Every configured D1 placement database counts (PLACEMENTS and the catalogue DB): one
 *   unreachable is `degraded` for everyone (the details name it); one behind the schema is a
 *   misconfiguration naming its placement and binding.
 * - A configuration problem answers 503 `{ status: 'misconfigured', setting, problem, fix }`
 *   to anyone: a missing or bad var or secret, a missing binding, or a database whose
 *   migrations are not (all) applied. Saying which setting is wrong tells a prober nothing it can
 *   use, and it is what the person who just ran `wrangler dev` or `wrangler deploy` needs.
 */
import { verifyJwt } from '../auth/jwt';
import { SCHEMA_VERSION, versionOf } from '../db/schema-version';
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

  // Every configured D1 placement database (the catalogue DB is `shared`), in parallel: each
  // must be reachable and at the code's schema version. libSQL tenant databases are not dialled
  // here (one per dedicated tenant, over the network): each is checked when a session first
  // opens it (src/placement/store.ts) and migrated by `npm run db:migrate`.
  const databases = config.placements.entries.filter((e) => e.backend === 'd1');
  const checks = await Promise.all(databases.map((e) => checkDatabase(e.id, e.database!, (env as unknown as Record<string, D1Database>)[e.database!]!)));
  const wrong = checks.find((c) => c.misconfigured);
  if (wrong?.misconfigured) return misconfigured(wrong.misconfigured);
  const failing = checks.filter((c) => !c.reachable).map((c) => c.placement);
  const reachable = failing.length === 0;
  const body: Record<string, unknown> = { status: reachable ? 'ok' : 'degraded' };
  if (await mayReadDetails(request, env, config)) {
    const catalogue = checks[0]!;
    Object.assign(body, {
      environment: config.environment,
      d1: { reachable: catalogue.reachable, latencyMs: catalogue.latencyMs, latestMigration: catalogue.latestMigration },
      placements: Object.fromEntries(checks.map((c) => [c.placement, { binding: c.binding, reachable: c.reachable, latencyMs: c.latencyMs, latestMigration: c.latestMigration }])),
      ...(failing.length ? { failing } : {}),
      bindings,
    });
  }
  return Response.json(body, { status: reachable ? 200 : 503, headers: NO_STORE });
}

interface DatabaseCheck {
  placement: string;
  binding: string;
  reachable: boolean;
  latencyMs: number;
  latestMigration: string | null;
  misconfigured: Misconfiguration | null;
}

/** One placement database: reachable, and its applied migrations against SCHEMA_VERSION. */
async function checkDatabase(placement: string, binding: string, db: D1Database): Promise<DatabaseCheck> {
  const started = Date.now();
  const out: DatabaseCheck = { placement, binding, reachable: true, latencyMs: 0, latestMigration: null, misconfigured: null };
  try {
    // D1's own record of applied migrations (wrangler d1 migrations apply, npm run db:migrate,
    // the tests' applyD1Migrations); the version is the newest file's number (src/db/schema-version.ts).
    const { results } = await db.prepare(
      "SELECT name, CAST(substr(name, 1, instr(name, '_') - 1) AS INTEGER) AS version FROM d1_migrations ORDER BY version DESC, id DESC",
    ).all<{ name: string; version: number }>();
    // The same rule as the sessions' check: a gap in the applied numbers counts as behind.
    const version = versionOf(results.map((r) => r.version));
    const at = results.find((r) => r.version === version) ?? results[0];
    if (!at) out.misconfigured = noMigrations(placement, binding);
    else if (version < SCHEMA_VERSION) {
      out.misconfigured = {
        setting: binding,
        problem: `${placement === 'shared' ? 'the database' : `the database of placement ${placement} (${binding})`} is at schema version ${version} (${at.name}) and this code needs ${SCHEMA_VERSION}: later migrations are not applied`,
        fix: fixFor(binding),
      };
    } else out.latestMigration = results[0]!.name;
  } catch (err) {
    if (misconfigurationOf(err)) out.misconfigured = noMigrations(placement, binding);
    else out.reachable = false;
  }
  out.latencyMs = Date.now() - started;
  return out;
}

/** The catalogue's fix is wrangler's own command; a placement database is migrated with all the others. */
function fixFor(binding: string): string {
  return binding === 'DB'
    ? MIGRATIONS_FIX
    : `apply the migrations to every database: npm run db:migrate (deployed: npm run db:migrate -- --remote), or npx wrangler d1 migrations apply ${binding} --local`;
}

function noMigrations(placement: string, binding: string): Misconfiguration {
  const which = placement === 'shared' ? 'the database' : `the database of placement ${placement} (${binding})`;
  return { setting: binding, problem: `${which} has no migrations applied`, fix: fixFor(binding) };
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
