/**
 * Grounded answers over real ingested documents (offline provider): the right document
 * is cited, filters are honoured, citations survive streaming, and another tenant's
 * documents never reach the sources or the text.
 */
import { describe, expect, it } from 'vitest';
import { createTenant, gql, twoTenants, type TestTenant } from '../helpers';
import { ingestProcessed } from '../documents/doc-helpers';
import { ask, askStream, CONVERSATION } from './chat-helpers';

const REFUNDS = [
  '# Refunds',
  'Refunds for annual plans are paid within 14 days of the cancellation request.',
  'Monthly plans are not refunded; they simply stop at the end of the month.',
].join('\n\n');
const OFFICE = [
  '# Offices',
  'The Lisbon office opens at 9am and closes at 6pm on weekdays.',
  'Visitors sign in at the reception on the ground floor.',
].join('\n\n');

async function handbook(t: TestTenant) {
  const refunds = await ingestProcessed(t, { name: 'refunds.md', text: REFUNDS, tags: ['billing'] });
  const office = await ingestProcessed(t, { name: 'office.md', text: OFFICE, tags: ['facilities'] });
  expect(refunds.status).toBe('COMPLETED');
  expect(office.status).toBe('COMPLETED');
  return { refunds: refunds.id as string, office: office.id as string };
}

describe('grounded answers (offline provider)', () => {
  it('cites the document that answers the question, first', async () => {
    const t = await createTenant();
    const docs = await handbook(t);
    const r = await ask(await t.tokenFor('member'), { question: 'How fast are refunds for annual plans paid?' });
    expect(r.body.errors).toBeUndefined();
    const a = r.body.data.ask;
    expect(a.model).toBe('extractive-offline');
    expect(a.sources[0].document.id).toBe(docs.refunds);
    expect(a.text).toContain('Refunds for annual plans are paid within 14 days of the cancellation request. [1]');
    expect(a.text).not.toContain('Lisbon');
    // The stored answer keeps its citations.
    const stored = a.conversation.messages[1];
    expect(stored.sources.map((s: any) => s.chunkId)).toEqual(a.sources.map((s: any) => s.chunkId));
    expect(stored.sources[0].document.id).toBe(docs.refunds);
  });

  it('honours filters and topK', async () => {
    const t = await createTenant();
    const docs = await handbook(t);
    // Each question matches both documents, the excluded one better: the filter decides.
    const onlyOffice = (await ask(t.token, { question: 'How fast are refunds paid at the office?', filter: { documentIds: [docs.office] } })).body.data.ask;
    expect(onlyOffice.sources.length).toBeGreaterThan(0);
    expect(new Set(onlyOffice.sources.map((s: any) => s.document.id))).toEqual(new Set([docs.office]));
    expect(onlyOffice.text).not.toContain('14 days');
    const byTag = (await ask(t.token, { question: 'When are refunds paid and when does the office open?', filter: { tags: ['billing'] } })).body.data.ask;
    expect(new Set(byTag.sources.map((s: any) => s.document.id))).toEqual(new Set([docs.refunds]));
    const one = (await ask(t.token, { question: 'refunds office', topK: 1 })).body.data.ask;
    expect(one.sources).toHaveLength(1);
  });

  it('askStream: the SOURCES event carries the cited document and the stored message keeps the same citations', async () => {
    const t = await createTenant();
    const docs = await handbook(t);
    const token = await t.tokenFor('member');
    const s = await askStream(token, { question: 'When does the Lisbon office open?' });
    const sources = s.payloads.find((p) => p.type === 'SOURCES').sources;
    const done = s.payloads.at(-1);
    expect(done.type).toBe('DONE');
    expect(sources[0].document.id).toBe(docs.office);
    expect(done.text).toContain('The Lisbon office opens at 9am and closes at 6pm on weekdays. [1]');
    const stored = (await gql(CONVERSATION, { id: done.conversationId }, { token })).body.data.conversation.messages[1];
    expect(stored.content).toBe(s.payloads.filter((p) => p.type === 'DELTA').map((p) => p.delta).join(''));
    expect(stored.sources.map((x: any) => x.chunkId)).toEqual(sources.map((x: any) => x.chunkId));
  });

  it("another tenant's documents never appear in sources or text", async () => {
    const [a, b] = await twoTenants();
    await handbook(a);
    const secret = await ingestProcessed(b, {
      name: 'launch.md',
      text: 'Refunds for annual plans at Globex are paid within 2 hours with launch code PURPLE-OTTER-7781.',
    });
    const question = 'How fast are refunds for annual plans paid? What is the launch code?';
    // B's own ask finds it, so the question does reach that document when it is allowed to.
    const own = (await ask(b.token, { question })).body.data.ask;
    expect(own.sources.map((s: any) => s.document.id)).toContain(secret.id);
    expect(own.text).toContain('PURPLE-OTTER-7781');

    const r = (await ask(a.token, { question })).body.data.ask;
    expect(r.sources.length).toBeGreaterThan(0);
    expect(r.sources.map((s: any) => s.document.id)).not.toContain(secret.id);
    expect(JSON.stringify(r)).not.toContain('PURPLE-OTTER');
    expect(JSON.stringify(r)).not.toContain('2 hours');
    // Naming B's document in the filter does not help either.
    const filtered = (await ask(a.token, { question, filter: { documentIds: [secret.id] } })).body.data.ask;
    expect(filtered.sources).toEqual([]);
    expect(filtered.text).not.toContain('PURPLE-OTTER');
    const s = await askStream(a.token, { question });
    expect(JSON.stringify(s.payloads)).not.toContain('PURPLE-OTTER');
    expect(s.payloads.find((p) => p.type === 'SOURCES').sources.map((x: any) => x.document.id)).not.toContain(secret.id);
  });

  it('a deleted document is no longer cited by stored messages: its sources keep their places as empty placeholders', async () => {
    const t = await createTenant();
    const docs = await handbook(t);
    const a = (await ask(t.token, { question: 'How fast are refunds for annual plans paid?' })).body.data.ask;
    expect(a.sources.map((s: any) => s.document.id)).toContain(docs.refunds);
    expect((await gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id: docs.refunds }, { token: t.token })).body.errors).toBeUndefined();
    const stored = (await gql(CONVERSATION, { id: a.conversation.id }, { token: t.token })).body.data.conversation.messages[1];
    expect(stored.sources.map((s: any) => s.document?.id)).not.toContain(docs.refunds);
    expect(stored.sources.map((s: any) => s.chunkId)).toEqual(a.sources.map((s: any) => s.chunkId));
    stored.sources.forEach((s: any, i: number) => {
      if (a.sources[i].document.id === docs.refunds) expect(s).toMatchObject({ document: null, text: '' });
      else expect(s.document.id).toBe(a.sources[i].document.id);
    });
    expect(JSON.stringify(stored.sources)).not.toContain('14 days');
  });
});
