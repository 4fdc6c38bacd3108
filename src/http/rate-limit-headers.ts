/**
 * RateLimit headers per the IETF httpapi ratelimit-headers draft (structured fields):
 *   RateLimit-Policy: "tenant";q=60;w=60
 *   RateLimit: "tenant";r=59;t=1
 * https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/
 */
import type { AdmitResult } from '../objects/guard-types';

export function rateLimitHeaders(r: AdmitResult): Record<string, string> {
  const h: Record<string, string> = {
    'ratelimit-policy': `"${r.policy}";q=${r.limit};w=60`,
    ratelimit: `"${r.policy}";r=${Math.max(0, r.remaining)};t=${Math.max(0, Math.ceil(r.resetSeconds))}`,
  };
  if (!r.allowed) h['retry-after'] = String(Math.max(1, Math.ceil(r.retryAfterSeconds)));
  return h;
}

/** The same figures for `extensions.rateLimit` of the GraphQL response. */
export function rateLimitExtension(r: AdmitResult) {
  return {
    policy: r.policy,
    limit: r.limit,
    remaining: Math.max(0, r.remaining),
    resetSeconds: Math.max(0, Math.ceil(r.resetSeconds)),
  };
}
