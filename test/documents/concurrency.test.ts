/**
 * Ingestion under concurrency: first ingests of one new name racing each other, replacements
 * of one document racing each other, and the documents / storedBytes plan quotas with many
 * ingests in flight. Every race is run twice:
 *  - through the Worker, requests fired together with Promise.all (they interleave at every
 *    await: auth, TenantGuard, D1, R2), and
 *  - at the service level, built deterministically: the request reads the document through a
 *    repository whose first findByName answer is stale (what it would have read just before
 *    the other request wrote), so the race is lost every run, not only when the scheduler
 *    happens to interleave.
 * A second tenant runs alongside or is checked afterwards: nothing crosses over.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { effectiveLimits } from '../../src/context';
import type { DocumentRow } from '../../src/db/schema';
import type { TenantScope } from '../../src/db/tenant-scope';
import { loadConfig } from '../../src/env';
import { guardClient } from '../../src/objects/guard-client';
import type { IngestMessage } from '../../src/rag/ingest-types';
import { IngestionService } from '../../src/rag/ingestion';
import type { VectorStore } from '../../src/vector/types';
import { codeOf, gql, twoTenants, type GqlResult, type TestTenant } from '../helpers';
import { deliver, getDocument, hits, ingest, keyVersionOf, row } from './doc-helpers';
import { scopeOf } from './keyword-helpers';

const bytes = (text: string) => new TextEncoder().encode(text).byteLength;

const usage = async (t: TestTenant): Promise<{ documents: number; storedBytes: number }> =>
  (await gql('{ usage { documents storedBytes } }', {}, { token: t.token })).body.data.usage;

interface StoredDoc {
  id: string;
  name: string;
  collection_id: string | null;
  object_key: string;
  content_hash: string;
  size_bytes: number;
}
const rowsOf = async (t: TestTenant): Promise<StoredDoc[]> =>
  (await env.DB.prepare('SELECT id, name, collection_id, object_key, content_hash, size_bytes FROM documents WHERE tenant_id = ? ORDER BY name, id').bind(t.id).all<StoredDoc>()).results;

/** Every R2 original under the tenant's prefix. */
const objectsOf = async (t: TestTenant): Promise<string[]> =>
  (await env.DOCUMENTS.list({ prefix: `${t.id}/` })).objects.map((o) => o.key).sort();

/** How many audit rows of `action` the tenant has (one per change that happened). */
const audits = async (t: TestTenant, action: string): Promise<number> =>
  (await env.DB.prepare('SELECT count(*) AS n FROM audit_log WHERE tenant_id = ? AND action = ?').bind(t.id, action).first<{ n: number }>())!.n;

const ok = (r: GqlResult) => {
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data.ingestDocument as { id: string; status: string; contentHash: string; sizeBytes: number };
};

const createCollection = async (t: TestTenant, name: string): Promise<string> =>
  (await gql('mutation($name: String!) { createCollection(input: { name: $name }) { id } }', { name }, { token: t.token })).body.data.createCollection.id;

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * The ingestion service of tenant `t` as the request pipeline builds it (real D1, R2 and
 * TenantGuard), with the scope optionally altered by `adapt`. Messages it enqueues are kept.
 */
async function serviceOf(t: TestTenant, adapt: (scope: TenantScope) => TenantScope = (s) => s) {
  const scope = await scopeOf(t);
  const sent: IngestMessage[] = [];
  const service = new IngestionService({
    scope: adapt(scope),
    blobs: env.DOCUMENTS,
    queue: { send: async (m: IngestMessage) => void sent.push(structuredClone(m)) },
    vectors: {} as VectorStore, // ingest() never touches vectors
    guard: guardClient(env.TENANT_GUARD, t.id, silent),
    limits: effectiveLimits(loadConfig(env as never), scope.tenant),
    fetcher: fetch,
    allowPrivateUrls: false,
    log: silent,
  });
  return { service, sent };
}

/** A scope whose documents repository answers the first findByName with `stale`, then reads for real. */
const staleFirstRead = (stale: DocumentRow | null) => (scope: TenantScope): TenantScope => {
  const real = scope.documents;
  let served = false;
  const documents = Object.create(real) as typeof real;
  documents.findByName = async (name, collectionId) => {
    if (served) return real.findByName(name, collectionId);
    served = true;
    return stale;
  };
  return Object.assign(Object.create(scope) as TenantScope, { documents });
};

describe('two concurrent first ingests of one new name', () => {
  it('make one document per name and collection, counted once; the other tenant gets its own', async () => {
    const [a, b] = await twoTenants();
    const col = await createCollection(a, 'handbooks');
    const text = 'Lunch is served from noon until two.';
    const results = await Promise.all([
      ingest(a, { name: 'race.txt', text }),
      ingest(a, { name: 'race.txt', text }),
      ingest(a, { name: 'race.txt', text, collectionId: col }),
      ingest(a, { name: 'race.txt', text, collectionId: col }),
      ingest(b, { name: 'race.txt', text }),
      ingest(b, { name: 'race.txt', text }),
    ]);
    const ids = results.map((r) => ok(r).id);
    // Each pair answers with one document: the loser returned the winner (same content = no-op).
    expect(ids[1]).toBe(ids[0]);
    expect(ids[3]).toBe(ids[2]);
    expect(ids[5]).toBe(ids[4]);
    expect(new Set(ids).size).toBe(3);

    const rowsA = await rowsOf(a);
    const byId = (x: [string, string | null], y: [string, string | null]) => (x[0] < y[0] ? -1 : 1);
    expect(rowsA.map((r): [string, string | null] => [r.id, r.collection_id]).sort(byId)).toEqual(
      ([[ids[0]!, null], [ids[2]!, col]] as [string, string | null][]).sort(byId),
    );
    expect((await rowsOf(b)).map((r) => r.id)).toEqual([ids[4]]);
    // The losers' originals are gone: one object per document, the one its row names.
    expect(await objectsOf(a)).toEqual(rowsA.map((r) => r.object_key).sort());
    expect(await objectsOf(b)).toEqual([(await rowsOf(b))[0]!.object_key]);
    // Quotas and audit count what exists, once.
    expect(await usage(a)).toEqual({ documents: 2, storedBytes: 2 * bytes(text) });
    expect(await usage(b)).toEqual({ documents: 1, storedBytes: bytes(text) });
    expect(await audits(a, 'document.ingest')).toBe(2);
    expect(await audits(b, 'document.ingest')).toBe(1);

    await deliver(ids[0]!);
    expect(await getDocument(a, ids[0]!)).toMatchObject({ status: 'COMPLETED' });
    expect(await getDocument(b, ids[0]!)).toBeNull();
  });

  it('with different content: one document, and the second content is a replacement of the first', async () => {
    const [a, b] = await twoTenants();
    const texts = ['Parking is free on weekends.', 'Parking costs two euros an hour on weekdays.'];
    const [first, second] = (await Promise.all(texts.map((text) => ingest(a, { name: 'parking.txt', text })))).map(ok);
    expect(second!.id).toBe(first!.id);
    const rows = await rowsOf(a);
    expect(rows.map((r) => r.id)).toEqual([first!.id]);
    // Whichever came second (after the race) is the current content, accepted as version 2.
    const current = rows[0]!;
    const winner = [first!, second!].find((d) => d.contentHash === current.content_hash)!;
    expect(winner).toBeDefined();
    expect(keyVersionOf(current.object_key)).toBe(2);
    expect(await (await env.DOCUMENTS.get(current.object_key))!.text()).toBe(texts[[first, second].indexOf(winner)]);
    // Versions 1 and 2 of this document; nothing under another document id.
    const objects = await objectsOf(a);
    expect(objects.map(keyVersionOf).sort()).toEqual([1, 2]);
    expect(objects.every((k) => k.startsWith(`${a.id}/${first!.id}/`))).toBe(true);
    expect(await usage(a)).toEqual({ documents: 1, storedBytes: current.size_bytes });
    expect(await audits(a, 'document.ingest')).toBe(1);
    expect(await audits(a, 'document.replace')).toBe(1);
    expect(await usage(b)).toEqual({ documents: 0, storedBytes: 0 });
  });

  it('the loser (deterministic: it read "no document" before the winner wrote) returns the winner, writes nothing', async () => {
    const [a, b] = await twoTenants();
    const text = 'Badges are renewed every January.';
    const winner = ok(await ingest(a, { name: 'badges.txt', text }));
    ok(await ingest(b, { name: 'badges.txt', text }));
    const before = { rows: await rowsOf(a), objects: await objectsOf(a), usage: await usage(a) };

    const { service, sent } = await serviceOf(a, staleFirstRead(null));
    const doc = await service.ingest({ name: 'badges.txt', text });
    expect(doc).toMatchObject({ id: winner.id, contentHash: winner.contentHash });
    expect(sent).toEqual([]);
    // No second row, no leftover original, no second count, no audit row for the failed insert.
    expect(await rowsOf(a)).toEqual(before.rows);
    expect(await objectsOf(a)).toEqual(before.objects);
    expect(await usage(a)).toEqual(before.usage);
    expect(await audits(a, 'document.ingest')).toBe(1);
    expect((await rowsOf(b)).length).toBe(1);
    expect(await usage(b)).toEqual({ documents: 1, storedBytes: bytes(text) });
  });

  it('the loser with other content (deterministic) becomes a replacement of the winner', async () => {
    const [a, b] = await twoTenants();
    const winner = ok(await ingest(a, { name: 'menu.txt', text: 'Soup of the day: tomato.' }));
    ok(await ingest(b, { name: 'menu.txt', text: 'Soup of the day: tomato.' }));
    const text = 'Soup of the day: lentils with cumin and lemon.';

    const { service, sent } = await serviceOf(a, staleFirstRead(null));
    const doc = await service.ingest({ name: 'menu.txt', text });
    expect(doc).toMatchObject({ id: winner.id, status: 'pending' });
    const rows = await rowsOf(a);
    expect(rows.map((r) => r.id)).toEqual([winner.id]);
    expect(rows[0]!.content_hash).toBe(doc.contentHash);
    expect(keyVersionOf(rows[0]!.object_key)).toBe(2);
    expect(sent).toEqual([{ type: 'ingest', tenantId: a.id, documentId: winner.id, objectKey: rows[0]!.object_key, version: 2 }]);
    // The original of the failed insert (under the id it never got) is deleted.
    const objects = await objectsOf(a);
    expect(objects.map(keyVersionOf).sort()).toEqual([1, 2]);
    expect(objects.every((k) => k.startsWith(`${a.id}/${winner.id}/`))).toBe(true);
    expect(await usage(a)).toEqual({ documents: 1, storedBytes: bytes(text) });
    expect(await audits(a, 'document.ingest')).toBe(1);
    expect(await audits(a, 'document.replace')).toBe(1);
    expect(await usage(b)).toEqual({ documents: 1, storedBytes: bytes('Soup of the day: tomato.') });
  });
});

describe('concurrent replacements of one document', () => {
  it('each replacement gets its own version; the stored original is the current content; bytes counted exactly', async () => {
    const [a, b] = await twoTenants();
    const v1 = ok(await ingest(a, { name: 'policy.txt', text: 'Version one of the travel policy.' }));
    await deliver(v1.id);
    ok(await ingest(b, { name: 'policy.txt', text: 'Version one of the travel policy.' }));
    const texts = [
      'Trains are booked in second class.',
      'Flights under four hours are booked in economy class only.',
      'Taxis need a receipt.',
      'Hotels are booked through the travel desk, at most three nights at a time.',
    ];
    const answers = (await Promise.all(texts.map((text) => ingest(a, { name: 'policy.txt', text })))).map(ok);
    expect(answers.every((d) => d.id === v1.id)).toBe(true);

    const current = (await row(v1.id))!;
    // Four replacements that each won their compare-and-set: versions 2..5, none lost, none reused.
    expect(keyVersionOf(current.object_key)).toBe(5);
    const objects = await objectsOf(a);
    expect(objects.map(keyVersionOf).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(await audits(a, 'document.replace')).toBe(4);
    // The object the row names holds the content the row's hash names (no overwrite by a loser).
    const text = texts[answers.findIndex((d) => d.contentHash === current.content_hash)]!;
    expect(text).toBeDefined();
    expect(await (await env.DOCUMENTS.get(current.object_key))!.text()).toBe(text);
    // The current original, plus the chunk text of version 1, still the visible one (one chunk, its whole text).
    expect(await usage(a)).toEqual({ documents: 1, storedBytes: bytes(text) + bytes('Version one of the travel policy.') });

    await deliver(v1.id);
    expect(await getDocument(a, v1.id)).toMatchObject({ status: 'COMPLETED', contentHash: current.content_hash });
    // The flip gave version 1's chunk text back and counts the new version's.
    expect(await usage(a)).toEqual({ documents: 1, storedBytes: 2 * bytes(text) });
    expect((await hits(a, { query: text, mode: 'KEYWORD' }))[0]?.text).toBe(text);
    expect(await usage(b)).toEqual({ documents: 1, storedBytes: bytes('Version one of the travel policy.') });
    expect(await hits(b, { query: text, mode: 'KEYWORD' })).toEqual([]);
  });

  it('a replacement that read a stale version (deterministic) re-reads and replaces on top: versions never go back', async () => {
    const [a, b] = await twoTenants();
    const v1 = ok(await ingest(a, { name: 'faq.md', text: 'Q: Where? A: Here.' }));
    const stale = (await (await scopeOf(a)).documents.get(v1.id))!;
    ok(await ingest(a, { name: 'faq.md', text: 'Q: Where? A: Over there, second floor.' }));
    const v2 = (await row(v1.id))!;
    expect(keyVersionOf(v2.object_key)).toBe(2);
    ok(await ingest(b, { name: 'faq.md', text: 'Q: Where? A: Here.' }));

    const text = 'Q: When? A: Mondays.';
    const { service, sent } = await serviceOf(a, staleFirstRead(stale));
    const doc = await service.ingest({ name: 'faq.md', text });
    const v3 = (await row(v1.id))!;
    expect(doc).toMatchObject({ id: v1.id, contentHash: v3.content_hash, objectKey: v3.object_key });
    expect(keyVersionOf(v3.object_key)).toBe(3);
    expect(sent).toEqual([{ type: 'ingest', tenantId: a.id, documentId: v1.id, objectKey: v3.object_key, version: 3 }]);
    // Version 2's original is intact; the lost attempt's object is gone.
    expect(await (await env.DOCUMENTS.get(v2.object_key))!.text()).toBe('Q: Where? A: Over there, second floor.');
    expect((await objectsOf(a)).map(keyVersionOf).sort()).toEqual([1, 2, 3]);
    // Growth counted against what was actually replaced (v2), not against the stale read.
    expect(await usage(a)).toEqual({ documents: 1, storedBytes: bytes(text) });
    expect(await audits(a, 'document.replace')).toBe(2);
    expect(await usage(b)).toEqual({ documents: 1, storedBytes: bytes('Q: Where? A: Here.') });
  });

  it('completing a version keeps the original of a newer replacement that is still being written', async () => {
    const [a, b] = await twoTenants();
    const v1 = ok(await ingest(a, { name: 'rota.txt', text: 'Alice opens on Mondays.' }));
    ok(await ingest(b, { name: 'rota.txt', text: 'Alice opens on Mondays.' }));
    const objectsOfB = await objectsOf(b);
    await deliver(v1.id);
    ok(await ingest(a, { name: 'rota.txt', text: 'Bob opens on Mondays.' }));
    const v2 = (await row(v1.id))!;
    // A third request has stored its original (R2 comes first) and not yet written the row.
    const inFlight = `${a.id}/${v1.id}/3-inflight`;
    await env.DOCUMENTS.put(inFlight, 'Carol opens on Mondays.');
    await deliver(v1.id);
    expect(await getDocument(a, v1.id)).toMatchObject({ status: 'COMPLETED' });
    // Version 1's original is cleaned up; the in-flight one survives for its own write.
    expect(await objectsOf(a)).toEqual([v2.object_key, inFlight].sort());
    expect(await objectsOf(b)).toEqual(objectsOfB);
  });
});

describe('plan quotas under concurrent ingests', () => {
  it('documents limit N: of M > N concurrent new documents exactly N are admitted, per tenant', async () => {
    const N = 3;
    const M = 8;
    const [a, b] = await twoTenants({ limits: { documents: N } });
    const names = Array.from({ length: M }, (_, i) => `note-${i}.txt`);
    const text = (name: string) => `Contents of ${name}.`;
    const results = await Promise.all([a, b].flatMap((t) => names.map((name) => ingest(t, { name, text: text(name) }))));
    for (const [i, t] of [a, b].entries()) {
      const mine = results.slice(i * M, (i + 1) * M);
      const admitted = names.filter((_, j) => codeOf(mine[j]!) === undefined);
      expect(admitted).toHaveLength(N);
      expect(mine.filter((r) => codeOf(r) !== undefined).map(codeOf)).toEqual(Array(M - N).fill('QUOTA_EXCEEDED'));
      expect((await rowsOf(t)).map((r) => r.name)).toEqual([...admitted].sort());
      expect(await usage(t)).toEqual({ documents: N, storedBytes: admitted.reduce((n, name) => n + bytes(text(name)), 0) });
      // Refused requests leave no original behind.
      expect(await objectsOf(t)).toHaveLength(N);
    }
  });

  it('storedBytes limit: exactly as many as fit are admitted, and the refused ones give their document back', async () => {
    const [a, b] = await twoTenants({ limits: { storedBytes: 30 } });
    const names = Array.from({ length: 8 }, (_, i) => `ten-${i}.txt`);
    const results = await Promise.all([a, b].flatMap((t) => names.map((name) => ingest(t, { name, text: '0123456789' }))));
    for (const [i, t] of [a, b].entries()) {
      const mine = results.slice(i * 8, (i + 1) * 8);
      expect(mine.filter((r) => codeOf(r) === undefined)).toHaveLength(3);
      expect(mine.filter((r) => codeOf(r) !== undefined).map(codeOf)).toEqual(Array(5).fill('QUOTA_EXCEEDED'));
      expect(await usage(t)).toEqual({ documents: 3, storedBytes: 30 });
      expect(await rowsOf(t)).toHaveLength(3);
    }
  });

  it('gives the reservation back when the row cannot be written', async () => {
    const [a, b] = await twoTenants();
    const failingInsert = (scope: TenantScope): TenantScope => {
      const documents = Object.create(scope.documents) as TenantScope['documents'];
      documents.insertPending = () => Promise.reject(new Error('d1 down'));
      return Object.assign(Object.create(scope) as TenantScope, { documents });
    };
    const { service, sent } = await serviceOf(a, failingInsert);
    await expect(service.ingest({ name: 'lost.txt', text: 'Never stored.' })).rejects.toThrow('d1 down');
    expect(sent).toEqual([]);
    expect(await rowsOf(a)).toEqual([]);
    expect(await objectsOf(a)).toEqual([]);
    expect(await usage(a)).toEqual({ documents: 0, storedBytes: 0 });
    // The quota is whole again: a real ingest goes through.
    ok(await ingest(a, { name: 'lost.txt', text: 'Stored this time.' }));
    expect(await usage(a)).toEqual({ documents: 1, storedBytes: bytes('Stored this time.') });
    expect(await usage(b)).toEqual({ documents: 0, storedBytes: 0 });
  });
});

describe('migration 0003 (one document per name)', () => {
  it('applies over existing duplicates: the oldest keeps the name, the others are renamed and audited, nothing is deleted', async () => {
    const [a, b] = await twoTenants();
    const col = await createCollection(a, 'archive');
    const id = () => crypto.randomUUID();
    const [first, second, third, inCol1, inCol2, squatter, other] = [id(), id(), id(), id(), id(), id(), id()];
    const doc = (docId: string, tenantId: string, collectionId: string | null, name: string, createdAt: string) =>
      env.DB.prepare(
        "INSERT INTO documents (id, tenant_id, collection_id, name, source_type, content_hash, size_bytes, created_at) VALUES (?, ?, ?, ?, 'text', 'h', 1, ?)",
      ).bind(docId, tenantId, collectionId, name, createdAt);
    const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith('0003_'))!;
    expect(migration).toBeDefined();
    // One transaction: the index is dropped, the duplicates a database made before 0003 could
    // hold are written, and the migration runs again, so no other test ever sees the table
    // without its index. The batch failing would be the migration failing.
    await env.DB.batch([
      env.DB.prepare('DROP INDEX documents_tenant_collection_name_idx'),
      doc(second, a.id, null, 'dup.txt', '2025-01-02T00:00:00.000Z'),
      doc(first, a.id, null, 'dup.txt', '2025-01-01T00:00:00.000Z'),
      doc(third, a.id, null, 'dup.txt', '2025-01-03T00:00:00.000Z'),
      doc(inCol1, a.id, col, 'dup.txt', '2025-01-01T00:00:00.000Z'),
      doc(inCol2, a.id, col, 'dup.txt', '2025-01-02T00:00:00.000Z'),
      // Already carries the name the third copy would get: that rename needs a random tail.
      doc(squatter, a.id, null, `dup.txt (duplicate ${third})`, '2025-01-01T00:00:00.000Z'),
      doc(other, b.id, null, 'dup.txt', '2025-01-05T00:00:00.000Z'),
      ...migration.queries.map((q) => env.DB.prepare(q)),
    ]);
    const names = Object.fromEntries(
      (await env.DB.prepare('SELECT id, name FROM documents WHERE tenant_id IN (?, ?)').bind(a.id, b.id).all<{ id: string; name: string }>()).results.map(
        (r) => [r.id, r.name],
      ),
    );
    expect(names[first]).toBe('dup.txt');
    expect(names[second]).toBe(`dup.txt (duplicate ${second})`);
    expect(names[third]).toMatch(new RegExp(`^dup\\.txt \\(duplicate ${third} [0-9a-f]{16}\\)$`));
    expect(names[inCol1]).toBe('dup.txt');
    expect(names[inCol2]).toBe(`dup.txt (duplicate ${inCol2})`);
    expect(names[squatter]).toBe(`dup.txt (duplicate ${third})`);
    expect(names[other]).toBe('dup.txt');
    const renames = (
      await env.DB.prepare("SELECT target_id, details FROM audit_log WHERE tenant_id = ? AND action = 'document.rename'").bind(a.id).all<{ target_id: string; details: string }>()
    ).results;
    expect(renames.map((r) => r.target_id).sort()).toEqual([second, third, inCol2].sort());
    expect(JSON.parse(renames.find((r) => r.target_id === second)!.details)).toMatchObject({ previousName: 'dup.txt', name: `dup.txt (duplicate ${second})` });
    expect(await audits(b, 'document.rename')).toBe(0);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'migration_0003_renames'").first('n')).toBe(0);
    // The index holds from here on, also for documents without a collection.
    await expect(doc(id(), a.id, null, 'dup.txt', '2025-02-01T00:00:00.000Z').run()).rejects.toThrow(/UNIQUE/);
    await expect(doc(id(), a.id, col, 'dup.txt', '2025-02-01T00:00:00.000Z').run()).rejects.toThrow(/UNIQUE/);
  });
});
