/**
 * Two tenants with the same text never see each other's hits: every mode, every filter
 * combination, including filters that name the other tenant's document/collection ids.
 */
import { describe, expect, it } from 'vitest';
import { codeOf, gql, twoTenants, type TestTenant } from '../helpers';
import { getDocument, hits, ingestProcessed, MODES, vectorCount } from './doc-helpers';

const TEXT = 'The secret launch code for project Nightingale is stored in the blue vault.';

async function setup(t: TestTenant) {
  const col = await gql('mutation { createCollection(input: { name: "ops" }) { id } }', {}, { token: t.token });
  const collectionId = col.body.data.createCollection.id as string;
  const doc = await ingestProcessed(t, { name: 'launch.txt', text: TEXT, collectionId, tags: ['secret'] });
  expect(doc.status).toBe('COMPLETED');
  return { collectionId, documentId: doc.id as string };
}

describe('tenant isolation in search', () => {
  it('filters naming the other tenant’s ids find nothing; own ids find only own', async () => {
    const [a, b] = await twoTenants();
    const A = await setup(a);
    const B = await setup(b);
    expect(await vectorCount(a.id)).toBe(1);
    expect(await vectorCount(b.id)).toBe(1);
    const filters: { filter: Record<string, unknown> | null; own: boolean }[] = [
      { filter: null, own: true },
      { filter: { documentIds: [A.documentId] }, own: true },
      { filter: { collectionIds: [A.collectionId] }, own: true },
      { filter: { tags: ['secret'] }, own: true },
      { filter: { documentIds: [A.documentId], collectionIds: [A.collectionId], tags: ['secret'] }, own: true },
      { filter: { documentIds: [A.documentId, B.documentId] }, own: true },
      { filter: { collectionIds: [A.collectionId, B.collectionId] }, own: true },
      { filter: { documentIds: [B.documentId] }, own: false },
      { filter: { collectionIds: [B.collectionId] }, own: false },
      { filter: { documentIds: [B.documentId], collectionIds: [B.collectionId], tags: ['secret'] }, own: false },
      { filter: { documentIds: [A.documentId], collectionIds: [B.collectionId] }, own: false },
      { filter: { documentIds: [B.documentId], collectionIds: [A.collectionId] }, own: false },
    ];
    for (const [t, own, other] of [[a, A, B], [b, B, A]] as const) {
      for (const mode of MODES) {
        for (const f of filters) {
          // Swap the perspective: "A" ids are always the searching tenant's own.
          const filter = f.filter && JSON.parse(JSON.stringify(f.filter).replaceAll(A.documentId, '§D').replaceAll(A.collectionId, '§C')
            .replaceAll(B.documentId, other.documentId).replaceAll(B.collectionId, other.collectionId)
            .replaceAll('§D', own.documentId).replaceAll('§C', own.collectionId));
          const found = await hits(t, { query: 'secret launch code Nightingale vault', mode, topK: 10, filter });
          const label = `${mode} ${JSON.stringify(f.filter)}`;
          expect(found.every((h) => h.document.id === own.documentId), label).toBe(true);
          expect(found.length, label).toBe(f.own ? 1 : 0);
        }
      }
    }
  });

  it('cannot read, delete or replace the other tenant’s document', async () => {
    const [a, b] = await twoTenants();
    const A = await setup(a);
    const B = await setup(b);
    expect(await getDocument(a, B.documentId)).toBeNull();
    const del = await gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id: B.documentId }, { token: a.token });
    expect(codeOf(del)).toBe('NOT_FOUND');
    expect(del.body.errors![0]!.message).toBe('Document not found');
    // Same name in tenant A is A's own document, never B's.
    const again = await ingestProcessed(a, { name: 'launch.txt', text: 'Different words entirely.', collectionId: A.collectionId });
    expect(again.id).toBe(A.documentId);
    for (const mode of MODES) {
      const found = await hits(b, { query: 'secret launch code Nightingale vault', mode });
      expect(found.map((h) => h.document.id), mode).toEqual([B.documentId]);
    }
    const docs = await gql('{ documents { edges { node { id } } } }', {}, { token: a.token });
    expect(docs.body.data.documents.edges.map((e: any) => e.node.id)).toEqual([A.documentId]);
  });
});
