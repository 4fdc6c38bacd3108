/**
 * CORS (DESIGN §9): an origin is allowed when it is the base domain or one of its
 * subdomains, or listed in the tenant's settings. Unknown origins get no CORS headers
 * at all, so browsers never expose responses (or credentials) to them.
 */
export function isAllowedOrigin(origin: string, baseDomain: string, tenantOrigins: string[]): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (tenantOrigins.includes(url.origin)) return true;
  const host = url.hostname.toLowerCase();
  if (url.protocol !== 'https:' && !(host === 'localhost' || host.endsWith('.localhost'))) return false;
  return host === baseDomain || host.endsWith(`.${baseDomain}`);
}

export function corsHeaders(origin: string | null, allowed: boolean): Record<string, string> {
  if (!origin || !allowed) return {};
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-credentials': 'true',
    'access-control-allow-headers': 'authorization, content-type, x-api-key, x-request-id, x-edgerag-bookmark',
    'access-control-allow-methods': 'GET, POST, OPTIONS',
    'access-control-expose-headers': 'ratelimit, ratelimit-policy, retry-after, x-request-id, x-edgerag-bookmark',
    'access-control-max-age': '600',
    vary: 'Origin',
  };
}
