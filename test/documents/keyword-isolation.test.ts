/**
 * Keyword ranking depends only on the searching tenant's own data. The FTS5 index is one
 * table shared by every tenant; FTS5's bm25() would take N, document frequencies and the
 * average length from all of it, so tenant B adding (or deleting) documents that use a
 * query term would reorder tenant A's KEYWORD and HYBRID hits — a cross-tenant signal.
 *
 * The corpus is built so that the order of A's two relevant chunks depends on IDF: "alpha"
 * is rare in A and "beta" common. B then ingests hundreds of chunks full of "alpha", which
 * with global statistics makes "alpha" the common term and flips A's order.
 */
import { describe, expect, it } from 'vitest';
import { gql, twoTenants, type TestTenant } from '../helpers';
import { hits, ingestProcessed } from './doc-helpers';
import { bm25Ranking } from './keyword-helpers';

const QUERY = 'alpha beta';

/** A's documents: one chunk each. Only `rare` has alpha (twice); beta is in four chunks. */
const A_DOCS = {
  rare: 'The alpha alpha report covers quarterly numbers for the northern region.',
  common: 'The beta summary covers quarterly numbers for the southern region.',
  filler1: 'Beta testers reported the login page loads slowly on mobile phones.',
  filler2: 'The beta programme ends in March; feedback goes to the product team.',
  filler3: 'Release notes for the beta build list three fixed crashes.',
  other: 'Unrelated: the cafeteria menu changes every Monday.',
};

/** B's corpus: hundreds of chunks (one per section) that use "alpha" heavily. */
function bCorpus(sections: number, offset = 0): string {
  return Array.from({ length: sections }, (_, i) => `## Part ${offset + i}\n\nalpha alpha alpha channel ${offset + i} of the alpha rollout, alpha again.`).join('\n\n');
}

async function snapshot(a: TestTenant, names: Map<string, string>) {
  const out: Record<string, unknown> = {};
  for (const mode of ['KEYWORD', 'HYBRID'] as const) {
    const found = await hits(a, { query: QUERY, mode, topK: 10 });
    out[mode] = found.map((h) => ({ doc: names.get(h.document.id), chunkId: h.chunkId, score: h.score }));
  }
  // The raw BM25 scores behind KEYWORD's order (the API shows 1/rank), to the last bit.
  const { ranked, evidence } = await bm25Ranking(a, QUERY);
  out.bm25 = ranked.map((r) => ({ chunkId: r.id, score: r.score }));
  out.stats = { stats: evidence.stats, docFreq: evidence.docFreq };
  return out;
}

describe('keyword ranking is per tenant', () => {
  it('tenant B adding and deleting documents does not change A’s KEYWORD or HYBRID order or scores', async () => {
    const [a, b] = await twoTenants();
    const names = new Map<string, string>();
    for (const [name, text] of Object.entries(A_DOCS)) {
      const doc = await ingestProcessed(a, { name, text });
      expect(doc.status).toBe('COMPLETED');
      names.set(doc.id, name);
    }
    const before = await snapshot(a, names);
    // With A's own statistics the rare term wins: alpha (1 of 6 chunks) outweighs beta (4 of 6).
    const order = (before.KEYWORD as { doc: string }[]).map((h) => h.doc);
    expect(order[0]).toBe('rare');
    expect(order.slice(1).sort()).toEqual(['common', 'filler1', 'filler2', 'filler3']);
    expect(before.stats).toEqual({ stats: { chunks: 6, tokens: expect.any(Number) }, docFreq: [1, 4] });
    expect((before.HYBRID as { doc: string }[])[0]!.doc).toBe('rare');

    const bDocs: string[] = [];
    for (let d = 0; d < 2; d++) {
      const doc = await ingestProcessed(b, { name: `alpha-${d}.md`, text: bCorpus(150, d * 150) });
      expect(doc.status).toBe('COMPLETED');
      expect(doc.chunkCount).toBe(150);
      bDocs.push(doc.id);
    }
    // B's chunks really are in the shared index and match the query.
    expect((await hits(b, { query: QUERY, mode: 'KEYWORD', topK: 50, maxChunksPerDocument: 50 })).length).toBe(50);

    const afterIngest = await snapshot(a, names);
    expect(JSON.stringify(afterIngest)).toBe(JSON.stringify(before));

    for (const id of bDocs) {
      const r = await gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id }, { token: b.token });
      expect(r.body.data?.deleteDocument).toBe(true);
    }
    const afterDelete = await snapshot(a, names);
    expect(JSON.stringify(afterDelete)).toBe(JSON.stringify(before));
  });

  it('B’s own ranking uses B’s statistics, not A’s', async () => {
    const [a, b] = await twoTenants();
    await ingestProcessed(a, { name: 'a', text: bCorpus(40) });
    const doc = await ingestProcessed(b, { name: 'only', text: 'alpha and beta, once each.' });
    const { evidence } = await bm25Ranking(b, QUERY);
    expect(evidence.stats.chunks).toBe(1);
    expect(evidence.docFreq).toEqual([1, 1]);
    expect(evidence.candidates).toHaveLength(1);
    expect(evidence.candidates[0]!.id.startsWith(`${doc.id}:`)).toBe(true);
    expect(evidence.candidates[0]!.tf).toEqual([1, 1]);
  });
});
