/**
 * Helpers for keyword-ranking tests: a TenantScope built the way the request pipeline
 * builds it (so repository calls are tenant-bound exactly as in production), and the
 * service-level BM25 ranking that KEYWORD and HYBRID search use.
 */
import { env } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { databaseFor } from '../../src/db/client';
import { tenants } from '../../src/db/schema';
import { TenantScope } from '../../src/db/tenant-scope';
import { rankBm25 } from '../../src/rag/bm25';
import { ftsTerms } from '../../src/rag/fts-query';
import type { TestTenant } from '../helpers';

export async function scopeOf(t: TestTenant): Promise<TenantScope> {
  const db = databaseFor(env.DB);
  const [row] = await db.select().from(tenants).where(eq(tenants.id, t.id));
  if (!row) throw new Error(`no tenant ${t.id}`);
  return new TenantScope(db, row, {
    kind: 'user', tenantRef: t.id, userId: 'test', apiKeyId: null, role: 'viewer', scopes: [], platformAdmin: false, rateLimitPerMinute: null, collectionIds: null, agentIds: null,
  }, 'test');
}

/** The tenant's keyword ranking for `query` with the raw BM25 scores (what KEYWORD orders by). */
export async function bm25Ranking(t: TestTenant, query: string, perTerm?: number) {
  const scope = await scopeOf(t);
  const evidence = await scope.chunks.keywordEvidence(ftsTerms(query), null, perTerm);
  return { evidence, ranked: rankBm25(evidence.stats, evidence.docFreq, evidence.candidates) };
}
