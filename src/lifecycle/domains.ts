/**
 * Verified custom domains (issue 15): the service behind `addDomain`, `verifyDomain`,
 * `removeDomain` and `domains`. A domain routes to its tenant only once verified; verifying
 * and removing change what admission reads (the TenantGuard's record lists the verified
 * domains), so both are bracketed by changeAdmission and apply on the next request on every
 * isolate (docs/guard.md "Members and domains").
 *
 * States: `pending` (added; the TXT record is not seen yet) → `verified` (routes) or
 * `failed` (the last check did not find the token; `failureReason` says why, and
 * verifyDomain may be called again). A verified domain stays verified until removeDomain.
 */
import type { DomainRow } from '../db/repositories/domains';
import type { TenantScope } from '../db/tenant-scope';
import { AppError } from '../lib/errors';
import { toBase64Url } from '../lib/ids';
import { changeAdmission } from '../objects/guard-client';
import { STANDING_RETRY_SECONDS, type GuardClient } from '../objects/guard-types';
import { normaliseDomain } from './domain-names';
import { judgeAnswer, type TxtResolver } from './domain-verification';

/** Domains (any state) a tenant may hold: verified ones sit in the guard's record, pending ones hold a claim. */
export const MAX_DOMAINS_PER_TENANT = 20;
/**
 * A claim never verified for this long may be taken over by another tenant's addDomain: whoever
 * really controls the DNS can always get the domain, a squatter cannot keep it pending forever.
 */
export const DOMAIN_CLAIM_TTL_MS = 7 * 24 * 60 * 60_000;

export interface DomainDeps {
  scope: TenantScope;
  guard: GuardClient;
  resolver: TxtResolver;
  baseDomain: string;
  /** Tells this isolate's directory that the domain's routing changed (the others find out through the guard). */
  routingChanged(domain: string): void;
  clock?: () => number;
}

export class DomainService {
  constructor(private readonly deps: DomainDeps) {}

  list(): Promise<DomainRow[]> {
    this.deps.scope.requireUnrestricted('manage domains');
    return this.deps.scope.domains.list();
  }

  /**
   * Registers `raw` as a pending domain of this tenant and returns it with its TXT token. Adding
   * a domain the tenant already has returns it unchanged (same token). BAD_USER_INPUT (field
   * `domain`) when it is malformed or another tenant holds it; QUOTA_EXCEEDED past
   * MAX_DOMAINS_PER_TENANT.
   */
  async add(raw: string): Promise<DomainRow> {
    const { scope } = this.deps;
    scope.requireUnrestricted('manage domains');
    const domain = normaliseDomain(raw, this.deps.baseDomain);
    const token = toBase64Url(crypto.getRandomValues(new Uint8Array(18)));
    const staleBefore = new Date(this.now() - DOMAIN_CLAIM_TTL_MS).toISOString();
    const out = await scope.domains.add(domain, token, MAX_DOMAINS_PER_TENANT, staleBefore);
    if (out.kind === 'added' || out.kind === 'own') return out.row;
    if (out.kind === 'taken') throw new AppError('BAD_USER_INPUT', `${domain} is already registered by another tenant`, { field: 'domain' });
    throw new AppError('QUOTA_EXCEEDED', `A tenant can have at most ${MAX_DOMAINS_PER_TENANT} domains: remove one with removeDomain first`, {
      quota: 'domains', limit: MAX_DOMAINS_PER_TENANT, used: (await scope.domains.list()).length, retryAfter: STANDING_RETRY_SECONDS,
    });
  }

  /**
   * Looks the TXT record up and records the outcome. A verified domain is returned as it is
   * (no lookup). UPSTREAM_UNAVAILABLE, with nothing recorded, when the resolver cannot answer.
   */
  async verify(raw: string): Promise<DomainRow> {
    const { scope, guard } = this.deps;
    scope.requireUnrestricted('manage domains');
    const domain = normaliseDomain(raw, this.deps.baseDomain);
    const row = await this.own(domain);
    if (row.status === 'verified') return row;
    // Only a row written by hand lacks a token; there is nothing to look for.
    if (!row.verificationToken) throw new AppError('BAD_USER_INPUT', `${domain} has no verification token: remove it and add it again`, { field: 'domain' });
    const token = row.verificationToken;
    let verdict;
    try {
      verdict = judgeAnswer(await this.deps.resolver.txt(`_edgerag-challenge.${domain}`), domain, token);
    } catch (err) {
      throw new AppError('UPSTREAM_UNAVAILABLE', `could not look up the TXT record of ${domain}: the DNS resolver is unavailable, try again`, { field: 'domain' }, { cause: err });
    }
    const write = () => scope.domains.recordCheck(domain, token, verdict);
    // Only a verified domain enters the guard's record: a failed check changes nothing it reads.
    const updated = verdict.status === 'verified' ? await changeAdmission(guard, write) : await write();
    if (verdict.status === 'verified') this.deps.routingChanged(domain);
    // Removed (or removed and added again) while DNS answered: the caller sees the row as it is now.
    if (!updated) throw new AppError('NOT_FOUND', 'Domain not found');
    return updated;
  }

  /** Removes a domain of this tenant; it stops routing on the next request. NOT_FOUND for any other. */
  async remove(raw: string): Promise<boolean> {
    const { scope, guard } = this.deps;
    scope.requireUnrestricted('manage domains');
    const domain = normaliseDomain(raw, this.deps.baseDomain);
    await this.own(domain);
    const removed = await changeAdmission(guard, () => scope.domains.remove(domain));
    this.deps.routingChanged(domain);
    if (!removed) throw new AppError('NOT_FOUND', 'Domain not found');
    return true;
  }

  /** This tenant's row, or NOT_FOUND: another tenant's domain looks exactly like an unknown one. */
  private async own(domain: string): Promise<DomainRow> {
    const row = await this.deps.scope.domains.get(domain);
    if (!row) throw new AppError('NOT_FOUND', 'Domain not found');
    return row;
  }

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }
}
