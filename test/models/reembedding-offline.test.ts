/**
 * A change of the deployment's embedding on the offline provider (no key): EMBEDDING_DIMENSIONS
 * 384 → 256 applied with reembedTenants. Tenants keep the dimension their vectors have until
 * the job switches them; a tenant without vectors takes the new one at once.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/log';
import { REEMBED_PRINCIPAL } from '../../src/rag/reembed-consumer';
import { createRoot, openTenantSession } from '../../src/tenant-session';
import { ingestProcessed } from '../documents/doc-helpers';
import { createTenant, signToken, twoTenants } from '../helpers';
import { jobDeps, postHeld, runToIdle, spaceOf, statusOf } from './reembed-helpers';

const CHANGED = { EMBEDDING_DIMENSIONS: '256' };
const REEMBED = 'mutation { reembedTenants(first: 100) { results { tenant { id } outcome } } }';

async function outcomes(overrides: Record<string, unknown>) {
  const r = await postHeld(REEMBED, {}, await signToken({ platform_admin: true, role: 'owner' }, { sub: 'operator' }), overrides);
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return new Map((r.body.data.reembedTenants.results as { tenant: { id: string }; outcome: string }[]).map((x) => [x.tenant.id, x.outcome]));
}

async function vectorHits(token: string, query: string, overrides: Record<string, unknown>) {
  const r = await postHeld('query($i: SearchInput!) { search(input: $i) { hits { text } } }', { i: { query, mode: 'VECTOR' } }, token, overrides);
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data.search.hits as { text: string }[];
}

describe('deployment dimension change, offline embedder', () => {
  it('search keeps the recorded 384 dimensions after the configuration says 256, until the job switches the tenant', async () => {
    const [a, b] = await twoTenants();
    await ingestProcessed(a, { name: 'a.md', text: '# Lockers\n\nLockers open with the blue badge.' });
    expect(await spaceOf(a.id, 0)).toMatchObject({ dimensions: 384, vectorCount: 1 });

    expect((await vectorHits(a.token, 'blue badge lockers', CHANGED))[0]?.text).toContain('blue badge');
    const first = await outcomes(CHANGED);
    expect([first.get(a.id), first.get(b.id)]).toEqual(['STARTED', 'RECORDED']);
    expect((await statusOf(a.token, CHANGED)).embedding).toEqual({ model: 'offline-hashing-v1', dimensions: 384, generation: 0 });
    expect((await vectorHits(a.token, 'blue badge lockers', CHANGED))[0]?.text).toContain('blue badge');

    await runToIdle(jobDeps({}, CHANGED), a.id);
    expect(await statusOf(a.token, CHANGED)).toMatchObject({
      embedding: { model: 'offline-hashing-v1', dimensions: 256, generation: 1 },
      reembedding: { status: 'COMPLETED', done: 1, total: 1, cleanedUp: true },
    });
    expect(await spaceOf(a.id, 1)).toEqual({ dimensions: 256, vectorCount: 1 });
    expect(await spaceOf(a.id, 0)).toMatchObject({ vectorCount: 0 });
    expect((await vectorHits(a.token, 'blue badge lockers', CHANGED))[0]?.text).toContain('blue badge');
    // B had no vectors: it was recorded on the new dimension, and the record (not whatever the
    // configuration of a later request says) decides how its documents are embedded.
    await ingestProcessed(b, { name: 'b.md', text: 'Visitors sign in at the front desk.' });
    expect((await statusOf(b.token)).embedding).toEqual({ model: 'offline-hashing-v1', dimensions: 256, generation: 0 });
    expect(await spaceOf(b.id, 0)).toEqual({ dimensions: 256, vectorCount: 1 });
    expect((await outcomes(CHANGED)).get(a.id)).toBe('CURRENT');
  });

  it('on a one-dimension index (Vectorize) a dimension change is NEEDS_INDEX and nothing starts', async () => {
    const t = await createTenant();
    await ingestProcessed(t, { name: 'a.md', text: 'Badges are blue.' });
    const root = createRoot({ ...env, ...CHANGED } as never, { log: createLogger('test') });
    const tenant = (await root.platform.tenantById(t.id))!;
    const session = await openTenantSession(root, tenant, { ...REEMBED_PRINCIPAL, tenantRef: t.id }, 'test');
    const target = { model: 'offline-hashing-v1', dimensions: 256, baseUrl: null, apiKeySealed: null, keyId: null };
    expect(await session.services.reembedding.toDeployment(target, { migrating: false, oneDimension: true })).toBe('NEEDS_INDEX');
    expect(await session.services.reembedding.toDeployment(target, { migrating: true, oneDimension: false })).toBe('MOVING');
    expect((await statusOf(t.token)).reembedding).toBeNull();
  });
});

describe('two embedding switches of one tenant planned at the same moment', () => {
  it('the second write answers CONFLICT and writes nothing; the first switch runs', async () => {
    const t = await createTenant();
    await ingestProcessed(t, { name: 'a.md', text: 'Badges are blue.' });
    const root = createRoot(env as never, { log: createLogger('test') });
    const session = await openTenantSession(root, (await root.platform.tenantById(t.id))!, { ...REEMBED_PRINCIPAL, tenantRef: t.id }, 'test');
    const target = (model: string) => ({ model, dimensions: 384, baseUrl: 'https://models.example/v1', apiKeySealed: 'sealed', keyId: 'k1' });
    const write = (model: string) => ({ baseUrl: 'https://models.example/v1', apiKeySealed: 'sealed', keyId: 'k1', keyLast4: 'abcd', chatModels: ['m'], embeddingModel: model, embeddingDimensions: 384 });
    // Both read the same generations: each numbers its new generation 1.
    const [one, two] = [await session.services.reembedding.plan(target('embed-one'), 'provider'), await session.services.reembedding.plan(target('embed-two'), 'provider')];
    expect([one.outcome, two.outcome]).toEqual(['started', 'started']);
    await session.scope.modelProvider.set(write('embed-one'), one.statements, one.outcome);
    await expect(session.scope.modelProvider.set(write('embed-two'), two.statements, two.outcome)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await session.scope.modelProvider.get()).toMatchObject({ embeddingModel: 'embed-one' });
    expect((await statusOf(t.token)).reembedding).toMatchObject({ status: 'RUNNING', model: 'embed-one', generation: 1 });
  });
});
