/**
 * Stored citations keep their numbers: after a cited document is deleted, a stored answer's
 * `[n]` still refers to `sources[n-1]`. The deleted document's source stays in its place as
 * a placeholder that carries nothing of the document (no document, no text, no heading), and
 * no other tenant's document ever fills a place.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { gql, twoTenants, type TestTenant } from '../helpers';
import { deliver, getDocument, ingestProcessed, makePdf, upload } from '../documents/doc-helpers';
import { ask } from './chat-helpers';

const MESSAGES = `query($id: ID!) {
  conversation(id: $id) { messages { role content sources { chunkId chunkIndex score page heading text documentDeleted document { id name } } } }
}`;
const DELETE_DOCUMENT = 'mutation($id: ID!) { deleteDocument(id: $id) }';

// A two-page PDF (one chunk per page) so the manual can be cited twice, plus two other documents.
const MANUAL_PAGES = [
  'The pump pressure limit is six bar; the marker MANUAL-SECRET-ONE is printed on the valve.',
  'The pump relief valve opens at pump pressure above five bar, marker MANUAL-SECRET-TWO.',
];
const NOTES = 'Notes: the pump pressure was checked in May and the pump was fine.';
const NOTES2 = 'More notes: pump pressure readings are logged by the night shift.';

async function library(t: TestTenant) {
  const pdf = makePdf(MANUAL_PAGES);
  const uploaded = await upload(t, { name: 'Manual' }, new File([pdf], 'manual.pdf', { type: 'application/pdf' }));
  expect(uploaded.body.errors).toBeUndefined();
  await deliver(uploaded.body.data.ingestDocument.id);
  const manual = await getDocument(t, uploaded.body.data.ingestDocument.id);
  expect(manual.chunkCount).toBe(2);
  const notes = await ingestProcessed(t, { name: 'notes', text: NOTES });
  const notes2 = await ingestProcessed(t, { name: 'notes2.md', text: NOTES2 });
  for (const d of [manual, notes, notes2]) expect(d.status).toBe('COMPLETED');
  return { manual: manual.id as string, notes: notes.id as string, notes2: notes2.id as string };
}

async function storedAnswer(t: TestTenant, conversationId: string) {
  const r = await gql(MESSAGES, { id: conversationId }, { token: t.token });
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data.conversation.messages[1];
}

/** The numbers cited in an answer text: [1], [2][3], … */
const cited = (text: string) => [...new Set([...text.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1])))];

describe('stored citations after a cited document is deleted', () => {
  it('keep their numbers: the deleted document becomes a placeholder in place, the others are unchanged', async () => {
    const [a, b] = await twoTenants();
    const A = await library(a);
    // Tenant B has a document of the same name, with its own secret.
    const bManual = await ingestProcessed(b, { name: 'Manual', text: 'The pump pressure limit at Globex is BRAVO-SECRET bar.' });

    const answer = (await ask(a.token, { question: 'What is the pump pressure limit?', topK: 5 })).body.data.ask;
    const before = answer.sources.map((s: any) => ({ chunkId: s.chunkId, chunkIndex: s.chunkIndex, score: s.score, page: s.page, documentId: s.document.id }));
    const manualPlaces = before.flatMap((s: any, i: number) => (s.documentId === A.manual ? [i] : []));
    // The scenario the bug needs: the manual is cited (twice) and other documents come after it.
    expect(manualPlaces.length).toBe(2);
    expect(before.some((s: any) => s.documentId !== A.manual)).toBe(true);
    expect(cited(answer.text).some((n) => manualPlaces.includes(n - 1))).toBe(true);
    const bAnswer = (await ask(b.token, { question: 'What is the pump pressure limit?' })).body.data.ask;

    expect((await gql(DELETE_DOCUMENT, { id: A.manual }, { token: a.token })).body.errors).toBeUndefined();

    const stored = await storedAnswer(a, answer.conversation.id);
    expect(stored.content).toBe(answer.text);
    expect(stored.sources).toHaveLength(before.length);
    stored.sources.forEach((s: any, i: number) => {
      expect(s.chunkId, `source ${i + 1}`).toBe(before[i].chunkId);
      if (manualPlaces.includes(i)) {
        // Its place and position stay (page, chunk index, score); nothing of the document does.
        expect(s, `source ${i + 1}`).toEqual({
          chunkId: before[i].chunkId, chunkIndex: before[i].chunkIndex, score: before[i].score, page: before[i].page,
          heading: null, text: '', documentDeleted: true, document: null,
        });
      } else {
        expect(s.documentDeleted, `source ${i + 1}`).toBe(false);
        expect(s.document.id, `source ${i + 1}`).toBe(before[i].documentId);
        expect(s.text.length).toBeGreaterThan(0);
      }
    });
    // Every [n] in the stored answer still names the source it named when it was given.
    for (const n of cited(stored.content)) expect(stored.sources[n - 1].chunkId).toBe(before[n - 1].chunkId);
    // The deleted passages are not served from the stored snapshot, and B's same-named document never stands in.
    const sourcesJson = JSON.stringify(stored.sources);
    expect(sourcesJson).not.toContain('MANUAL-SECRET');
    expect(sourcesJson).not.toContain(bManual.id);
    expect(sourcesJson).not.toContain('BRAVO-SECRET');

    // Tenant B's conversation is untouched by A's delete.
    const bStored = await storedAnswer(b, bAnswer.conversation.id);
    expect(bStored.sources.map((s: any) => [s.documentDeleted, s.document.id])).toEqual(bAnswer.sources.map((s: any) => [false, s.document.id]));
  });

  it("a stored source naming another tenant's document is a placeholder, never that document or its text", async () => {
    const [a, b] = await twoTenants();
    const A = await library(a);
    const bDoc = await ingestProcessed(b, { name: 'notes', text: 'Globex pump pressure notes with BRAVO-SECRET inside.' });
    const answer = (await ask(a.token, { question: 'What is the pump pressure limit?' })).body.data.ask;
    const bChunk = await env.DB.prepare('SELECT id FROM chunks WHERE document_id = ?').bind(bDoc.id).first<{ id: string }>();
    // A stored answer can only cite the tenant's own chunks; forge one that does not, as corrupt data would.
    await env.DB.prepare(
      `INSERT INTO messages (id, tenant_id, conversation_id, role, content, sources, model, created_at) VALUES (?, ?, ?, 'assistant', 'forged [1] [2]', ?, 'extractive-offline', ?)`,
    )
      .bind(crypto.randomUUID(), a.id, answer.conversation.id, JSON.stringify([
        { chunkId: bChunk!.id, documentId: bDoc.id, chunkIndex: 0, score: 1, text: 'BRAVO-SECRET', page: null, heading: 'BRAVO-SECRET' },
        { chunkId: answer.sources[0].chunkId, documentId: answer.sources[0].document.id, chunkIndex: 0, score: 1, text: 'own text', page: null, heading: null },
      ]), new Date(Date.now() + 60_000).toISOString())
      .run();
    const messages = (await gql(MESSAGES, { id: answer.conversation.id }, { token: a.token })).body.data.conversation.messages;
    const forged = messages.at(-1);
    expect(forged.sources).toHaveLength(2);
    expect(forged.sources[0]).toMatchObject({ documentDeleted: true, document: null, text: '', heading: null });
    expect(forged.sources[1]).toMatchObject({ documentDeleted: false, text: 'own text', document: { id: answer.sources[0].document.id } });
    expect(JSON.stringify(messages)).not.toContain('BRAVO-SECRET');
    expect(messages.flatMap((m: any) => m.sources).map((s: any) => s.document?.id)).not.toContain(bDoc.id);
    expect([A.manual, A.notes, A.notes2]).toContain(answer.sources[0].document.id);
  });
});
