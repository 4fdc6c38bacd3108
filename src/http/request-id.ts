/**
 * The request id that ties a response, its log lines and its audit rows together.
 *
 * On Cloudflare the edge sets `cf-ray` (16 hex digits, '-', the data centre's IATA code,
 * e.g. `8f1e2d3c4b5a6978-AMS`) and overwrites whatever a client sent, so reusing it lets
 * an operator find the request in Cloudflare's own logs. Anywhere else (wrangler dev,
 * tests, self-hosted workerd) the header is whatever the client typed: an 8 KB value
 * would be stored in every audit row, and another tenant's ray id could be forged into
 * ours. So the header is used only on Cloudflare and only in its real shape; otherwise
 * the id is a fresh UUID.
 */

/** A Cloudflare ray id: 16 lowercase hex digits, '-', a 3-letter data-centre code (20 characters). */
const CF_RAY = /^[0-9a-f]{16}-[A-Z]{3}$/;

/**
 * The id of this request. `production` is the deployment's configuration; the request
 * must also carry Cloudflare's `request.cf` object (absent in self-hosted workerd, where
 * no edge stands in front to overwrite the header).
 */
export function requestIdFor(request: Request, production: boolean): string {
  const ray = request.headers.get('cf-ray');
  const onCloudflare = production && typeof (request as { cf?: unknown }).cf === 'object' && (request as { cf?: unknown }).cf !== null;
  if (onCloudflare && ray !== null && ray.length === 20 && CF_RAY.test(ray)) return ray;
  return crypto.randomUUID();
}
