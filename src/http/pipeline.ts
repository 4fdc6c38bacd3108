/**
 * The request pipeline for /graphql (DESIGN §1): body limit → admission (credential, host
 * tenant, tenant checks and the TenantGuard's decision, src/http/admission.ts) → Yoga with
 * a per-request context. Everything refused here answers with a GraphQL-shaped error and
 * the right HTTP status. Built once per isolate: config, directory, Yoga; per request only
 * what depends on the request.
 */
import { directory } from '../auth/directory';
import { createRequestContext } from '../context';
import { loadAdmissionDirect } from '../db/admission-store';
import { parseSettings } from '../db/repositories/tenant';
import { isProductionEnv, loadConfig, type AppEnv } from '../env';
import { AppError } from '../lib/errors';
import { createLogger, errorDetail } from '../lib/log';
import { misconfigurationOf, misconfiguredError } from '../lib/misconfiguration';
import { requestStore } from '../lib/request-store';
import type { AdmitResult } from '../objects/guard-types';
import { BOOKMARK_HEADER, createRoot } from '../tenant-session';
import { yogaFor } from '../yoga';
import { recordActivityDirect } from './activity';
import { admit, hostTenant, Refusal, type AdmissionDeps } from './admission';
import { limitBody } from './body';
import { corsHeaders, isAllowedOrigin } from './cors';
import { tenantFromHost } from './host';
import { spendPreauth } from './preauth';
import { withRateLimitExtension } from './rate-limit-headers';
import { requestIdFor } from './request-id';
import { errorResponse } from './responses';

export async function handleGraphQL(request: Request, env: AppEnv, exec: ExecutionContext): Promise<Response> {
  const requestId = requestIdFor(request, env.ENVIRONMENT === 'production');
  let log = createLogger(requestId);
  let headers: Record<string, string> = {};
  let admission: AdmitResult | null = null;
  try {
    const config = loadConfig(env);
    const root = createRoot(env, { log, waitUntil: (p) => exec.waitUntil(p), bookmark: request.headers.get(BOOKMARK_HEADER) });
    const deps: AdmissionDeps = {
      config, db: root.catalogue, platform: root.platform, directory, log,
      // The tenant's guard in its placement's jurisdiction: the same object the session and jobs reach.
      guardFor: config.guardEnabled ? (tenantId) => root.guards.forTenant(tenantId) : null,
      beforeLookup: () => spendPreauth(env.PREAUTH_LIMITER, request),
    };

    if (request.method === 'OPTIONS') return await preflight(request, env, deps);
    if (request.method !== 'GET' && request.method !== 'POST') {
      throw new AppError('BAD_USER_INPUT', 'Use GET (queries) or POST');
    }

    const { request: body, bytes } = await limitBody(request, config.maxBodyBytes);
    const admitted = await admit(body, bytes, deps);
    ({ headers, admission } = admitted);
    const { principal, tenant } = admitted;
    // From here on every log line of the request names its tenant.
    if (tenant) log = log.with({ tenantId: tenant.id });

    // Guard off: bookkeeping here, coalesced per isolate (with the guard, the guard does it).
    if (tenant && !admitted.guard) exec.waitUntil(recordActivityDirect(root.catalogue, tenant, principal, requestId, log));

    // The tenant session (placement database, bucket, vectors) reuses the admitting guard.
    const ctx = await createRequestContext({
      root: { ...root, log }, requestId, principal, tenant, limits: admitted.limits, guard: admitted.guard, rateLimit: admission, usage: admitted.usage,
    });
    const yoga = yogaFor({ introspection: config.introspection, production: isProductionEnv(env) });
    const response = await requestStore.run({ requestId, log }, () => yoga.fetch(body, { app: ctx }));
    if (response.status === 415) {
      // Yoga answers an unsupported content type with an empty body: give it the error contract.
      const err = new AppError('BAD_USER_INPUT', 'Unsupported content type: send application/json, application/graphql or multipart/form-data');
      const plain = errorResponse(err, requestId, headers);
      const res = new Response(plain.body, { status: 415, headers: plain.headers });
      return admission ? withRateLimitExtension(res, admission) : res;
    }
    // The D1 Sessions bookmark after this request's tenant-data queries (docs/placement.md).
    const bookmark = ctx.session?.store.bookmark();
    return withHeaders(response, { ...headers, 'x-request-id': requestId, ...(bookmark ? { [BOOKMARK_HEADER]: bookmark } : {}) });
  } catch (caught) {
    let err = caught;
    if (err instanceof Refusal) {
      headers = err.headers;
      admission = err.admission;
      err = err.error;
    }
    if (err instanceof AppError) {
      const res = errorResponse(err, requestId, headers);
      // A refusal carries the guard's figures in the body too, like every admitted response.
      return admission ? withRateLimitExtension(res, admission) : res;
    }
    const misconfigured = misconfigurationOf(err);
    if (misconfigured) {
      // Not a bug but a deployment to fix: say so (503), never a masked 500.
      log.error('configuration error', { ...misconfigured, ...errorDetail(err) });
      return errorResponse(misconfiguredError(misconfigured, requestId, isProductionEnv(env)), requestId, headers);
    }
    log.error('request failed', errorDetail(err));
    return errorResponse(new AppError('INTERNAL_SERVER_ERROR', 'Unexpected error.'), requestId, headers);
  }
}

/**
 * Preflight carries no credential: allow only origins of the base domain or of the host's
 * tenant, read from the guard's record (or D1 with the guard off), so a removed origin is
 * refused on the very next preflight.
 */
async function preflight(request: Request, env: AppEnv, deps: AdmissionDeps): Promise<Response> {
  const origin = request.headers.get('origin');
  const host = tenantFromHost(request.headers.get('host') ?? new URL(request.url).host, deps.config.baseDomain);
  let origins: string[] = [];
  const domain = host.kind === 'domain' ? host.domain : null;
  const originsOf = async (tenantId: string): Promise<string[] | null> => {
    if (deps.guardFor) return deps.guardFor(tenantId).allowedOrigins(domain);
    const { record } = await loadAdmissionDirect(deps.db, tenantId, null);
    if (record && domain && !record.domains.includes(domain)) return null;
    return record ? parseSettings(record.tenant).allowedOrigins ?? [] : [];
  };
  let tenantId = origin ? await hostTenant(host, deps) : null;
  let found = tenantId ? await originsOf(tenantId) : [];
  if (found === null && domain) {
    // The isolate mapped the domain to a tenant that no longer has it: resolve it once more.
    deps.directory.forgetDomain(domain);
    tenantId = await hostTenant(host, deps);
    found = tenantId ? await originsOf(tenantId) : [];
  }
  origins = found ?? [];
  const allowed = !!origin && isAllowedOrigin(origin, deps.config.baseDomain, origins);
  return new Response(null, { status: allowed ? 204 : 403, headers: corsHeaders(origin, allowed) });
}

function withHeaders(res: Response, headers: Record<string, string>): Response {
  const out = new Response(res.body, res);
  for (const [k, v] of Object.entries(headers)) out.headers.set(k, v);
  return out;
}
