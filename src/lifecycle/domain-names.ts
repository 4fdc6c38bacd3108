/**
 * Custom domain names as a tenant types them, normalised to what a Host header carries and
 * what tenant_domains stores: lower case, no trailing dot, IDN labels as punycode (the WHATWG
 * URL host parser, https://url.spec.whatwg.org/#host-parsing, does the IDNA mapping), so
 * `Dökümanlar.Example.` and `xn--dkmanlar-...example` are the same domain. Everything that
 * could never route to a tenant is refused with BAD_USER_INPUT naming the field.
 */
import { badInput } from '../lib/errors';

/** RFC 1035: a name is at most 253 characters in text form, a label at most 63. */
export const MAX_DOMAIN_LENGTH = 253;
const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The canonical form of `raw`, or BAD_USER_INPUT (`field`): a host name only (no scheme, port,
 * path or user), at least two labels, not an IP address, not localhost, not the deployment's
 * own BASE_DOMAIN or a name under it (those are tenant subdomains already), not workers.dev.
 */
export function normaliseDomain(raw: string, baseDomain: string, field = 'domain'): string {
  const bad = (why: string) => badInput(`${field} ${why}`, field);
  const input = raw.trim();
  if (!input) throw bad('is empty');
  if (input.length > MAX_DOMAIN_LENGTH * 4) throw bad(`must be at most ${MAX_DOMAIN_LENGTH} characters`);
  // A host only: the URL parser would otherwise quietly take a port, a path or a user away.
  if (/[/\\?#@:\s[\]%*]/.test(input)) throw bad('must be a host name like docs.example.com (no scheme, port, path or wildcard)');
  let host: string;
  try {
    host = new URL(`http://${input}/`).hostname;
  } catch {
    throw bad('is not a valid host name');
  }
  host = host.replace(/\.$/, '');
  if (host.length > MAX_DOMAIN_LENGTH) throw bad(`must be at most ${MAX_DOMAIN_LENGTH} characters (as punycode)`);
  const labels = host.split('.');
  // The parser turns numeric forms (1.2.3.4, 0x7f.1, 2130706433) into dotted IPv4.
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) throw bad('must be a host name, not an IP address');
  if (labels.length < 2) throw bad('must have at least two labels, like example.com');
  if (!labels.every((l) => LABEL_RE.test(l))) throw bad('must be made of DNS labels (letters, digits, hyphens; at most 63 characters each)');
  if (/^\d+$/.test(labels[labels.length - 1]!)) throw bad('must end in a top-level domain, not a number');
  const base = baseDomain.toLowerCase();
  for (const reserved of new Set([base, 'localhost', 'workers.dev'])) {
    if (host === reserved || host.endsWith(`.${reserved}`)) throw bad(`cannot be ${reserved} or a name under it`);
  }
  return host;
}
