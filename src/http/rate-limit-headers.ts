/**
 * RateLimit headers per the IETF httpapi ratelimit-headers draft (structured-field lists,
 * one item per policy, the deciding policy first):
 *   RateLimit-Policy: "tenant";q=60;w=60, "user";q=60;w=60, "monthly";q=1000;w=2592000
 *   RateLimit: "tenant";r=59;t=1, "user";r=59;t=1, "monthly";r=990;t=1234567
 * https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/
 */
import type { AdmitResult, PolicyState } from '../objects/guard-types';

/** The policies of a result, deciding policy first (older results carry only the deciding one). */
function policiesOf(r: AdmitResult): PolicyState[] {
  const decider: PolicyState = {
    name: r.policy, limit: r.limit, remaining: r.remaining, resetSeconds: r.resetSeconds, windowSeconds: r.windowSeconds ?? 60,
  };
  return [decider, ...(r.policies ?? []).filter((p) => p.name !== r.policy)];
}

// Structured-field integers: no fractions, no negatives.
const int = (n: number) => Math.max(0, Math.floor(n));
const ceil = (n: number) => Math.max(0, Math.ceil(n));

/** `RateLimit-Policy`, `RateLimit` and, on a refusal, `Retry-After`. */
export function rateLimitHeaders(r: AdmitResult): Record<string, string> {
  const ps = policiesOf(r);
  const h: Record<string, string> = {
    'ratelimit-policy': ps.map((p) => `"${p.name}";q=${int(p.limit)};w=${ceil(p.windowSeconds)}`).join(', '),
    ratelimit: ps.map((p) => `"${p.name}";r=${int(p.remaining)};t=${ceil(p.resetSeconds)}`).join(', '),
  };
  if (!r.allowed) h['retry-after'] = String(Math.max(1, Math.ceil(r.retryAfterSeconds)));
  return h;
}

/** The same figures for `extensions.rateLimit` of the GraphQL response. */
export function rateLimitExtension(r: AdmitResult) {
  return {
    policy: r.policy,
    limit: int(r.limit),
    remaining: int(r.remaining),
    resetSeconds: ceil(r.resetSeconds),
    ...(r.allowed ? {} : { retryAfter: Math.max(1, Math.ceil(r.retryAfterSeconds)) }),
    policies: policiesOf(r).map((p) => ({
      policy: p.name, limit: int(p.limit), remaining: int(p.remaining), resetSeconds: ceil(p.resetSeconds), windowSeconds: ceil(p.windowSeconds),
    })),
  };
}

/**
 * Adds `extensions.rateLimit` to a JSON error response built before Yoga ran (the
 * admission refusal itself), so refused clients read the same figures as admitted ones.
 */
export async function withRateLimitExtension(res: Response, r: AdmitResult): Promise<Response> {
  let body: { extensions?: Record<string, unknown> } & Record<string, unknown>;
  try {
    body = (await res.clone().json()) as typeof body;
  } catch {
    return res;
  }
  body.extensions = { ...body.extensions, rateLimit: rateLimitExtension(r) };
  return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
}
