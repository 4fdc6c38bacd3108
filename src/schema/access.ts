/**
 * Permission checks used by resolvers (DESIGN §4): viewers read; members read and
 * write content; admins and owners manage keys, members and settings. API keys also
 * need a scope for the capability (search, chat, ingest, admin); a JWT that carries a
 * `scope` claim is held to it the same way, and a JWT without one is unrestricted.
 */
import { roleAtLeast, type ApiKeyScope, type Role } from '../auth/principal';
import type { GraphQLContext, RequestContext } from '../context';
import { requireScope } from '../context';
import type { TenantScope } from '../db/tenant-scope';
import { AppError } from '../lib/errors';

/**
 * Reading the document catalogue (collections, documents, document(id)): a key that may
 * ingest manages it, and a key that may search already sees document names in its hits.
 * A chat-only key gets neither.
 */
export const READ_DOCUMENTS: readonly ApiKeyScope[] = ['ingest', 'search'];

/**
 * The tenant scope, after checking the caller's role and, for scoped credentials, that it
 * holds `capability` (or one of them, when a list is given; `admin` implies them all).
 */
export function allow(ctx: GraphQLContext, minRole: Role, capability?: ApiKeyScope | readonly ApiKeyScope[]): TenantScope {
  const app = ctx.app;
  const scope = requireScope(app);
  checkRole(app, minRole, capability);
  return scope;
}

export function checkRole(app: RequestContext, minRole: Role, capability?: ApiKeyScope | readonly ApiKeyScope[]): void {
  const p = app.principal;
  if (!roleAtLeast(p.role, minRole)) throw new AppError('FORBIDDEN', `This needs the ${minRole} role or higher`);
  if (capability && (p.kind === 'apiKey' || p.scopes.length > 0)) {
    const anyOf: readonly string[] = typeof capability === 'string' ? [capability] : capability;
    // The admin scope implies every other scope.
    if (!p.scopes.includes('admin') && !anyOf.some((c) => p.scopes.includes(c))) {
      throw new AppError('FORBIDDEN', `This needs the ${anyOf.join(' or ')} scope`);
    }
  }
}

export function requirePlatformAdmin(ctx: GraphQLContext): RequestContext {
  if (!ctx.app.principal.platformAdmin) throw new AppError('FORBIDDEN', 'Platform administrators only');
  return ctx.app;
}
