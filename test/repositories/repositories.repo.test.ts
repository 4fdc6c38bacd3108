/**
 * The repository suite, run unchanged against every backend (DESIGN §11): D1 shared, regional
 * and dedicated in workerd (`npx vitest run --project workers`), libSQL in Node (`--project
 * node`). `#repo-backends` resolves to test/repositories/backends.workerd.ts or
 * backends.node.ts per project (vitest.config.ts), so one file pins both engines: a query
 * that works on one and not the other fails CI.
 */
import { backends } from '#repo-backends';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal';
import type { Database } from '../../src/db/client';
import type { TenantRow } from '../../src/db/schema';
import { tenantFences, tenants } from '../../src/db/schema';
import { SCHEMA_VERSION, schemaVersionOf } from '../../src/db/schema-version';
import { writeResidence } from '../../src/db/tenant-copy';
import { TenantScope } from '../../src/db/tenant-scope';
import { isFenceError } from '../../src/placement/fence';
import { ftsTerms } from '../../src/rag/fts-query';

const principal = (tenantId: string, role: Principal['role'] = 'admin'): Principal => ({
  kind: 'user', tenantRef: tenantId, userId: `u-${tenantId.slice(0, 8)}`, apiKeyId: null, role, scopes: [], platformAdmin: false, rateLimitPerMinute: null, collectionIds: null, agentIds: null,
});

async function tenantIn(db: Database, catalogue: Database): Promise<TenantScope> {
  const id = crypto.randomUUID();
  const ts = new Date().toISOString();
  const row: TenantRow = {
    id, slug: `r${id.slice(0, 8)}`, name: 'Repo Co', plan: 'pro', status: 'active', region: null, tier: 'shared',
    placement: 'shared', movingTo: null, settings: '{}', limits: '{}', createdAt: ts, updatedAt: ts, trialEndsAt: null,
  };
  await catalogue.insert(tenants).values(row).run();
  if (db !== catalogue) await writeResidence(db, row);
  return new TenantScope(db, row, principal(id), `req-${id.slice(0, 6)}`, catalogue);
}

const doc = (name: string, tenantId: string, id = crypto.randomUUID()) => ({
  id,
  accepted: {
    name, collectionId: null, sourceType: 'text' as const, mimeType: 'text/markdown', sourceUrl: null,
    contentHash: `h-${name}`, sizeBytes: 10, tags: ['t1'], metadata: { k: 1 }, objectKey: `${tenantId}/${id}/1-abc`,
  },
});

describe.each(backends.length ? backends : [{ name: 'no backend (see backends.node.ts)', open: null as never }])('repositories on $name', (backend) => {
  if (!backend.open) return void it.skip('libSQL backend disabled: migration 0007 does not parse on libSQL (backends.node.ts)', () => undefined);
  const two = async () => {
    const { db, catalogue } = await backend.open();
    return [await tenantIn(db, catalogue), await tenantIn(db, catalogue)] as const;
  };

  it('is at the code\'s schema version', async () => {
    const { db, catalogue } = await backend.open();
    expect(await schemaVersionOf(db)).toBe(SCHEMA_VERSION);
    expect(await schemaVersionOf(catalogue)).toBe(SCHEMA_VERSION);
  });

  it('collections: create, list, page, audit; names unique per tenant; the other tenant sees none', async () => {
    const [a, b] = await two();
    const c1 = await a.collections.create({ name: 'one', description: 'first' }, null);
    await a.collections.create({ name: 'two' }, null);
    await expect(a.collections.create({ name: 'one' }, null)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await b.collections.create({ name: 'one' }, null); // same name, other tenant: fine
    const page = await a.collections.list(1, null);
    expect(page.items.map((c) => c.name)).toEqual(['one']);
    expect(page.hasNextPage).toBe(true);
    expect(await a.collections.count()).toBe(2);
    expect(await b.collections.get(c1.id)).toBeNull();
    expect((await a.audit.list(10, null)).items.map((e) => e.action)).toEqual(['collection.create', 'collection.create']);
    await expect(b.collections.delete(c1.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await a.collections.delete(c1.id);
    expect(await a.collections.get(c1.id)).toBeNull();
  });

  it('documents: insert, conflict on name, claim, complete, list; foreign ids absent', async () => {
    const [a, b] = await two();
    const d = doc('a.md', a.tenantId);
    const inserted = await a.documents.insertPending(d.id, d.accepted);
    expect(inserted).toMatchObject({ id: d.id, status: 'pending', tags: '["t1"]' });
    expect(await a.documents.insertPending(crypto.randomUUID(), d.accepted)).toBeNull(); // same name
    expect(await a.documents.findByName('a.md', null)).toMatchObject({ id: d.id });
    const claimed = await a.documents.claim(d.id, d.accepted.objectKey);
    expect(claimed?.status).toBe('processing');
    expect(await a.documents.complete(d.id, d.accepted.objectKey, 1, 2, 0)).toBeTruthy();
    expect((await a.documents.get(d.id))?.status).toBe('completed');
    expect((await a.documents.list(10, null, { tag: 't1' })).items.map((r) => r.id)).toEqual([d.id]);
    expect(await b.documents.get(d.id)).toBeNull();
    expect(await b.documents.getMany([d.id])).toEqual([]);
    expect(await b.documents.claim(d.id, d.accepted.objectKey)).toBeNull();
  });

  it('chunks: versioned inserts, visibility through the document, keyword evidence per tenant', async () => {
    const [a, b] = await two();
    for (const [scope, text] of [[a, 'the quokka smiles at dawn'], [b, 'the quokka sleeps at noon']] as const) {
      const d = doc('q.md', scope.tenantId);
      await scope.documents.insertPending(d.id, d.accepted);
      await scope.chunks.insertVersion(d.id, 1, [{ id: `${d.id}:1:0`, chunkIndex: 0, text, page: null, heading: null, tokenCount: 5 }]);
      await scope.chunks.insertVersion(d.id, 1, [{ id: `${d.id}:1:0`, chunkIndex: 0, text, page: null, heading: null, tokenCount: 5 }]); // idempotent
      expect(await scope.chunks.ids(d.id)).toEqual([`${d.id}:1:0`]);
      await scope.documents.claim(d.id, d.accepted.objectKey);
      await scope.documents.complete(d.id, d.accepted.objectKey, 1, 1, 0);
    }
    const ev = await a.chunks.keywordEvidence(ftsTerms('quokka'));
    expect(ev.stats.chunks).toBe(1);
    expect(ev.candidates).toHaveLength(1);
    const [aId] = (await a.documents.list(10, null)).items.map((r) => r.id);
    expect((await a.chunks.visible([`${aId}:1:0`])).map((v) => v.chunk.text)).toEqual(['the quokka smiles at dawn']);
    expect(await b.chunks.visible([`${aId}:1:0`])).toEqual([]);
  });

  it('conversations: a turn is stored whole; owners see their own, admins all; the other tenant none', async () => {
    const [a, b] = await two();
    const now = new Date().toISOString();
    const c = { id: crypto.randomUUID(), title: 'Hello', createdAt: now, isNew: true, agentId: null };
    const m = (role: 'user' | 'assistant', content: string) => ({ id: crypto.randomUUID(), role, content, sources: [], model: null, promptTokens: 1, completionTokens: 2, createdAt: now });
    await a.conversations.appendTurn({ conversation: c, messages: [m('user', 'hi'), m('assistant', 'hello')], audit: { action: 'conversation.ask', targetId: c.id } });
    expect(await a.conversations.messageCount(c.id)).toBe(2);
    expect((await a.conversations.messages(c.id)).map((x) => x.content).sort()).toEqual(['hello', 'hi']);
    expect(await b.conversations.get(c.id)).toBeNull();
    await expect(b.conversations.delete(c.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await a.conversations.delete(c.id);
    expect(await a.conversations.get(c.id)).toBeNull();
  });

  it('catalogue repositories (API keys, members, settings) write the catalogue; the audit log merges both databases', async () => {
    const [a, b] = await two();
    const key = await a.apiKeys.create({ name: 'k', scopes: ['search'] });
    expect((await a.apiKeys.list()).map((k) => k.id)).toEqual([key.row.id]);
    expect(await b.apiKeys.get(key.row.id)).toBeNull();
    await a.members.recordSeen('alice', 'member');
    expect((await a.members.list()).map((m) => m.userId)).toEqual(['alice']);
    expect(await b.members.exists('alice')).toBe(false);
    const updated = await a.settings.update({ systemPrompt: 'Be brief.' });
    expect(JSON.parse(updated.settings)).toEqual({ systemPrompt: 'Be brief.' });
    await a.collections.create({ name: 'c' }, null);
    const actions = (await a.audit.list(10, null)).items.map((e) => e.action).sort();
    expect(actions).toEqual(['api_key.create', 'collection.create', 'tenant.settings.update']);
    const firstPage = await a.audit.list(2, null);
    expect(firstPage.hasNextPage).toBe(true);
    expect((await b.audit.list(10, null)).items).toEqual([]);
  });

  it('a move\'s fence refuses a tenant\'s writes as a whole batch, and only that tenant\'s', async () => {
    const [a, b] = await two();
    const kept = await a.collections.create({ name: 'before' }, null);
    await a.db.insert(tenantFences).values({ tenantId: a.tenantId, moveId: 'm1', reason: 'moving' }).run();
    const refused = await a.collections.create({ name: 'during' }, null).catch((e: unknown) => e);
    expect(isFenceError(refused)).toBe(true);
    await expect(a.collections.delete(kept.id).catch((e: unknown) => { throw isFenceError(e) ? new Error('fenced') : e; })).rejects.toThrow('fenced');
    // The batch rolled back: no collection, no audit row of the refused write.
    expect((await a.collections.list(10, null)).items.map((c) => c.name)).toEqual(['before']);
    expect((await a.audit.list(10, null)).items).toHaveLength(1);
    await b.collections.create({ name: 'other tenant' }, null);
  });
});
