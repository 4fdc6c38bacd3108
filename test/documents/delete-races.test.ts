/**
 * Deletes and revokes under concurrency (issue 9, item 1). Every one of these reads the row,
 * then changes it; only the request whose statement actually removed (or revoked) the row may
 * answer as if it did, give usage back and write the audit row. Requests are fired together
 * with Promise.all through the Worker, so they interleave at every await (auth, guard, D1).
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { codeOf, createApiKey, gql, twoTenants, type GqlResult, type TestTenant } from '../helpers';
import { deliver, ingest, ingestProcessed } from './doc-helpers';

const N = 10;

const usage = async (t: TestTenant): Promise<{ documents: number; storedBytes: number }> =>
  (await gql('{ usage { documents storedBytes } }', {}, { token: t.token })).body.data.usage;

const audits = async (t: TestTenant, action: string): Promise<number> =>
  (await env.DB.prepare('SELECT count(*) AS n FROM audit_log WHERE tenant_id = ? AND action = ?').bind(t.id, action).first<{ n: number }>())!.n;

/** What the tenant stores, as the plan must count it: documents and original + derived bytes. */
const stored = async (t: TestTenant) =>
  (await env.DB.prepare('SELECT count(*) AS documents, coalesce(sum(size_bytes + indexed_bytes), 0) AS storedBytes FROM documents WHERE tenant_id = ?').bind(t.id).first<{ documents: number; storedBytes: number }>())!;

/** Exactly one answer is `expected`, every other one NOT_FOUND. */
function oneWinner(results: GqlResult[], field: string, expected: unknown) {
  const wins = results.filter((r) => !r.body.errors && r.body.data?.[field] !== undefined);
  expect(wins.map((r) => r.body.data[field])).toEqual([expected]);
  const losers = results.filter((r) => r.body.errors);
  expect(losers).toHaveLength(results.length - 1);
  for (const r of losers) {
    expect(codeOf(r)).toBe('NOT_FOUND');
    expect(r.status).toBe(404);
  }
}

describe('concurrent deleteDocument of one id', () => {
  it('answers true once and NOT_FOUND otherwise; usage goes down once, one audit row', async () => {
    const [a, b] = await twoTenants();
    const doc = await ingestProcessed(a, { name: 'gone.txt', text: 'This document is deleted ten times at once.' });
    await ingestProcessed(a, { name: 'kept.txt', text: 'This one stays.' });
    await ingestProcessed(b, { name: 'gone.txt', text: 'The other tenant keeps its own.' });
    const before = await usage(a);
    const results = await Promise.all(Array.from({ length: N }, () => gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id: doc.id }, { token: a.token })));
    oneWinner(results, 'deleteDocument', true);
    expect(await audits(a, 'document.delete')).toBe(1);
    expect(await usage(a)).toEqual(await stored(a));
    expect(await usage(a)).toEqual({ documents: before.documents - 1, storedBytes: before.storedBytes - doc.sizeBytes - doc.indexedBytes });
    expect(await usage(b)).toEqual(await stored(b));
    expect((await usage(b)).documents).toBe(1);
  });

  it('cannot be used to store more documents than the plan allows', async () => {
    const [a] = await twoTenants({ limits: { documents: 3 } });
    const ids: string[] = [];
    for (const name of ['one', 'two', 'three']) ids.push((await ingest(a, { name, text: `Document ${name}.` })).body.data.ingestDocument.id);
    await Promise.all(Array.from({ length: N }, () => gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id: ids[0] }, { token: a.token })));
    expect((await usage(a)).documents).toBe(2);
    // One place was freed: one more document fits, the next is refused.
    expect(codeOf(await ingest(a, { name: 'four', text: 'Document four.' }))).toBeUndefined();
    expect(codeOf(await ingest(a, { name: 'five', text: 'Document five.' }))).toBe('QUOTA_EXCEEDED');
    expect((await stored(a)).documents).toBe(3);
  });

  it('racing a replacement of the same document leaves usage equal to what is stored', async () => {
    const [a] = await twoTenants();
    const doc = await ingestProcessed(a, { name: 'race.txt', text: 'First version of the text.' });
    const results = await Promise.all([
      gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id: doc.id }, { token: a.token }),
      ingest(a, { name: 'race.txt', text: 'A much longer second version of the same text, replacing the first one.' }),
      gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id: doc.id }, { token: a.token }),
    ]);
    expect(results.filter((r) => r.body.data?.deleteDocument === true)).toHaveLength(1);
    const replaced = results[1]!.body.data?.ingestDocument as { id: string } | undefined;
    if (replaced) await deliver(replaced.id).catch(() => undefined); // gone already, or a new document
    expect(await usage(a)).toEqual(await stored(a));
  });
});

describe('concurrent deleteCollection of one id', () => {
  it('answers true once, NOT_FOUND otherwise, with one audit row', async () => {
    const [a] = await twoTenants();
    const id = (await gql('mutation { createCollection(input: { name: "temp" }) { id } }', {}, { token: a.token })).body.data.createCollection.id;
    const results = await Promise.all(Array.from({ length: 5 }, () => gql('mutation($id: ID!) { deleteCollection(id: $id) }', { id }, { token: a.token })));
    oneWinner(results, 'deleteCollection', true);
    expect(await audits(a, 'collection.delete')).toBe(1);
  });
});

describe('concurrent deleteConversation of one id', () => {
  it('answers true once, NOT_FOUND otherwise, with one audit row', async () => {
    const [a, b] = await twoTenants();
    const asked = await gql('mutation { ask(input: { question: "What is the parking policy?" }) { conversation { id } } }', {}, { token: a.token });
    expect(asked.body.errors).toBeUndefined();
    const id = asked.body.data.ask.conversation.id;
    const results = await Promise.all(Array.from({ length: 5 }, () => gql('mutation($id: ID!) { deleteConversation(id: $id) }', { id }, { token: a.token })));
    oneWinner(results, 'deleteConversation', true);
    expect(await audits(a, 'conversation.delete')).toBe(1);
    expect(await audits(b, 'conversation.delete')).toBe(0);
  });
});

describe('concurrent revokeApiKey of one key', () => {
  it('revokes once (one audit row) and every answer names the same revocation', async () => {
    const [a] = await twoTenants();
    const key = await createApiKey(a, ['SEARCH']);
    const results = await Promise.all(Array.from({ length: 5 }, () => gql('mutation($id: ID!) { revokeApiKey(id: $id) { id revoked revokedAt } }', { id: key.id }, { token: a.token })));
    for (const r of results) expect(r.body.errors).toBeUndefined();
    const answers = results.map((r) => r.body.data.revokeApiKey);
    expect(new Set(answers.map((k) => k.revokedAt)).size).toBe(1);
    expect(answers.every((k) => k.revoked && k.id === key.id)).toBe(true);
    const row = await env.DB.prepare('SELECT revoked_at FROM api_keys WHERE id = ?').bind(key.id).first<{ revoked_at: string }>();
    expect(new Date(answers[0].revokedAt).toISOString()).toBe(new Date(row!.revoked_at).toISOString());
    expect(await audits(a, 'api_key.revoke')).toBe(1);
    // Revoking again is a no-op: same answer, no new audit row.
    const again = await gql('mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }', { id: key.id }, { token: a.token });
    expect(again.body.data.revokeApiKey.revokedAt).toBe(answers[0].revokedAt);
    expect(await audits(a, 'api_key.revoke')).toBe(1);
  });
});
