/**
 * Ingestion and deletion when a dependency fails: the Worker runs with one binding
 * replaced by a failing one (queue producer, R2), everything else real. The tenant's
 * documents, originals and plan counts must stay consistent with each other.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { codeOf, gql, twoTenants, type GqlResult } from '../helpers';
import { DOC_FIELDS, row } from './doc-helpers';

/** A GraphQL request through the Worker with some bindings replaced. */
async function gqlWith(overrides: Record<string, unknown>, query: string, variables: Record<string, unknown>, token: string): Promise<GqlResult> {
  const request = new Request('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const ctx = createExecutionContext();
  const res = await (worker as ExportedHandler<Env>).fetch!(request as Request<unknown, IncomingRequestCfProperties>, { ...env, ...overrides } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const INGEST = `mutation($input: IngestDocumentInput!) { ingestDocument(input: $input) { ${DOC_FIELDS} } }`;
const usage = async (token: string) => (await gql('{ usage { documents storedBytes } }', {}, { token })).body.data.usage;
const documents = async (token: string) =>
  (await gql('{ documents(first: 100) { edges { node { id status sizeBytes } } } }', {}, { token })).body.data.documents.edges.map(
    (e: { node: { id: string; status: string; sizeBytes: number } }) => e.node,
  );
const failingQueue = { INGEST_QUEUE: { send: () => Promise.reject(new Error('queue down')), sendBatch: () => Promise.reject(new Error('queue down')) } };

describe('ingestion when the queue is unavailable', () => {
  it('keeps the plan counts equal to what the tenant stores, through a failed enqueue and the delete after it', async () => {
    const [a, b] = await twoTenants();
    const r = await gqlWith(failingQueue, INGEST, { input: { name: 'q.txt', text: 'twelve bytes' } }, a.token);
    expect(codeOf(r)).toBe('UPSTREAM_UNAVAILABLE');
    const docs = await documents(a.token);
    const stored = docs.reduce((n: number, d: { sizeBytes: number }) => n + d.sizeBytes, 0);
    // Whatever the enqueue failure leaves behind is what the plan counts.
    expect(await usage(a.token)).toEqual({ documents: docs.length, storedBytes: stored });
    for (const d of docs) {
      expect(d.status).toBe('FAILED');
      expect(codeOf(await gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id: d.id }, { token: a.token }))).toBeUndefined();
    }
    expect(await usage(a.token)).toEqual({ documents: 0, storedBytes: 0 });
    expect(await usage(b.token)).toEqual({ documents: 0, storedBytes: 0 });
  });

  it('counts a replacement whose enqueue failed at its new size, and ingesting again recovers', async () => {
    const [a] = await twoTenants();
    const first = await gql(INGEST, { input: { name: 'r.txt', text: 'twelve bytes' } }, { token: a.token });
    const id = first.body.data.ingestDocument.id;
    const r = await gqlWith(failingQueue, INGEST, { input: { name: 'r.txt', text: 'twenty-two bytes long!' } }, a.token);
    expect(codeOf(r)).toBe('UPSTREAM_UNAVAILABLE');
    expect((await row(id))?.status).toBe('failed');
    expect(await usage(a.token)).toEqual({ documents: 1, storedBytes: 22 });
    const again = await gql(INGEST, { input: { name: 'r.txt', text: 'twenty-two bytes long!' } }, { token: a.token });
    expect(again.body.data.ingestDocument).toMatchObject({ id, status: 'PENDING' });
    expect(await usage(a.token)).toEqual({ documents: 1, storedBytes: 22 });
  });
});

describe('ingestion when R2 is unavailable', () => {
  it('answers UPSTREAM_UNAVAILABLE and writes nothing: no row, no quota use', async () => {
    const [a, b] = await twoTenants();
    const failingBlobs = {
      DOCUMENTS: {
        put: () => Promise.reject(new Error('r2 down: internal detail')),
        get: () => Promise.resolve(null),
        delete: () => Promise.resolve(),
        list: () => Promise.resolve({ objects: [], truncated: false, delimitedPrefixes: [] }),
      },
    };
    const r = await gqlWith(failingBlobs, INGEST, { input: { name: 'r2.txt', text: 'some text' } }, a.token);
    expect(codeOf(r)).toBe('UPSTREAM_UNAVAILABLE');
    expect(r.status).toBe(503);
    expect(JSON.stringify(r.body)).not.toContain('internal detail');
    expect(await documents(a.token)).toEqual([]);
    expect(await usage(a.token)).toEqual({ documents: 0, storedBytes: 0 });
    expect(await documents(b.token)).toEqual([]);
  });
});
