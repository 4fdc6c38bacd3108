/**
 * Pre-authentication limit (docs/guard.md): before the Worker asks D1 about a name it does
 * not know (an API key prefix or a tenant host missing from the isolate's directory), the
 * client IP spends one unit of the Workers Rate Limiting binding PREAUTH_LIMITER
 * (wrangler.toml `[[ratelimits]]`; it runs in workerd locally too). Known keys and hosts
 * are answered from memory and spend nothing, so real clients never meet this limit; a
 * flood of random `erk_…` keys or guessed subdomains does, after PREAUTH_LIMIT per period.
 * Together with the directory's brief negative cache, the shared database sees a bounded
 * number of lookups per client address.
 *
 * The client address is `cf-connecting-ip`, which Cloudflare sets on every request (clients
 * cannot forge it there). A request without it (local `wrangler dev`, tests, a self-hosted
 * workerd with no proxy setting it) is not limited here; a self-hosted deployment must set
 * the header at its proxy.
 */
import { AppError } from '../lib/errors';

/** The binding's period (wrangler.toml `simple.period`): what a refused client is told to wait. */
export const PREAUTH_PERIOD_SECONDS = 60;

/** Spends one pre-auth unit for this request's client address; RATE_LIMITED (429) when its budget is gone. */
export async function spendPreauth(limiter: RateLimit | undefined, request: Request): Promise<void> {
  const ip = request.headers.get('cf-connecting-ip');
  if (!limiter || !ip) return;
  const { success } = await limiter.limit({ key: `preauth:${ip}` });
  if (!success) {
    throw new AppError('RATE_LIMITED', 'Too many unknown credentials or hosts from this address', {
      retryAfter: PREAUTH_PERIOD_SECONDS,
      policy: 'preauth',
    });
  }
}
