/**
 * Tenant data placement (DESIGN §11): createTenant picks the placement, Tenant.placement is
 * visible to platform admins only, each tenant's rows land in its placement's database, and
 * tenants in different databases — or in the same one — see only their own data.
 */
import { describe, expect, it } from 'vitest';
import { parsePlacementTable } from '../../src/placement/config';
import { ingestProcessed } from '../documents/doc-helpers';
import { codeOf, createTenant, gql, signToken, type TestTenant } from '../helpers';
import { createTenantAs, DATABASES, platformToken, rowsByDatabase, uniqueSlug } from './placement-helpers';

describe('createTenant placement', () => {
  it('places a tenant by region when a regional database is configured, else shared (region stays a label)', async () => {
    const eu = await createTenantAs({ slug: uniqueSlug('eu'), region: 'eu' });
    expect(eu.body.data.createTenant).toMatchObject({ region: 'eu', tier: 'shared', placement: 'regional:eu' });
    // Usable at once: its residence row is in the eu database, so its first write lands there.
    const owner = await signToken({ tenant_id: eu.body.data.createTenant.id, role: 'owner' });
    expect((await gql('mutation { createCollection(input: { name: "eu" }) { id } }', {}, { token: owner })).body.errors).toBeUndefined();
    expect((await rowsByDatabase('collections', eu.body.data.createTenant.id))['regional:eu']).toBe(1);
    const label = await createTenantAs({ slug: uniqueSlug('ch'), region: 'ch-zurich' });
    expect(label.body.data.createTenant).toMatchObject({ region: 'ch-zurich', placement: 'shared' });
    const plain = await createTenantAs({ slug: uniqueSlug('pl') });
    expect(plain.body.data.createTenant.placement).toBe('shared');
  });

  it('places a DEDICATED tenant on a free dedicated database, and refuses when none is free', async () => {
    const first = await createTenantAs({ slug: uniqueSlug('dd'), tier: 'DEDICATED' });
    expect(first.body.data.createTenant).toMatchObject({ tier: 'dedicated', placement: 'dedicated:d1-1' });
    const second = await createTenantAs({ slug: uniqueSlug('dd'), tier: 'DEDICATED' });
    expect(codeOf(second)).toBe('BAD_USER_INPUT');
    expect(second.body.errors![0]!.extensions!.field).toBe('tier');
    // Naming the taken database explicitly is refused the same way.
    const named = await createTenantAs({ slug: uniqueSlug('dd'), placement: 'dedicated:d1-1' });
    expect(codeOf(named)).toBe('BAD_USER_INPUT');
  });

  it.each([
    ['an unknown shape', 'eu', 'placement'],
    ['an unconfigured region', 'regional:us', 'placement'],
    ['an unregistered dedicated database', 'dedicated:nope', 'placement'],
  ])('refuses %s', async (_what, placement, field) => {
    const r = await createTenantAs({ slug: uniqueSlug('x'), placement });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.body.errors![0]!.extensions!.field).toBe(field);
  });

  it('shows placement to platform admins only', async () => {
    const t = await createTenant({ placement: 'regional:eu' });
    const own = await gql('{ tenant { slug placement } }', {}, { token: t.token });
    expect(own.body.data.tenant.slug).toBe(t.slug);
    expect(own.body.data.tenant.placement).toBeNull();
    expect(codeOf(own)).toBe('FORBIDDEN');
    const admin = await gql('{ tenants(first: 100) { edges { node { id placement movingTo } } } }', {}, { token: await platformToken() });
    const node = admin.body.data.tenants.edges.map((e: { node: { id: string } }) => e.node).find((n: { id: string }) => n.id === t.id);
    expect(node).toEqual({ id: t.id, placement: 'regional:eu', movingTo: null });
  });
});

describe('data follows the placement', () => {
  const ask = (t: TestTenant, question: string) =>
    gql('mutation($q: String!) { ask(input: { question: $q }) { text conversation { id } } }', { q: question }, { token: t.token });

  it('writes each tenant\'s rows into its own database only; the catalogue keeps its API keys', async () => {
    const t = await createTenant({ placement: 'regional:eu' });
    const doc = await ingestProcessed(t, { name: 'eu.md', text: 'Données personnelles restent dans l\'Union européenne.' });
    expect(doc.status).toBe('COMPLETED');
    expect((await ask(t, 'Where do personal data stay?')).body.errors).toBeUndefined();
    await gql('mutation { createApiKey(input: { name: "k", scopes: [SEARCH] }) { secret } }', {}, { token: t.token });
    for (const table of ['documents', 'chunks', 'conversations', 'messages']) {
      const counts = await rowsByDatabase(table, t.id);
      expect(counts.shared, table).toBe(0);
      expect(counts['dedicated:d1-1'], table).toBe(0);
      expect(counts['regional:eu'], table).toBeGreaterThan(0);
    }
    expect(await rowsByDatabase('api_keys', t.id)).toEqual({ shared: 1, 'regional:eu': 0, 'dedicated:d1-1': 0 });
    // The audit log merges both databases: the document ingest (eu) and the key (catalogue).
    const audit = await gql('{ auditLog(first: 50) { edges { node { action } } } }', {}, { token: t.token });
    const actions = audit.body.data.auditLog.edges.map((e: { node: { action: string } }) => e.node.action);
    expect(actions).toEqual(expect.arrayContaining(['document.ingest', 'conversation.ask', 'api_key.create']));
  });

  // Two tenants in different databases, and two in the same one.
  it.each([
    ['shared', 'regional:eu'],
    ['regional:eu', 'dedicated:d1-1'],
    ['regional:eu', 'regional:eu'],
    ['shared', 'shared'],
  ])('isolates a %s tenant from a %s tenant (search, lists, foreign ids)', async (pa, pb) => {
    const a = await createTenant({ placement: pa });
    const b = await createTenant({ placement: pb });
    const docA = await ingestProcessed(a, { name: 'a.md', text: 'Aardvark migration patterns in the northern valley.' });
    const docB = await ingestProcessed(b, { name: 'b.md', text: 'Aardvark feeding habits in the southern valley.' });
    for (const [t, own, foreign] of [[a, docA, docB], [b, docB, docA]] as const) {
      const found = await gql('{ search(input: { query: "aardvark valley", topK: 10 }) { hits { document { id } } } }', {}, { token: t.token });
      expect(found.body.data.search.hits.map((h: { document: { id: string } }) => h.document.id)).toEqual([own.id]);
      const list = await gql('{ documents(first: 50) { edges { node { id } } } }', {}, { token: t.token });
      expect(list.body.data.documents.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([own.id]);
      expect((await gql('query($id: ID!) { document(id: $id) { id } }', { id: foreign.id }, { token: t.token })).body.data.document).toBeNull();
      expect(codeOf(await gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id: foreign.id }, { token: t.token }))).toBe('NOT_FOUND');
    }
  });
});

describe('PLACEMENTS validation', () => {
  const bindings = { DB: DATABASES.shared, DB_EU: DATABASES['regional:eu'], DOCUMENTS: {}, NOT_D1: { hello: 1 } } as Record<string, unknown>;
  const d1 = bindings.DB_EU as D1Database;
  const r2 = { put() {}, get() {}, list() {} };
  const env = { ...bindings, DB_EU: d1, DOCUMENTS: r2, DOCUMENTS_EU: r2 };

  it('accepts the local table and names the shared placement implicitly', () => {
    const table = parsePlacementTable('{"regional:eu": {"database": "DB_EU", "bucket": "DOCUMENTS_EU", "jurisdiction": "eu"}}', env, false);
    expect(table.entries.map((e) => e.id)).toEqual(['shared', 'regional:eu']);
    expect(table.get('regional:eu')).toMatchObject({ database: 'DB_EU', bucket: 'DOCUMENTS_EU', jurisdiction: 'eu' });
  });

  it('accepts a libSQL placement naming its bucket, vector index and jurisdiction (no database binding)', () => {
    const table = parsePlacementTable('{"dedicated:acme": {"backend": "libsql", "bucket": "DOCUMENTS_EU", "vectors": "VECTORIZE_EU", "jurisdiction": "eu"}}', { ...env, VECTORIZE_EU: {} }, true);
    expect(table.get('dedicated:acme')).toMatchObject({ backend: 'libsql', database: null, bucket: 'DOCUMENTS_EU', vectors: 'VECTORIZE_EU', jurisdiction: 'eu' });
    expect(table.get('shared')).toMatchObject({ backend: 'd1', database: 'DB' });
  });

  it.each([
    ['not JSON', '{', /PLACEMENTS is not valid JSON/],
    ['a bad key', '{"eu": {"database": "DB_EU"}}', /PLACEMENTS\["eu"\]: a key must be/],
    ['shared as a key', '{"shared": {"database": "DB_EU"}}', /a key must be/],
    ['a missing binding', '{"regional:eu": {"database": "DB_NOPE"}}', /names binding DB_NOPE, which is not a D1 database binding/],
    ['a binding that is not D1', '{"regional:eu": {"database": "NOT_D1"}}', /names binding NOT_D1/],
    ['the catalogue database', '{"regional:eu": {"database": "DB"}}', /DB already serves shared/],
    ['one database for two placements', '{"regional:eu": {"database": "DB_EU"}, "dedicated:x": {"database": "DB_EU"}}', /DB_EU already serves regional:eu/],
    ['a missing bucket', '{"regional:eu": {"database": "DB_EU", "bucket": "NOPE"}}', /bucket names NOPE, which is not an R2 bucket/],
    ['an unknown field', '{"regional:eu": {"database": "DB_EU", "replicas": 2}}', /unknown field "replicas"/],
    ['a bad jurisdiction', '{"regional:eu": {"database": "DB_EU", "jurisdiction": "mars"}}', /jurisdiction must be one of eu, fedramp/],
    ['an unknown backend', '{"dedicated:x": {"backend": "postgres"}}', /backend must be "d1" \(default\) or "libsql"/],
    ['a libSQL placement with a database binding', '{"dedicated:x": {"backend": "libsql", "database": "DB_EU"}}', /a libSQL placement has no database binding/],
    ['a regional libSQL placement', '{"regional:eu": {"backend": "libsql"}}', /a libSQL database is a dedicated placement/],
    ['a libSQL placement with a missing bucket', '{"dedicated:x": {"backend": "libsql", "bucket": "NOPE"}}', /bucket names NOPE, which is not an R2 bucket/],
    ['a libSQL placement with a missing vector index (VECTOR_BACKEND=vectorize)', '{"dedicated:x": {"backend": "libsql", "vectors": "VECTORIZE_NOPE"}}', /vectors names VECTORIZE_NOPE, which is not a Vectorize binding/],
  ])('refuses %s with a message naming it', (_what, raw, message) => {
    expect(() => parsePlacementTable(raw, { ...env, VECTORIZE: {} }, true)).toThrow(message);
  });

  it('refuses a bad table on the first request, naming it (configuration error: 503, detail only on /healthz in production)', async () => {
    const { default: worker } = await import('../../src/index');
    const { env: workerEnv, createExecutionContext } = await import('cloudflare:test');
    const badEnv = { ...workerEnv, ENVIRONMENT: 'production', PLACEMENTS: '{"regional:eu": {"database": "DB_MISSING"}}' } as never;
    const res = await worker.fetch(
      new Request('http://localhost/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' }) as never,
      badEnv,
      createExecutionContext(),
    );
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text).errors[0].extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', reason: 'misconfigured' });
    expect(text).not.toContain('DB_MISSING');
    const health = await worker.fetch(new Request('http://localhost/healthz') as never, badEnv, createExecutionContext());
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'misconfigured', setting: 'PLACEMENTS', problem: expect.stringContaining('DB_MISSING') });
  });
});
