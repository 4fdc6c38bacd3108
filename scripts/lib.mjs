// Shared helpers for the dev scripts (Node 22 via the `node` devDependency).
import { readFileSync, existsSync } from 'node:fs';
import { SignJWT } from 'jose';

export function readDevVars(path = '.dev.vars') {
  const file = existsSync(path) ? path : '.dev.vars.example';
  const vars = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}

/** Mints an HS256 dev token with the claims of DESIGN §4. */
export async function mintToken({ secret, tenant, role = 'admin', sub, hours = 24 * 30, platformAdmin = false, scope, collectionIds, agentIds }) {
  const claims = { role };
  if (tenant) claims.tenant_id = tenant;
  if (platformAdmin) claims.platform_admin = true;
  if (scope) claims.scope = scope;
  if (collectionIds) claims.collection_ids = collectionIds;
  if (agentIds) claims.agent_ids = agentIds;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub ?? `dev-${role}@${tenant ?? 'platform'}`)
    .setIssuedAt()
    .setExpirationTime(`${hours}h`)
    .sign(new TextEncoder().encode(secret));
}
