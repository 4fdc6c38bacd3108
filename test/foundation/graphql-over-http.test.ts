/**
 * GraphQL over HTTP conformance: graphql-http's own server audits against /graphql with a
 * valid tenant token, in development and in production configuration. Any warning or
 * error fails the test.
 */
import { SELF } from 'cloudflare:test';
import { auditServer } from 'graphql-http';
import { describe, expect, it } from 'vitest';
import { createTenant } from '../helpers';
import { workerWith, type Fetch } from './worker-with';

function withToken(token: string, fetchFn: Fetch): Fetch {
  return (input, init) => {
    const req = new Request(input, init);
    req.headers.set('authorization', `Bearer ${token}`);
    return fetchFn(req);
  };
}

/** Every audit that did not pass (warn, error, and the MAY-level notices). */
async function problems(fetchFn: Fetch) {
  const results = await auditServer({ url: 'http://localhost/graphql', fetchFn });
  expect(results.length).toBeGreaterThan(40);
  return results.filter((r) => r.status !== 'ok').map((r) => ({ id: r.id, status: r.status, name: r.name }));
}

/**
 * The audits whose query is `__type(name: …)`, i.e. introspection. With introspection off
 * (production) it is refused by design: a validation error, answered 400 (200 with the
 * errors to a client that accepts only application/json). BF61 sends no Accept header,
 * which keeps the 400 of DESIGN §9.
 */
const INTROSPECTION_AUDITS = [
  { id: 'BF61', status: 'error' },
  { id: '2EA1', status: 'warn' },
  { id: '28B9', status: 'error' },
  { id: 'D6D5', status: 'notice' },
  { id: '6A70', status: 'notice' },
];
const PRODUCTION = { ENVIRONMENT: 'production', GRAPHIQL: 'false', INTROSPECTION: 'false' };

describe('GraphQL over HTTP (graphql-http auditServer)', () => {
  it('development configuration: every audit passes', async () => {
    const t = await createTenant();
    expect(await problems(withToken(t.token, (input, init) => SELF.fetch(new Request(input, init))))).toEqual([]);
  });

  it('production configuration: only the audits that need introspection fail, and only because it is off', async () => {
    const t = await createTenant();
    const found = await problems(withToken(t.token, workerWith(PRODUCTION)));
    expect(found.map(({ id, status }) => ({ id, status }))).toEqual(INTROSPECTION_AUDITS);
    // The same production configuration with introspection opted in passes them all.
    expect(await problems(withToken(t.token, workerWith({ ...PRODUCTION, INTROSPECTION: 'true' })))).toEqual([]);
  });

  it('answers a validation error 200 to application/json clients and 400 to application/graphql-response+json', async () => {
    const t = await createTenant();
    const ask = (accept?: string) =>
      SELF.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(accept ? { accept } : {}), authorization: `Bearer ${t.token}` },
        body: JSON.stringify({ query: '{ notAField }' }),
      });
    const legacy = await ask('application/json');
    expect(legacy.status).toBe(200);
    const body = await legacy.json<any>();
    expect(body.data).toBeUndefined();
    expect(body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', requestId: legacy.headers.get('x-request-id') });
    // Malformed JSON is an HTTP-level refusal: 400 even to application/json clients.
    const malformed = await SELF.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${t.token}` },
      body: '{"query": ',
    });
    expect(malformed.status).toBe(400);
    // Clients that accept application/graphql-response+json, anything, or send no Accept keep 400 (DESIGN §9).
    for (const accept of ['application/graphql-response+json', 'application/graphql-response+json, application/json', '*/*', undefined]) {
      expect((await ask(accept)).status, String(accept)).toBe(400);
    }
  });
});
