/** Member removal (issue 15): removeMember / restoreMember; the `members` listing lives with the tenant (src/schema/tenant.ts). */
import { removeMember, restoreMember } from '../lifecycle/members';
import { allow } from './access';
import { builder } from './builder';
import { Member } from './tenant';

builder.mutationFields((t) => ({
  removeMember: t.field({
    type: Member,
    description:
      "Removes a user from this tenant (owner/admin): their tokens are refused here from the next request (FORBIDDEN, `extensions.reason` MEMBER_REMOVED), though the IdP still signs them; other tenants are unaffected and the role stays the IdP's claim. " +
      'Only users seen here (NOT_FOUND otherwise); not yourself (BAD_USER_INPUT); an owner only by an owner (FORBIDDEN). Idempotent; audited as member.remove.',
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_r, { userId }, ctx) => {
      const scope = allow(ctx, 'admin', 'admin');
      return removeMember(scope, ctx.app.services.guards.forTenant(scope.tenantId), String(userId));
    },
  }),
  restoreMember: t.field({
    type: Member,
    description: 'Lifts a removal (owner/admin; an owner only by an owner): the user is admitted again from the next request. Idempotent; audited as member.restore.',
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_r, { userId }, ctx) => {
      const scope = allow(ctx, 'admin', 'admin');
      return restoreMember(scope, ctx.app.services.guards.forTenant(scope.tenantId), String(userId));
    },
  }),
}));
