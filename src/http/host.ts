/**
 * Host → tenant (DESIGN §4): `<slug>.<BASE_DOMAIN>`, `<slug>.localhost` in development,
 * or a registered custom domain. The bare base domain, localhost and IP hosts name no
 * tenant: the credential's tenant is used there.
 */
export type HostTenant = { kind: 'none' } | { kind: 'slug'; slug: string } | { kind: 'domain'; domain: string };

export function tenantFromHost(hostHeader: string | null, baseDomain: string): HostTenant {
  if (!hostHeader) return { kind: 'none' };
  const host = hostHeader.toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  if (!host || host === baseDomain || host === 'localhost' || /^[\d.]+$/.test(host) || host.startsWith('[')) {
    return { kind: 'none' };
  }
  for (const base of new Set([baseDomain, 'localhost'])) {
    if (host.endsWith(`.${base}`)) {
      const label = host.slice(0, -(base.length + 1));
      // Only one label: `a.b.example.com` is not a tenant of example.com.
      if (label && !label.includes('.')) return { kind: 'slug', slug: label };
      return { kind: 'none' };
    }
  }
  // Cloudflare-owned hosts (the deployment's workers.dev address) name no tenant.
  if (host.endsWith('.workers.dev')) return { kind: 'none' };
  return { kind: 'domain', domain: host };
}
