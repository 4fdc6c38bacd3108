/**
 * Through GraphQL: HYBRID fusion weights (request, tenant setting, defaults), the per-document
 * cap and groupByDocument of search, and ask's uncapped context. Two tenants each time.
 */
import { describe, expect, it } from 'vitest';
import { ask } from '../chat/chat-helpers';
import { codeOf, createTenant, gql, twoTenants, type TestTenant } from '../helpers';
import { hits, ingestProcessed, MODES, search } from '../documents/doc-helpers';

const settings = (t: TestTenant, input: Record<string, unknown>) =>
  gql(`mutation($input: TenantSettingsInput!) { updateTenantSettings(input: $input) { settings { retrievalWeights { keyword vector } searchMaxChunksPerDocument rerank } } }`, { input }, { token: t.token });

/** A long manual whose every section mentions the query's words, and a short note that answers it. */
async function crowdedTenant(t: TestTenant) {
  const sections = Array.from({ length: 12 }, (_, i) => `## Pump ${i}\n\nThe pump maintenance schedule for unit ${i} is written in the logbook every week.`).join('\n\n');
  const manual = await ingestProcessed(t, { name: 'manual.md', text: sections });
  const note = await ingestProcessed(t, { name: 'note.md', text: 'Pump maintenance schedule: the winter schedule moves to Mondays.' });
  return { manual, note };
}

describe('search diversity', () => {
  it('takes at most 2 hits per document by default, so a long document cannot crowd out the rest', async () => {
    const [t, other] = await twoTenants();
    const { manual, note } = await crowdedTenant(t);
    await crowdedTenant(other);
    for (const mode of MODES) {
      const found = await hits(t, { query: 'pump maintenance schedule', mode, topK: 5 });
      const perDoc = (id: string) => found.filter((h) => h.document.id === id).length;
      expect(perDoc(manual.id), mode).toBe(2);
      expect(perDoc(note.id), mode).toBe(1);
      expect(found.every((h) => [manual.id, note.id].includes(h.document.id)), mode).toBe(true);
      // The cap is the request's to change; a tenant default sits between.
      expect((await hits(t, { query: 'pump maintenance schedule', mode, topK: 6, maxChunksPerDocument: 5 })).filter((h) => h.document.id === manual.id), mode).toHaveLength(5);
    }
    expect((await settings(t, { searchMaxChunksPerDocument: 1 })).body.errors).toBeUndefined();
    expect((await hits(t, { query: 'pump maintenance schedule', topK: 5 })).map((h) => h.document.id).sort()).toEqual([manual.id, note.id].sort());
    // The other tenant's default is untouched.
    expect((await hits(other, { query: 'pump maintenance schedule', topK: 5 })).length).toBe(3);
    expect((await settings(t, { searchMaxChunksPerDocument: null })).body.data.updateTenantSettings.settings.searchMaxChunksPerDocument).toBeNull();
    expect(await hits(t, { query: 'pump maintenance schedule', topK: 5 })).toHaveLength(3);
  });

  it('groups hits by document; with groupByDocument topK counts documents', async () => {
    const t = await createTenant();
    const { manual, note } = await crowdedTenant(t);
    const r = await gql(
      `query($i: SearchInput!) { search(input: $i) { hits { document { id } } groups { score document { id } hits { chunkIndex document { id } } } } }`,
      { i: { query: 'pump maintenance schedule', topK: 2, groupByDocument: true, maxChunksPerDocument: 3 } },
      { token: t.token },
    );
    expect(r.body.errors).toBeUndefined();
    const { hits: flat, groups } = r.body.data.search;
    expect(groups.map((g: { document: { id: string } }) => g.document.id).sort()).toEqual([manual.id, note.id].sort());
    const sizes = Object.fromEntries(groups.map((g: { document: { id: string }; hits: unknown[] }) => [g.document.id, g.hits.length]));
    expect(sizes).toEqual({ [manual.id]: 3, [note.id]: 1 });
    expect(flat).toHaveLength(4);
    for (const g of groups) for (const h of g.hits) expect(h.document.id).toBe(g.document.id);
  });

  it('leaves ask uncapped: several passages of one document may be its context', async () => {
    const t = await createTenant();
    const { manual } = await crowdedTenant(t);
    const r = await ask(t.token, { question: 'What is the pump maintenance schedule?', topK: 5 });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.ask.sources.filter((s: { document: { id: string } }) => s.document.id === manual.id).length).toBeGreaterThan(2);
  });

  it.each([0, 51])('refuses maxChunksPerDocument %i and searchMaxChunksPerDocument %i naming the field', async (n) => {
    const t = await createTenant();
    const r = await search(t, { query: 'pump', maxChunksPerDocument: n });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.body.errors![0]!.extensions!.field).toBe('maxChunksPerDocument');
    const s = await settings(t, { searchMaxChunksPerDocument: n });
    expect(codeOf(s)).toBe('BAD_USER_INPUT');
    expect(s.body.errors![0]!.extensions!.field).toBe('searchMaxChunksPerDocument');
  });
});

describe('HYBRID fusion weights', () => {
  /**
   * The order that motivated the change (issue 17): the answer is the keyword list's clear
   * first hit (the only chunk with the rare word "zephyr"; "lantern" is in every chunk, so
   * BM25 gives it almost no weight), but the hashed vector list, which has no idf, prefers the
   * short chunk full of the common word. Plain RRF (1:1) sees only ranks and lets that chunk
   * (2nd by keyword, 1st by vector) win; the default fusion keeps the answer first.
   */
  async function motivatingTenant(t: TestTenant) {
    const filler = 'The quarterly report covers budgets, staffing, travel, training, facilities and other routine topics of the office';
    const answer = await ingestProcessed(t, { name: 'answer', text: `${filler}. The zephyr valve must be replaced every spring; zephyr parts are beside the lantern in store room B. ${filler}.` });
    const middling = await ingestProcessed(t, { name: 'middling', text: 'Lantern, lantern, lantern.' });
    for (let i = 0; i < 6; i++) await ingestProcessed(t, { name: `lantern-${i}`, text: `Lantern ${i} hangs in hall ${i}.` });
    return { answer, middling };
  }

  it('pins the orders: RRF 1:1 puts the middling chunk first, the default keeps the keyword list’s clear winner', async () => {
    const [t, other] = await twoTenants();
    const { answer, middling } = await motivatingTenant(t);
    await motivatingTenant(other);
    const first = async (input: Record<string, unknown>) => (await hits(t, { query: 'zephyr lantern', topK: 5, ...input }))[0]!.document.id;
    expect(await first({ mode: 'KEYWORD' })).toBe(answer.id);
    expect(await first({ mode: 'HYBRID', fusion: 'RRF', weights: { keyword: 1, vector: 1 } })).toBe(middling.id);
    expect(await first({ mode: 'HYBRID' })).toBe(answer.id);
    // A tenant that trusts its vectors more can say so, and its neighbour is unaffected.
    expect((await settings(t, { retrievalWeights: { keyword: 1, vector: 10 } })).body.data.updateTenantSettings.settings.retrievalWeights).toEqual({ keyword: 1, vector: 10 });
    expect(await first({ mode: 'HYBRID' })).not.toBe(answer.id);
    expect(await first({ mode: 'HYBRID', weights: { keyword: 1, vector: 0.25 } })).toBe(answer.id);
    expect((await hits(other, { query: 'zephyr lantern', topK: 5 }))[0]!.document.name).toBe('answer');
    expect((await settings(t, { retrievalWeights: null })).body.data.updateTenantSettings.settings.retrievalWeights).toBeNull();
    expect(await first({ mode: 'HYBRID' })).toBe(answer.id);
  });

  it.each([
    [{ keyword: -1, vector: 1 }, 'weights.keyword'],
    [{ keyword: 1, vector: 10.5 }, 'weights.vector'],
    [{ keyword: 0, vector: 0 }, 'weights'],
  ])('refuses weights %j naming %s, in search and in the tenant setting', async (w, field) => {
    const t = await createTenant();
    const r = await search(t, { query: 'x', weights: w });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.body.errors![0]!.extensions!.field).toBe(field);
    const s = await settings(t, { retrievalWeights: w });
    expect(codeOf(s)).toBe('BAD_USER_INPUT');
    expect(s.body.errors![0]!.extensions!.field).toBe(field.replace('weights', 'retrievalWeights'));
  });

  it('lets only admins change the weights', async () => {
    const t = await createTenant();
    const r = await gql(`mutation { updateTenantSettings(input: { retrievalWeights: { keyword: 1, vector: 1 } }) { id } }`, {}, { token: await t.tokenFor('member') });
    expect(codeOf(r)).toBe('FORBIDDEN');
  });
});
