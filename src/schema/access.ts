/**
 * Permission checks used by resolvers (DESIGN §4): viewers read; members read and
 * write content; admins and owners manage keys, members and settings. API keys also
 * need the scope for the capability (search, chat, ingest, admin); a JWT that carries a
 * `scope` claim is held to it the same way.
 */
import { roleAtLeast, type ApiKeyScope, type Role } from '../auth/principal';
import type { GraphQLContext, RequestContext } from '../context';
import { requireScope } from '../context';
import type { TenantScope } from '../db/tenant-scope';
import { AppError } from '../lib/errors';

export function allow(ctx: GraphQLContext, minRole: Role, capability?: ApiKeyScope): TenantScope {
  const app = ctx.app;
  const scope = requireScope(app);
  checkRole(app, minRole, capability);
  return scope;
}

export function checkRole(app: RequestContext, minRole: Role, capability?: ApiKeyScope): void {
  const p = app.principal;
  if (!roleAtLeast(p.role, minRole)) throw new AppError('FORBIDDEN', `This needs the ${minRole} role or higher`);
  if (capability && (p.kind === 'apiKey' || p.scopes.length > 0)) {
    // The admin scope implies every other scope.
    if (!p.scopes.includes(capability) && !p.scopes.includes('admin')) {
      throw new AppError('FORBIDDEN', `This needs the ${capability} scope`);
    }
  }
}

export function requirePlatformAdmin(ctx: GraphQLContext): RequestContext {
  if (!ctx.app.principal.platformAdmin) throw new AppError('FORBIDDEN', 'Platform administrators only');
  return ctx.app;
}
