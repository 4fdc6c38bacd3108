/**
 * Switching embedding models without downtime (DESIGN §14, docs/chat.md "Switch a model and
 * watch the progress"). Tenant A brings its own provider (a fake OpenAI-compatible server of
 * its own); tenant B uses the deployment's. The job is driven one unit at a time (one chunk
 * per unit), with searches between the units: no sleeps, no background delivery.
 */
import { env } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMessageBatch } from 'cloudflare:test';
import { OfflineEmbeddings } from '../../src/ai/offline-embeddings';
import { consumeIngestBatch } from '../../src/rag/ingest-consumer';
import { consumeReembedMessages } from '../../src/rag/reembed-consumer';
import { runMove } from '../../src/placement/move';
import { ingestConsumerDeps } from '../../src/services';
import { moveDepsForTest } from '../placement/move-helpers';
import { ReembedRetryError, runReembed } from '../../src/rag/reembedding';
import { ask } from '../chat/chat-helpers';
import { answer, installFakeOpenAI, status, type FakeOpenAI } from '../chat/fake-openai';
import { hits, ingest, ingestProcessed, messageFor } from '../documents/doc-helpers';
import { codeOf, createTenant, gql, signToken, twoTenants, type TestTenant } from '../helpers';
import { chunkIds, heldJobs, jobDeps, postHeld, runToIdle, spaceOf, statusOf, step, withVectors } from './reembed-helpers';

const A_HOST = 'tenant-a.fake-openai.test';
const A_KEY = 'sk-tenant-a-secret-7f3e9c2a1b';
const SMALL = { embeddingModel: 'text-embedding-3-small', embeddingDimensions: 384 };
const LARGE = { embeddingModel: 'text-embedding-3-large', embeddingDimensions: 512 };

const SET = `mutation($input: ModelProviderInput!) { setModelProvider(input: $input) { embeddingModel embeddingDimensions reembedding { status done total generation } } }`;
const providerInput = (over: Record<string, unknown> = {}) => ({
  baseUrl: `https://${A_HOST}/v1`, apiKey: A_KEY, chatModels: ['llama-3.1-70b'], ...SMALL, ...over,
});

let deployment: FakeOpenAI;
let tenantA: FakeOpenAI;
beforeEach(() => {
  heldJobs.length = 0;
  // Both servers shorten embeddings to the requested `dimensions`, as text-embedding-3 models do.
  deployment = installFakeOpenAI(answer('Deployment model answer.'), { honourDimensions: true });
  tenantA = installFakeOpenAI(answer('Tenant A model answer [1].'), { host: A_HOST, apiKey: A_KEY, honourDimensions: true });
});
afterEach(() => {
  tenantA.restore();
  deployment.restore();
});

async function setProvider(t: TestTenant, over: Record<string, unknown> = {}) {
  const r = await postHeld(SET, { input: providerInput(over) }, t.token);
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data.setModelProvider;
}

/** Tenant A on its own provider (small, 384) with three documents. */
async function tenantWithDocs(t: TestTenant) {
  await setProvider(t);
  await ingestProcessed(t, { name: 'refunds.md', text: '# Refunds\n\nRefunds take fourteen days at Acme.' });
  await ingestProcessed(t, { name: 'shipping.md', text: '# Shipping\n\nParcels ship within two days from the Acme warehouse.' });
  await ingestProcessed(t, { name: 'support.md', text: '# Support\n\nSupport answers tickets on weekdays.' });
  return chunkIds(t.id);
}

/** The model and dimensions of the query embedding of the last search with `query` on server `fake`. */
const lastQueryEmbedding = (fake: FakeOpenAI, query: string) => {
  const call = fake.embeddings().filter((c) => JSON.stringify(c.body.input) === JSON.stringify([query])).at(-1);
  return call ? { model: call.body.model, dimensions: call.body.dimensions } : null;
};

describe('a switch mid-traffic', () => {
  it('search and ask never come back empty or on the wrong model; after it every chunk has a new vector and no old one remains; B is untouched', async () => {
    const [a, b] = await twoTenants();
    const ids = await tenantWithDocs(a);
    await ingestProcessed(b, { name: 'b.md', text: '# Globex\n\nGlobex ships rockets on Mondays.' });
    const bBefore = await hits(b, { query: 'rockets', mode: 'VECTOR' });
    const bSpace = await spaceOf(b.id, 0);
    expect(bBefore.length).toBeGreaterThan(0);

    const set = await setProvider(a, LARGE);
    expect(set).toMatchObject({ ...LARGE, reembedding: { status: 'RUNNING', done: 0, total: ids.length, generation: 1 } });
    expect(heldJobs).toContainEqual({ type: 'tenant.reembed', tenantId: a.id });
    expect(await statusOf(a.token)).toMatchObject({ embedding: { model: 'text-embedding-3-small', dimensions: 384, generation: 0 } });

    const deps = jobDeps();
    let switched = false;
    const seen: string[] = [];
    for (let i = 0; ; i++) {
      // Between every two units: a VECTOR search (no keyword fallback to hide a broken vector half).
      const found = await hits(a, { query: 'refunds', mode: 'VECTOR' });
      expect(found.length, `search after unit ${i}`).toBeGreaterThan(0);
      expect(found[0]!.text).toContain('fourteen days');
      expect(lastQueryEmbedding(tenantA, 'refunds')).toEqual(switched ? { model: 'text-embedding-3-large', dimensions: 512 } : { model: 'text-embedding-3-small', dimensions: 384 });
      expect(await hits(b, { query: 'rockets', mode: 'VECTOR' })).toEqual(bBefore);
      if (i === 1) {
        const r = await ask(a.token, { question: 'How long do refunds take?' });
        expect(r.body.errors).toBeUndefined();
        expect(r.body.data.ask.sources.length).toBeGreaterThan(0);
      }
      const u = await step(deps, a.id);
      if (!u) break;
      seen.push(u.kind);
      if (u.kind === 'switched') switched = true;
    }
    // One unit per chunk, the switch, then the cleanup of the old generation.
    expect(seen).toEqual([...ids.map(() => 'embedded'), 'switched', 'cleaned', 'cleaned']);
    expect(await statusOf(a.token)).toEqual({
      embedding: { model: 'text-embedding-3-large', dimensions: 512, generation: 1 },
      reembedding: { status: 'COMPLETED', done: ids.length, total: ids.length, ...{ model: 'text-embedding-3-large', dimensions: 512 }, generation: 1, error: null, cleanedUp: true },
    });
    expect(await spaceOf(a.id, 1)).toEqual({ dimensions: 512, vectorCount: ids.length });
    expect(await withVectors(a.id, 1, ids)).toEqual([...ids].sort());
    expect(await spaceOf(a.id, 0)).toMatchObject({ vectorCount: 0 });
    // B: same vectors, same hits, no generation of its own.
    expect(await spaceOf(b.id, 0)).toEqual(bSpace);
    expect(await spaceOf(b.id, 1)).toMatchObject({ vectorCount: 0 });
    expect(await statusOf(b.token)).toMatchObject({ reembedding: null, embedding: { generation: 0 } });
    // B's traffic never reached A's server, and the re-embedding never reached the deployment's.
    expect(JSON.stringify(tenantA.calls)).not.toContain('Globex');
    expect(JSON.stringify(deployment.calls)).not.toContain('fourteen');
    const audit = await env.DB.prepare("SELECT count(*) AS n FROM audit_log WHERE tenant_id = ? AND action = 'tenant.embedding.switched'").bind(a.id).first('n');
    expect(audit).toBe(1);
  });

  it('meters the re-embedding: embedding tokens rise by what the job embedded', async () => {
    const t = await createTenant();
    await tenantWithDocs(t);
    const usage = async () => (await gql('{ usage { embeddingTokens } }', {}, { token: t.token })).body.data.usage.embeddingTokens as number;
    const before = await usage();
    await setProvider(t, LARGE);
    await runToIdle(jobDeps({ pageSize: 10 }), t.id);
    const jobCalls = tenantA.embeddings().filter((c) => c.body.model === 'text-embedding-3-large');
    expect(jobCalls).toHaveLength(1);
    // The provider's own count (the fake reports the offline embedder's) settles the reservation.
    const reported = (await new OfflineEmbeddings(512).embed(jobCalls[0]!.body.input)).tokens;
    expect(await usage()).toBe(before + reported);
  });

  it('a tenant without chunks switches at once (no job needed)', async () => {
    const t = await createTenant();
    await setProvider(t);
    const set = await setProvider(t, LARGE);
    expect(set.reembedding).toMatchObject({ status: 'COMPLETED', generation: 1 });
    expect((await statusOf(t.token)).embedding).toEqual({ model: 'text-embedding-3-large', dimensions: 512, generation: 1 });
    await ingestProcessed(t, { name: 'n.md', text: 'Night shifts start at ten.' });
    expect((await hits(t, { query: 'night shifts', mode: 'VECTOR' }))[0]?.text).toContain('ten');
    expect(await spaceOf(t.id, 1)).toMatchObject({ dimensions: 512, vectorCount: 1 });
    expect(await spaceOf(t.id, 0)).toMatchObject({ vectorCount: 0 });
  });
});

describe('ingestion and deletion during the job', () => {
  it('a document ingested meanwhile is embedded with both models; a deleted one leaves no vector in either', async () => {
    const t = await createTenant();
    const ids = await tenantWithDocs(t);
    await setProvider(t, LARGE);
    const deps = jobDeps();
    expect((await step(deps, t.id))?.kind).toBe('embedded');

    const added = await ingestProcessed(t, { name: 'warranty.md', text: '# Warranty\n\nThe warranty lasts two years.' });
    expect(added.status).toBe('COMPLETED');
    const addedIds = (await chunkIds(t.id)).filter((id) => id.startsWith(added.id));
    expect(await withVectors(t.id, 0, addedIds)).toEqual(addedIds.sort());
    expect(await withVectors(t.id, 1, addedIds)).toEqual(addedIds.sort());
    expect((await hits(t, { query: 'warranty', mode: 'VECTOR' }))[0]?.document.id).toBe(added.id);

    const victim = (await hits(t, { query: 'support tickets', mode: 'KEYWORD' }))[0]!.document.id;
    const victimIds = ids.filter((id) => id.startsWith(victim));
    expect((await gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id: victim }, { token: t.token })).body.data.deleteDocument).toBe(true);
    expect(await withVectors(t.id, 0, victimIds)).toEqual([]);
    expect(await withVectors(t.id, 1, victimIds)).toEqual([]);

    await runToIdle(deps, t.id);
    const all = await chunkIds(t.id);
    expect(await withVectors(t.id, 1, all)).toEqual([...all].sort());
    expect(await spaceOf(t.id, 1)).toMatchObject({ vectorCount: all.length });
    expect(await spaceOf(t.id, 0)).toMatchObject({ vectorCount: 0 });
    expect((await hits(t, { query: 'warranty', mode: 'VECTOR' }))[0]?.document.id).toBe(added.id);
    expect(lastQueryEmbedding(tenantA, 'warranty')?.model).toBe('text-embedding-3-large');
    const s = await statusOf(t.token);
    expect(s.reembedding).toMatchObject({ status: 'COMPLETED', cleanedUp: true });
    expect(s.reembedding!.done).toBe(s.reembedding!.total);
  });
});

describe('ingestion that read the state before a switch', () => {
  it('a version whose chunks land after the job finished is embedded for the new generation too (the re-read after writing chunks)', async () => {
    const t = await createTenant();
    await tenantWithDocs(t);
    const r = await ingest(t, { name: 'late.md', text: '# Late\n\nThe late parcel arrives on Friday.' });
    const id = r.body.data.ingestDocument.id as string;
    const base = ingestConsumerDeps(env as never);
    let raced = false;
    const deps = {
      ...base,
      tenant: async (tenantId: string) => {
        const ctx = (await base.tenant(tenantId))!;
        const spaces = ctx.embeddings!;
        const original = spaces.writeTargets.bind(spaces);
        // Right after the consumer's first read (active generation 0 only), a whole switch
        // runs: started, every existing chunk re-embedded, switched, old vectors cleaned.
        spaces.writeTargets = async (fresh?: boolean) => {
          const targets = await original(fresh);
          if (!raced) {
            raced = true;
            await setProvider(t, LARGE);
            await runToIdle(jobDeps(), t.id);
          }
          return targets;
        };
        return ctx;
      },
    };
    const batch = createMessageBatch('edgerag-ingest', [{ id: 'late', timestamp: new Date(), attempts: 1, body: await messageFor(id) }]);
    await consumeIngestBatch(batch as MessageBatch<unknown>, deps, false);
    expect(raced).toBe(true);
    expect((await statusOf(t.token)).embedding.generation).toBe(1);
    const late = (await chunkIds(t.id)).filter((c) => c.startsWith(id));
    expect(late.length).toBeGreaterThan(0);
    expect(await withVectors(t.id, 1, late)).toEqual(late.sort());
    expect((await hits(t, { query: 'late parcel', mode: 'VECTOR' }))[0]?.document.id).toBe(id);
  });
});

describe('crash and resume', () => {
  it.each(['embedded', 'switched', 'cleaned'] as const)('a crash right after a unit of kind %s resumes and finishes, every chunk embedded once', async (kind) => {
    const t = await createTenant();
    const ids = await tenantWithDocs(t);
    await setProvider(t, LARGE);
    let crashed = false;
    const crashing = jobDeps({
      afterUnit: (u) => {
        if (!crashed && u.kind === kind) {
          crashed = true;
          throw new Error(`crash after ${kind}`);
        }
      },
    });
    await expect(runReembed(crashing, t.id)).rejects.toThrow(`crash after ${kind}`);
    // Until the switch, search runs on the old generation; after it, on the new one: never empty.
    expect((await hits(t, { query: 'refunds', mode: 'VECTOR' })).length).toBeGreaterThan(0);
    await runToIdle(jobDeps(), t.id);
    expect(await statusOf(t.token)).toMatchObject({ reembedding: { status: 'COMPLETED', done: ids.length, total: ids.length, cleanedUp: true } });
    expect(await spaceOf(t.id, 1)).toEqual({ dimensions: 512, vectorCount: ids.length });
    expect(await spaceOf(t.id, 0)).toMatchObject({ vectorCount: 0 });
  });

  it('the queue consumer acknowledges a failed run and enqueues it again after a backoff (never to the dead-letter queue)', async () => {
    const t = await createTenant();
    await tenantWithDocs(t);
    await setProvider(t, LARGE);
    tenantA.scriptEmbeddings(status(503));
    const deps = jobDeps();
    const acked: string[] = [];
    const retried: unknown[] = [];
    const message = { id: 'm1', timestamp: new Date(), attempts: 1, body: { type: 'tenant.reembed', tenantId: t.id }, ack: () => acked.push('m1'), retry: (o: unknown) => retried.push(o) };
    await consumeReembedMessages([message as unknown as Message<unknown>], deps);
    expect(acked).toEqual(['m1']);
    expect(retried).toEqual([]);
    expect(deps.enqueued).toEqual([{ message: { type: 'tenant.reembed', tenantId: t.id }, delaySeconds: 10 }]);
  });
});

describe('a second switch while one runs supersedes it', () => {
  it('the running generation is dropped and cleaned; the new one starts from the first chunk and completes', async () => {
    const t = await createTenant();
    const ids = await tenantWithDocs(t);
    await setProvider(t, LARGE);
    const deps = jobDeps();
    await step(deps, t.id);
    expect(await spaceOf(t.id, 1)).toMatchObject({ vectorCount: 1 });

    const second = await setProvider(t, { embeddingModel: 'text-embedding-3-large', embeddingDimensions: 256 });
    expect(second.reembedding).toEqual({ status: 'RUNNING', done: 0, total: ids.length, generation: 2 });
    expect((await hits(t, { query: 'refunds', mode: 'VECTOR' })).length).toBeGreaterThan(0);
    expect(lastQueryEmbedding(tenantA, 'refunds')).toEqual({ model: 'text-embedding-3-small', dimensions: 384 });

    await runToIdle(deps, t.id);
    expect(await statusOf(t.token)).toMatchObject({
      embedding: { model: 'text-embedding-3-large', dimensions: 256, generation: 2 },
      reembedding: { status: 'COMPLETED', generation: 2, done: ids.length, cleanedUp: true },
    });
    expect(await spaceOf(t.id, 2)).toEqual({ dimensions: 256, vectorCount: ids.length });
    expect(await spaceOf(t.id, 1)).toMatchObject({ vectorCount: 0 });
    expect(await spaceOf(t.id, 0)).toMatchObject({ vectorCount: 0 });
    const rows = await env.DB.prepare('SELECT generation, status, cleaned FROM tenant_embedders WHERE tenant_id = ? ORDER BY generation').bind(t.id).all();
    expect(rows.results).toEqual([
      { generation: 0, status: 'retired', cleaned: 1 },
      { generation: 1, status: 'superseded', cleaned: 1 },
      { generation: 2, status: 'active', cleaned: 0 },
    ]);
  });

  it('switching back to the active embedding cancels the job (SUPERSEDED) and keeps the old vectors', async () => {
    const t = await createTenant();
    const ids = await tenantWithDocs(t);
    await setProvider(t, LARGE);
    const deps = jobDeps();
    await step(deps, t.id);
    const back = await setProvider(t, SMALL);
    expect(back.reembedding).toMatchObject({ status: 'SUPERSEDED', generation: 1 });
    await runToIdle(deps, t.id);
    expect(await statusOf(t.token)).toMatchObject({ embedding: { model: 'text-embedding-3-small', generation: 0 }, reembedding: { status: 'SUPERSEDED', cleanedUp: true } });
    expect(await spaceOf(t.id, 1)).toMatchObject({ vectorCount: 0 });
    expect(await spaceOf(t.id, 0)).toMatchObject({ vectorCount: ids.length });
    expect((await hits(t, { query: 'refunds', mode: 'VECTOR' }))[0]?.text).toContain('fourteen');
  });

  it('clearModelProvider goes back to the deployment embedding through a switch when it differs', async () => {
    const t = await createTenant();
    const ids = await tenantWithDocs(t);
    await setProvider(t, LARGE);
    await runToIdle(jobDeps(), t.id);
    const r = await postHeld('mutation { clearModelProvider }', {}, t.token);
    expect(r.body.data.clearModelProvider).toBe(true);
    expect((await statusOf(t.token)).reembedding).toMatchObject({ status: 'RUNNING', model: 'text-embedding-3-small', dimensions: 384, generation: 2 });
    // Until it completes, the tenant's own (old) provider still embeds its queries.
    expect((await hits(t, { query: 'refunds', mode: 'VECTOR' })).length).toBeGreaterThan(0);
    expect(lastQueryEmbedding(tenantA, 'refunds')?.model).toBe('text-embedding-3-large');
    await runToIdle(jobDeps(), t.id);
    expect((await hits(t, { query: 'refunds', mode: 'VECTOR' })).length).toBeGreaterThan(0);
    expect(lastQueryEmbedding(deployment, 'refunds')?.model).toBe('text-embedding-3-small');
    expect(await spaceOf(t.id, 2)).toEqual({ dimensions: 384, vectorCount: ids.length });
  });
});

describe('provider failures during the job', () => {
  it('a transient failure retries with backoff, shows the error, and the tenant keeps searching on the old vectors', async () => {
    const t = await createTenant();
    const ids = await tenantWithDocs(t);
    await setProvider(t, LARGE);
    const deps = jobDeps();
    await step(deps, t.id);
    tenantA.scriptEmbeddings(status(503));
    const err = await runReembed(deps, t.id, { maxUnits: 1 }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ReembedRetryError);
    const s = await statusOf(t.token);
    expect(s.reembedding).toMatchObject({ status: 'RUNNING', done: 1 });
    expect(s.reembedding!.error).toContain('HTTP 503');
    expect(s.embedding.generation).toBe(0);
    expect((await hits(t, { query: 'refunds', mode: 'VECTOR' }))[0]?.text).toContain('fourteen');
    await runToIdle(deps, t.id);
    expect(await statusOf(t.token)).toMatchObject({ reembedding: { status: 'COMPLETED', error: null, done: ids.length } });
  });

  it('a failure that will not heal ends the job FAILED: no half switch, its vectors removed, search unchanged', async () => {
    const t = await createTenant();
    const ids = await tenantWithDocs(t);
    await setProvider(t, LARGE);
    const deps = jobDeps();
    await step(deps, t.id);
    tenantA.scriptEmbeddings(status(401));
    await runToIdle(deps, t.id);
    const s = await statusOf(t.token);
    expect(s.embedding).toEqual({ model: 'text-embedding-3-small', dimensions: 384, generation: 0 });
    expect(s.reembedding).toMatchObject({ status: 'FAILED', cleanedUp: true });
    expect(s.reembedding!.error).toContain('HTTP 401');
    expect(await spaceOf(t.id, 1)).toMatchObject({ vectorCount: 0 });
    expect(await spaceOf(t.id, 0)).toMatchObject({ vectorCount: ids.length });
    expect((await hits(t, { query: 'refunds', mode: 'VECTOR' }))[0]?.text).toContain('fourteen');
    // Setting the provider again starts a new switch.
    expect((await setProvider(t, LARGE)).reembedding).toMatchObject({ status: 'RUNNING', generation: 2 });
  });
});

describe('a change of the deployment embedding (reembedTenants)', () => {
  const CHANGED = { EMBEDDING_MODEL: 'text-embedding-3-large', EMBEDDING_DIMENSIONS: '512' };
  const REEMBED = 'mutation { reembedTenants(first: 100) { results { tenant { id } outcome } hasNextPage } }';
  const platform = () => signToken({ platform_admin: true, role: 'owner' }, { sub: 'operator' });
  const outcomes = async (overrides: Record<string, unknown>) => {
    const r = await postHeld(REEMBED, {}, await platform(), overrides);
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return new Map((r.body.data.reembedTenants.results as { tenant: { id: string }; outcome: string }[]).map((x) => [x.tenant.id, x.outcome]));
  };
  const vectorSearch = async (t: TestTenant, query: string, overrides: Record<string, unknown>) => {
    const r = await postHeld('query($i: SearchInput!) { search(input: $i) { hits { text } } }', { i: { query, mode: 'VECTOR' } }, t.token, overrides);
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data.search.hits as { text: string }[];
  };

  it('tenants keep their recorded model after the configuration changes, until reembedTenants switches them', async () => {
    const b = await createTenant();
    const own = await createTenant();
    const fresh = await createTenant();
    await ingestProcessed(b, { name: 'b.md', text: '# Globex\n\nGlobex ships rockets on Mondays.' });
    await setProvider(own);

    // The configuration changed (a deploy): B still searches with the model its vectors were made with.
    expect((await vectorSearch(b, 'rockets', CHANGED)).length).toBeGreaterThan(0);
    expect(lastQueryEmbedding(deployment, 'rockets')).toEqual({ model: 'text-embedding-3-small', dimensions: 384 });

    const first = await outcomes(CHANGED);
    expect([first.get(b.id), first.get(own.id), first.get(fresh.id)]).toEqual(['STARTED', 'OWN_PROVIDER', 'RECORDED']);
    expect((await vectorSearch(b, 'rockets', CHANGED)).length).toBeGreaterThan(0);
    await runToIdle(jobDeps({}, CHANGED), b.id);
    expect((await statusOf(b.token, CHANGED)).reembedding).toMatchObject({ status: 'COMPLETED', model: 'text-embedding-3-large', dimensions: 512, cleanedUp: true });
    expect((await vectorSearch(b, 'rockets', CHANGED))[0]?.text).toContain('Mondays');
    expect(lastQueryEmbedding(deployment, 'rockets')).toEqual({ model: 'text-embedding-3-large', dimensions: 512 });
    expect((await outcomes(CHANGED)).get(b.id)).toBe('CURRENT');
    expect((await statusOf(fresh.token, CHANGED)).embedding).toEqual({ model: 'text-embedding-3-large', dimensions: 512, generation: 0 });
  });

  it('is for platform admins only', async () => {
    const t = await createTenant();
    expect(codeOf(await postHeld(REEMBED, {}, t.token))).toBe('FORBIDDEN');
  });
});

describe('moves and re-embedding', () => {
  it('a move waits for a running switch (BAD_USER_INPUT)', async () => {
    const t = await createTenant();
    await tenantWithDocs(t);
    await setProvider(t, LARGE);
    const r = await postHeld('mutation($id: ID!) { moveTenant(id: $id, placement: "regional:eu") { id } }', { id: t.id }, await signToken({ platform_admin: true, role: 'owner' }, { sub: 'operator' }));
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.body.errors![0]!.message).toContain('embedding');
  });

  it('after the switch a move copies the active generation: search keeps working in the new placement', async () => {
    const t = await createTenant();
    const ids = await tenantWithDocs(t);
    await setProvider(t, LARGE);
    await runToIdle(jobDeps(), t.id);
    const r = await postHeld('mutation($id: ID!) { moveTenant(id: $id, placement: "regional:eu") { id } }', { id: t.id }, await signToken({ platform_admin: true, role: 'owner' }, { sub: 'operator' }));
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    const moved = await runMove(moveDepsForTest(), r.body.data.moveTenant.id);
    expect(moved?.step).toBe('done');
    const eu = await env.LOCAL_VECTORS.get(env.LOCAL_VECTORS.idFromName(`regional:eu/${t.id}-g1`)).describe();
    expect(eu).toEqual({ dimensions: 512, vectorCount: ids.length });
    expect(await spaceOf(t.id, 1)).toMatchObject({ vectorCount: 0 });
    expect((await hits(t, { query: 'refunds', mode: 'VECTOR' }))[0]?.text).toContain('fourteen');
  });
});
