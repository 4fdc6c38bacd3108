/** Verified custom domains (issue 15): addDomain, verifyDomain, removeDomain, domains. */
import type { DomainRow } from '../db/repositories/domains';
import { challengeName, challengeValue } from '../lifecycle/domain-verification';
import type { DomainService } from '../lifecycle/domains';
import { AppError } from '../lib/errors';
import type { GraphQLContext } from '../context';
import { allow } from './access';
import { builder } from './builder';
import { upper } from './enums';

const DomainStatusEnum = builder.enumType('DomainStatus', {
  description: 'PENDING: added, TXT record not seen yet. VERIFIED: routes to the tenant. FAILED: the last check did not find the token (see failureReason; verifyDomain again).',
  values: ['PENDING', 'VERIFIED', 'FAILED'] as const,
});

interface TxtRecord {
  name: string;
  value: string;
}

const DomainVerificationRecord = builder.objectRef<TxtRecord>('DomainVerificationRecord').implement({
  description: 'The DNS record that proves ownership: publish it, then call verifyDomain.',
  fields: (t) => ({
    type: t.string({ resolve: () => 'TXT' }),
    name: t.exposeString('name', { description: '`_edgerag-challenge.<domain>`' }),
    value: t.exposeString('value', { description: '`edgerag-verification=<token>`' }),
  }),
});

const Domain = builder.objectRef<DomainRow>('Domain').implement({
  description: 'A custom domain of this tenant. Only VERIFIED domains route requests to the tenant.',
  fields: (t) => ({
    domain: t.exposeString('domain', { description: 'Lower case, IDN labels as punycode (as a Host header carries it).' }),
    status: t.field({ type: DomainStatusEnum, resolve: (d) => upper(d.status) }),
    verificationRecord: t.field({
      type: DomainVerificationRecord,
      nullable: true,
      description: 'null for a domain an operator registered by hand in SQL (verified without a token).',
      resolve: (d) => (d.verificationToken ? { name: challengeName(d.domain), value: challengeValue(d.verificationToken) } : null),
    }),
    failureReason: t.exposeString('failureReason', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (d) => d.createdAt }),
    checkedAt: t.field({ type: 'DateTime', nullable: true, description: 'The last verifyDomain lookup.', resolve: (d) => d.checkedAt }),
    verifiedAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.verifiedAt }),
  }),
});

/** The domain service of the caller's tenant, after the owner/admin check. */
function domainsOf(ctx: GraphQLContext): DomainService {
  allow(ctx, 'admin', 'admin');
  const service = ctx.app.services.domains;
  if (!service) throw new AppError('FORBIDDEN', 'This operation needs a tenant: call it on the tenant host');
  return service;
}

builder.queryFields((t) => ({
  domains: t.field({
    type: [Domain],
    description: "This tenant's custom domains, every state (owner/admin).",
    resolve: (_r, _a, ctx) => domainsOf(ctx).list(),
  }),
}));

builder.mutationFields((t) => ({
  addDomain: t.field({
    type: Domain,
    description:
      'Registers a custom domain as PENDING and returns the TXT record to publish (owner/admin). Adding one the tenant has returns it unchanged. ' +
      'BAD_USER_INPUT (field domain) when malformed (an IP, localhost, BASE_DOMAIN or a name under it, too long) or registered by another tenant.',
    args: { domain: t.arg.string({ required: true }) },
    resolve: (_r, { domain }, ctx) => domainsOf(ctx).add(domain),
  }),
  verifyDomain: t.field({
    type: Domain,
    description: 'Looks the TXT record up (DNS over HTTPS) and sets VERIFIED or FAILED with a reason (owner/admin). A verified domain routes from the next request.',
    args: { domain: t.arg.string({ required: true }) },
    resolve: (_r, { domain }, ctx) => domainsOf(ctx).verify(domain),
  }),
  removeDomain: t.field({
    type: 'Boolean',
    description: 'Removes a custom domain of this tenant (owner/admin); it stops routing from the next request. NOT_FOUND for a domain the tenant does not have.',
    args: { domain: t.arg.string({ required: true }) },
    resolve: (_r, { domain }, ctx) => domainsOf(ctx).remove(domain),
  }),
}));
