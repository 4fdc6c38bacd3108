/** Hardening (DESIGN §9) and the error contract (DESIGN §7) at the HTTP level. */
import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { codeOf, createTenant, gql } from '../helpers';

const post = (body: BodyInit, token: string, headers: Record<string, string> = {}) =>
  SELF.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body,
  });

describe('request parsing', () => {
  it('answers malformed JSON with 400 and a readable message', async () => {
    const t = await createTenant();
    const res = await post('{"query": ', t.token);
    expect(res.status).toBe(400);
    const body = await res.json<any>();
    expect(body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(body.errors[0].message).toMatch(/JSON/i);
  });

  it('refuses a declared body over the limit with 413 before reading it', async () => {
    const t = await createTenant();
    const res = await post('{}', t.token, { 'content-length': String(11 * 1024 * 1024) });
    expect(res.status).toBe(413);
    expect((await res.json<any>()).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses a streamed (undeclared) body once it passes the limit', async () => {
    const t = await createTenant();
    const chunk = new Uint8Array(1024 * 1024).fill(32);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ >= 12) controller.close();
        else controller.enqueue(chunk);
      },
    });
    const res = await SELF.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.token}` },
      body: stream,
    });
    expect(res.status).toBe(413);
  });

  it('answers a syntax error and an unknown field with BAD_USER_INPUT', async () => {
    const t = await createTenant();
    const syntax = await gql('{ viewer { ', {}, { token: t.token });
    expect(syntax.status).toBe(400);
    expect(codeOf(syntax)).toBe('BAD_USER_INPUT');
    const unknown = await gql('{ nope }', {}, { token: t.token });
    expect(unknown.status).toBe(400);
    expect(codeOf(unknown)).toBe('BAD_USER_INPUT');
  });

  it('allows GET for queries only, and refuses batched requests', async () => {
    const t = await createTenant();
    const auth = { authorization: `Bearer ${t.token}` };
    const q = await SELF.fetch(`http://localhost/graphql?query=${encodeURIComponent('{ tenant { slug } }')}`, { headers: auth });
    expect(q.status).toBe(200);
    const m = await SELF.fetch(`http://localhost/graphql?query=${encodeURIComponent('mutation { createCollection(input: {name: "g"}) { id } }')}`, { headers: auth });
    expect(m.status).toBe(405);
    const batch = await post(JSON.stringify([{ query: '{ tenant { slug } }' }, { query: '{ tenant { slug } }' }]), t.token);
    expect(batch.status).toBeGreaterThanOrEqual(400);
    expect(batch.status).toBeLessThan(500);
  });
});

describe('operation limits (graphql-armor)', () => {
  it('refuses too many aliases and too deep queries with 400 before execution', async () => {
    const t = await createTenant();
    const aliases = `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: tenant { slug }`).join(' ')} }`;
    const r1 = await gql(aliases, {}, { token: t.token });
    expect(r1.status).toBe(400);
    expect(codeOf(r1)).toBe('BAD_USER_INPUT');
    const deep = '{ viewer { tenant { settings { systemPrompt } } apiKey { id } } documents { edges { node { collection { id } } } } }';
    expect((await gql(deep, {}, { token: t.token })).status).toBe(200);
    let nested = 'slug';
    for (let i = 0; i < 12; i++) nested = `tenant { ${nested} }`;
    const tooDeep = await gql(`{ viewer { ${nested.replace(/^tenant/, 'tenant')} } }`, {}, { token: t.token });
    expect(tooDeep.status).toBe(400);
  });

  it('keeps GraphiQL-style introspection working in development', async () => {
    const t = await createTenant();
    const r = await gql('{ __schema { queryType { name } types { name fields { name type { name kind ofType { name kind ofType { name kind } } } } } } }', {}, { token: t.token });
    expect(r.status).toBe(200);
    expect(r.body.data.__schema.queryType.name).toBe('Query');
  });
});

describe('error masking', () => {
  it('masks unexpected errors: a request id, no internals', async () => {
    const t = await createTenant();
    // A corrupt row makes the resolver throw a plain (unexpected) error.
    await env.DB.prepare("INSERT INTO documents (id, tenant_id, name, source_type, content_hash, tags) VALUES (?, ?, 'bad', 'text', 'h', 'not json')")
      .bind(crypto.randomUUID(), t.id).run();
    const r = await gql('{ documents { edges { node { tags } } } }', {}, { token: t.token });
    const err = r.body.errors![0]!;
    expect(err.message).toBe('Unexpected error.');
    expect(err.extensions!.code).toBe('INTERNAL_SERVER_ERROR');
    expect(err.extensions!.requestId).toBeTruthy();
    expect(JSON.stringify(r.body)).not.toMatch(/JSON|stack|SQL|at /);
  });
});

describe('CORS', () => {
  it('allows the base domain and tenant-listed origins, and says nothing to unknown origins', async () => {
    const t = await createTenant();
    await gql('mutation { updateTenantSettings(input: { allowedOrigins: ["https://app.customer.com"] }) { id } }', {}, { token: t.token });
    const pre = (origin: string) =>
      SELF.fetch(`http://${t.slug}.localhost/graphql`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
    const listed = await pre('https://app.customer.com');
    expect(listed.status).toBe(204);
    expect(listed.headers.get('access-control-allow-origin')).toBe('https://app.customer.com');
    const sub = await pre(`http://${t.slug}.localhost:5173`);
    expect(sub.headers.get('access-control-allow-origin')).toBe(`http://${t.slug}.localhost:5173`);
    const evil = await pre('https://evil.example');
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    expect(evil.headers.get('access-control-allow-credentials')).toBeNull();

    const r = await gql('{ tenant { slug } }', {}, { token: t.token, headers: { origin: 'https://evil.example' } });
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('GraphiQL and health', () => {
  it('serves a self-contained GraphiQL page (no CDN) in development', async () => {
    const res = await SELF.fetch('http://localhost/graphql', { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('YogaGraphiQL');
    expect(html).not.toMatch(/<script[^>]+src=["']https?:/);
    expect(html).not.toMatch(/<link[^>]+href=["']https?:/);
    expect(html).not.toMatch(/unpkg\.com|jsdelivr|cdnjs/);
  });

  it('hides GraphiQL and introspection in production unless configured', async () => {
    const { loadConfig } = await import('../../src/env');
    const prod = loadConfig({ ...env, ENVIRONMENT: 'production', GRAPHIQL: '', INTROSPECTION: '' } as never);
    expect(prod.graphiql).toBe(false);
    expect(prod.introspection).toBe(false);
    const opted = loadConfig({ ...env, ENVIRONMENT: 'production', GRAPHIQL: 'true', INTROSPECTION: 'true' } as never);
    expect(opted.introspection).toBe(true);
  });

  it('has a request id on every response', async () => {
    const t = await createTenant();
    const ok = await gql('{ tenant { slug } }', {}, { token: t.token });
    expect(ok.headers.get('x-request-id')).toBeTruthy();
    const denied = await gql('{ tenant { slug } }');
    expect(denied.headers.get('x-request-id')).toBeTruthy();
    expect(denied.body.errors![0]!.extensions!.requestId).toBe(denied.headers.get('x-request-id'));
  });
});

describe('error contract for requests Yoga refuses itself (review)', () => {
  it('answers an unsupported content type with a coded JSON error and a request id', async () => {
    const t = await createTenant();
    for (const headers of [{ 'content-type': 'text/plain' }, {} as Record<string, string>]) {
      const res = await SELF.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { authorization: `Bearer ${t.token}`, ...headers },
        body: '{ tenant { slug } }',
      });
      expect(res.status).toBe(415);
      const body = await res.json<any>();
      expect(body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(body.errors[0].extensions.requestId).toBe(res.headers.get('x-request-id'));
      expect(body.errors[0].message).toMatch(/content type/i);
    }
  });
});
