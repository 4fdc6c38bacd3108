/**
 * Weighted admission (docs/guard.md "Weights"): a request costs its operation's root fields,
 * aliases included, in the per-minute buckets and the monthly request quota; the RateLimit
 * headers and extensions show the weighted figures.
 */
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { weightOfQuery } from '../../src/http/operation-weight';
import type { TenantGuard } from '../../src/objects/tenant-guard';
import { codeOf, createApiKey, createTenant, gql } from '../helpers';
import { guardStub, MID_JANUARY, setClock } from './guard-helpers';

const aliased = (n: number, field: string) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;
const SEARCH = 'search(input: { query: "x" }) { hits { score } }';

describe('weight of an operation', () => {
  it.each([
    ['{ viewer { role } }', null, 1],
    [aliased(15, SEARCH), null, 15],
    ['{ __typename viewer { role } }', null, 1],
    ['{ __typename }', null, 1],
    ['query A { viewer { role } } query B { a: viewer { role } b: viewer { role } }', 'B', 2],
    ['query A { viewer { role } } query B { a: viewer { role } b: viewer { role } }', null, 1],
    ['{ ...F ... on Query { tenant { id } } } fragment F on Query { a: viewer { role } b: usage { requests } }', null, 3],
    ['{ ...F ...F } fragment F on Query { a: viewer { role } }', null, 1],
    ['mutation { a: deleteDocument(id: "1") b: deleteDocument(id: "2") c: ask(input: { question: "q" }) { text } }', null, 3],
    ['{ not valid', null, 1],
  ])('%s (operation %s) weighs %i', (query, op, weight) => {
    expect(weightOfQuery(query, op)).toBe(weight);
  });
});

describe('weighted admission through the Worker', () => {
  it('15 aliased searches cost 15 tokens and 15 monthly requests; headers show the weighted figures', async () => {
    const [t, other] = [await createTenant({ limits: { requestsPerMinute: 20, monthlyRequests: 1_000 } }), await createTenant()];
    await setClock(t.id, MID_JANUARY);
    const first = await gql(aliased(15, SEARCH), {}, { token: t.token });
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit')).toContain('"tenant";r=5;');
    expect(first.body.extensions!.rateLimit).toMatchObject({ remaining: 5 });
    const usage = await runInDurableObject(guardStub(t.id), (g: TenantGuard) => g.usage(t.id));
    expect(usage.requests).toBe(15);

    // 15 more do not fit in the 5 left: refused whole, nothing consumed, told to wait for 10 tokens (30 s at 20/min).
    const second = await gql(aliased(15, SEARCH), {}, { token: t.token });
    expect(second.status).toBe(429);
    expect(codeOf(second)).toBe('RATE_LIMITED');
    expect(second.headers.get('retry-after')).toBe('30');
    const single = await gql('{ viewer { role } }', {}, { token: t.token });
    expect(single.headers.get('ratelimit')).toContain('"tenant";r=4;');
    // Another tenant's figures are its own.
    expect((await gql('{ viewer { role } }', {}, { token: other.token })).status).toBe(200);
  });

  it('aliased mutations count against the monthly request quota and per-key buckets', async () => {
    const t = await createTenant({ limits: { monthlyRequests: 10 } });
    await setClock(t.id, MID_JANUARY);
    const key = await createApiKey(t, ['INGEST'], { rateLimitPerMinute: 30 });
    const ingest = (i: number) => `d${i}: ingestDocument(input: { name: "n${i}.txt", text: "hello ${i}" }) { id }`;
    const batch = (n: number, from: number) => `mutation { ${Array.from({ length: n }, (_, i) => ingest(from + i)).join(' ')} }`;
    // createApiKey itself was one request.
    const r = await gql(batch(6, 0), {}, { token: key.secret });
    expect(r.status).toBe(200);
    expect(r.headers.get('ratelimit')).toMatch(/"monthly";r=3;/);
    expect(r.headers.get('ratelimit')).toMatch(/"key";r=24;/);
    const over = await gql(batch(4, 6), {}, { token: key.secret });
    expect(over.status).toBe(429);
    expect(codeOf(over)).toBe('QUOTA_EXCEEDED');
    const usage = await runInDurableObject(guardStub(t.id), (g: TenantGuard) => g.usage(t.id));
    expect(usage.requests).toBe(7);
    expect(usage.documents).toBe(6);
  });
});
