/**
 * Zero-relevance vector matches are not hits. A vector index returns its topK nearest
 * vectors whatever their distance; with the offline embedder a word that no document uses
 * gives a query vector orthogonal to every chunk (cosine 0). Such matches must not be
 * returned by VECTOR, must not pad HYBRID, and must not be what `ask` answers from.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { OfflineEmbeddings } from '../../src/ai/offline-embeddings';
import { RetrievalService } from '../../src/rag/retrieval';
import type { VectorMatch, VectorQuery, VectorStore } from '../../src/vector/types';
import { ask } from '../chat/chat-helpers';
import { twoTenants, type TestTenant } from '../helpers';
import { hits, ingestProcessed, MODES } from './doc-helpers';
import { scopeOf } from './keyword-helpers';

const HOLIDAYS = `# Holidays and leave

## Vacation
Every Acme employee gets 25 vacation days per calendar year. Up to five unused days carry
over to the next year and expire on 31 March.

## Sick leave
Report sick leave to your manager before 10:00 on the first day. From the fourth day a
doctor's note is required.`;
const EXPENSES = `# Expenses

## Claims
Upload receipts to the expense portal within 30 days. Claims are reimbursed with the next
monthly salary payment.`;

async function handbook(t: TestTenant) {
  const holidays = await ingestProcessed(t, { name: 'handbook/holidays.md', text: HOLIDAYS });
  const expenses = await ingestProcessed(t, { name: 'handbook/expenses.md', text: EXPENSES });
  expect([holidays.status, expenses.status]).toEqual(['COMPLETED', 'COMPLETED']);
  return { holidays: holidays.id as string, expenses: expenses.id as string };
}

describe('zero-relevance vector matches', () => {
  it('a word no document uses finds nothing in any mode; the tenant that uses it finds its own document', async () => {
    const [a, b] = await twoTenants();
    await handbook(a);
    const bDoc = await ingestProcessed(b, { name: 'music.md', text: 'The xylophone sits next to the tangerine crate in the band room.' });
    for (const mode of MODES) {
      expect(await hits(a, { query: 'xylophone', mode, topK: 3 }), mode).toEqual([]);
      expect(await hits(a, { query: 'tangerine', mode, topK: 5 }), mode).toEqual([]);
      const own = await hits(b, { query: 'xylophone', mode, topK: 3 });
      expect(own.map((h) => h.document.id), mode).toEqual([bDoc.id]);
      expect(own[0]!.score, mode).toBeGreaterThan(0);
    }
  });

  it('VECTOR returns only positive similarities, so HYBRID is not padded with unrelated chunks', async () => {
    const [a] = await twoTenants();
    const docs = await handbook(a);
    const vector = await hits(a, { query: 'vacation days xylophone', mode: 'VECTOR', topK: 10 });
    expect(vector.length).toBeGreaterThan(0);
    for (const h of vector) expect(h.score).toBeGreaterThan(0);
    // Only chunks that share a word with the query: the vacation section (and the claims one: "days").
    for (const h of vector) expect(h.text).toMatch(/vacation|days/i);
    const hybrid = await hits(a, { query: 'vacation xylophone', mode: 'HYBRID', topK: 10 });
    expect(hybrid.map((h) => h.document.id)).toEqual([docs.holidays]);
    expect(hybrid[0]!.text).toContain('25 vacation days');
  });

  it('applies to any vector store: matches with similarity <= 0 (or NaN) are dropped before the D1 re-check and fusion', async () => {
    const [a] = await twoTenants();
    await handbook(a);
    await ingestProcessed(a, { name: 'more.txt', text: 'One more chunk, so that four matches can be returned.' });
    const { results } = await env.DB.prepare('SELECT id FROM chunks WHERE tenant_id = ? ORDER BY id').bind(a.id).all<{ id: string }>();
    const ids = results.map((r) => r.id);
    expect(ids.length).toBeGreaterThanOrEqual(4);
    const scores = [0.25, 0, -0.4, Number.NaN];
    const seen: VectorQuery[] = [];
    const store: VectorStore = {
      upsert: async () => {},
      deleteByIds: async () => {},
      query: async (_ns: string, _v: number[], q: VectorQuery): Promise<VectorMatch[]> => {
        seen.push(q);
        return scores.map((score, i) => ({ id: ids[i]!, score, metadata: { tenant_id: a.id } }));
      },
    };
    const retriever = new RetrievalService({ scope: await scopeOf(a), vectors: store, embedder: new OfflineEmbeddings(384) });
    const vector = await retriever.search({ query: 'xylophone', topK: 5, mode: 'VECTOR' });
    expect(vector.map((h) => [h.chunkId, h.score])).toEqual([[ids[0], 0.25]]);
    // No keyword match for the word either: HYBRID holds only the one relevant vector match.
    const hybrid = await retriever.search({ query: 'xylophone', topK: 5, mode: 'HYBRID' });
    expect(hybrid.map((h) => h.chunkId)).toEqual([ids[0]]);
    expect(seen).toHaveLength(2);
  });

  it('ask answers "could not find" when nothing relevant is retrieved, instead of citing unrelated text', async () => {
    const [a, b] = await twoTenants();
    await handbook(a);
    await ingestProcessed(b, { name: 'chemistry.md', text: 'Mercury has a boiling point of 356.7 degrees Celsius.' });
    const r = (await ask(a.token, { question: 'What is the boiling point of mercury?' })).body.data.ask;
    expect(r.text).toMatch(/^I could not find anything about this in your documents\./);
    expect(r.text).not.toMatch(/\[\d+\]/);
    expect(r.sources).toEqual([]);
    // B, whose document answers it, gets that answer (and A's miss was not for lack of a working retriever).
    const own = (await ask(b.token, { question: 'What is the boiling point of mercury?' })).body.data.ask;
    expect(own.text).toContain('Mercury has a boiling point of 356.7 degrees Celsius. [1]');
    const vacation = (await ask(a.token, { question: 'How many vacation days does an employee get?' })).body.data.ask;
    expect(vacation.text).toContain('Every Acme employee gets 25 vacation days per calendar year. [1]');
  });

  it('ask quotes a sentence wrapped over two lines whole (a single line break is a space)', async () => {
    const [a] = await twoTenants();
    await handbook(a);
    const r = (await ask(a.token, { question: 'When do unused vacation days expire?' })).body.data.ask;
    expect(r.text).toContain('- Up to five unused days carry over to the next year and expire on 31 March. [1]');
    expect(r.text).not.toMatch(/carry \[\d+\]/);
  });
});
