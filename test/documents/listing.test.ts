/** documents(filter:) listing: filters run in D1 over all of the tenant's documents, never over a window of them. */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { gql, twoTenants } from '../helpers';

/** Inserts `n` document rows directly (listing does not care how they were ingested). */
async function seedDocuments(tenantId: string, n: number, tags: string[], prefix: string, year: number): Promise<void> {
  const stmt = env.DB.prepare(
    `INSERT INTO documents (id, tenant_id, name, source_type, content_hash, tags, created_at) VALUES (?, ?, ?, 'text', 'h', ?, ?)`,
  );
  const rows = Array.from({ length: n }, (_, i) =>
    stmt.bind(crypto.randomUUID(), tenantId, `${prefix}-${i}`, JSON.stringify(tags), new Date(Date.UTC(year, 0, 1) + i).toISOString()),
  );
  for (let i = 0; i < rows.length; i += 100) await env.DB.batch(rows.slice(i, i + 100));
}

const byTag = async (token: string, tag: string, after?: string) =>
  (await gql('query($tag: String, $after: String) { documents(first: 10, after: $after, filter: { tag: $tag }) { edges { node { name } } pageInfo { hasNextPage endCursor } } }', { tag, after }, { token })).body.data.documents;

describe('documents(filter: { tag })', () => {
  it('finds tagged documents behind more than 1,000 untagged ones, and pages through them', async () => {
    const [a, b] = await twoTenants();
    await seedDocuments(a.id, 1_005, ['other'], 'old', 2020);
    await seedDocuments(a.id, 12, ['wanted'], 'new', 2021);
    await seedDocuments(b.id, 3, ['wanted'], 'b', 2021);
    const page1 = await byTag(a.token, 'wanted');
    expect(page1.edges).toHaveLength(10);
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = await byTag(a.token, 'wanted', page1.pageInfo.endCursor);
    expect(page2.edges).toHaveLength(2);
    expect(page2.pageInfo.hasNextPage).toBe(false);
    expect([...page1.edges, ...page2.edges].every((e: { node: { name: string } }) => e.node.name.startsWith('new-'))).toBe(true);
    // The other tenant's tagged documents are neither listed nor counted.
    expect((await byTag(b.token, 'wanted')).edges).toHaveLength(3);
  });
});
