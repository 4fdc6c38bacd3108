/**
 * Bring-your-own provider (DESIGN §14): tenant A's chat and embeddings go to A's own
 * OpenAI-compatible server with A's key; tenant B keeps the deployment's. One fake server
 * per provider (test/chat/fake-openai.ts), the real openai SDK in the Worker talks to each.
 */
import { env } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TenantModels } from '../../src/ai/model-providers';
import { loadConfig } from '../../src/env';
import { checkProviderUrl } from '../../src/ai/provider-settings';
import { createAgent } from '../agents/agent-helpers';
import { ask } from '../chat/chat-helpers';
import { answer, installFakeOpenAI, type FakeOpenAI } from '../chat/fake-openai';
import { hits, ingestProcessed } from '../documents/doc-helpers';
import { codeOf, createTenant, gql, twoTenants, type TestTenant } from '../helpers';

const A_HOST = 'tenant-a.fake-openai.test';
const A_KEY = 'sk-tenant-a-secret-7f3e9c2a1b';
const DEPLOYMENT_KEY = 'sk-test-not-a-real-key';

const SET = `mutation($input: ModelProviderInput!) {
  setModelProvider(input: $input) { baseUrl keyLast4 keySetAt chatModels embeddingModel embeddingDimensions } }`;
const VIEW = '{ modelProvider { baseUrl keyLast4 keySetAt chatModels embeddingModel embeddingDimensions } }';
const TEST = 'mutation { testModelProvider { ok problem message } }';
const CLEAR = 'mutation { clearModelProvider }';

const providerInput = (over: Record<string, unknown> = {}) => ({
  baseUrl: `https://${A_HOST}/v1`, apiKey: A_KEY, chatModels: ['llama-3.1-70b', 'llama-3.1-8b'],
  embeddingModel: 'text-embedding-3-small', embeddingDimensions: 384, ...over,
});

async function setProvider(t: TestTenant, over: Record<string, unknown> = {}, token = t.token) {
  return gql(SET, { input: providerInput(over) }, { token });
}

let deployment: FakeOpenAI;
let tenantA: FakeOpenAI;
beforeEach(() => {
  deployment = installFakeOpenAI(answer('Deployment model answer.'));
  tenantA = installFakeOpenAI(answer('Tenant A model answer.'), { host: A_HOST, apiKey: A_KEY, embeddingModels: ['text-embedding-3-small'] });
});
afterEach(() => {
  tenantA.restore();
  deployment.restore();
});

describe('setModelProvider routes a tenant to its own provider', () => {
  it("A's embeddings and chat reach A's server with A's key; B's reach the deployment's", async () => {
    const [a, b] = await twoTenants();
    const set = await setProvider(a);
    expect(set.body.errors).toBeUndefined();
    expect(set.body.data.setModelProvider).toMatchObject({
      baseUrl: `https://${A_HOST}/v1`, keyLast4: A_KEY.slice(-4), chatModels: ['llama-3.1-70b', 'llama-3.1-8b'],
    });

    await ingestProcessed(a, { name: 'a.md', text: '# Refunds\n\nRefunds take fourteen days at Acme.' });
    await ingestProcessed(b, { name: 'b.md', text: '# Shipping\n\nShipping takes three days at Globex.' });
    const aSearch = await hits(a, { query: 'refunds', mode: 'VECTOR' });
    expect(aSearch[0]?.text).toContain('fourteen days');
    const aAsk = await ask(a.token, { question: 'How long do refunds take?' });
    expect(aAsk.body.errors).toBeUndefined();
    expect(aAsk.body.data.ask).toMatchObject({ text: 'Tenant A model answer.', model: 'llama-3.1-70b' });
    const bAsk = await ask(b.token, { question: 'How long does shipping take?' });
    expect(bAsk.body.data.ask).toMatchObject({ text: 'Deployment model answer.', model: 'gpt-4o-mini' });

    // A: ingestion embeddings, the query embedding(s) and the chat call, all with A's key.
    expect(tenantA.calls.filter((c) => c.path === '/v1/embeddings').length).toBeGreaterThanOrEqual(3);
    expect(tenantA.chat()).toHaveLength(1);
    expect(tenantA.calls.every((c) => c.authorization === `Bearer ${A_KEY}`)).toBe(true);
    // The deployment's server saw only B: B's chunks, B's question, B's chat call.
    expect(deployment.chat()).toHaveLength(1);
    expect(deployment.chat()[0]!.body.messages.at(-1).content).toContain('shipping');
    expect(deployment.calls.every((c) => c.authorization === `Bearer ${DEPLOYMENT_KEY}`)).toBe(true);
    expect(JSON.stringify(deployment.calls)).not.toContain('fourteen');
    expect(JSON.stringify(tenantA.calls)).not.toContain('Globex');
  });

  it('stores the key as AES-GCM ciphertext; the API and the audit log show only its last four characters', async () => {
    const t = await createTenant();
    await setProvider(t);
    const row = await env.DB.prepare('SELECT * FROM tenant_model_providers WHERE tenant_id = ?').bind(t.id).first<Record<string, string>>();
    expect(row!.api_key_sealed).toMatch(/^v1\.[0-9a-f]{16}\.[\w-]+\.[\w-]+$/);
    expect(row!.api_key_sealed).not.toContain(A_KEY);
    expect(row!.key_id).toBe(row!.api_key_sealed!.split('.')[1]);
    expect(row!.key_last4).toBe(A_KEY.slice(-4));
    const view = await gql(VIEW, {}, { token: t.token });
    expect(view.body.data.modelProvider.keyLast4).toBe(A_KEY.slice(-4));
    expect(JSON.stringify(view.body)).not.toContain(A_KEY);
    const audit = await env.DB.prepare("SELECT action, details FROM audit_log WHERE tenant_id = ? AND action LIKE 'tenant.model_provider.%'").bind(t.id).all();
    expect(audit.results.map((r) => r.action)).toEqual(['tenant.model_provider.set']);
    expect(JSON.stringify(audit.results)).not.toContain(A_KEY);
  });

  it("a ciphertext copied into another tenant's row does not open there: that tenant's model calls fail, never using the deployment key", async () => {
    const [a, b] = await twoTenants();
    await setProvider(a);
    await setProvider(b, { apiKey: 'sk-tenant-b-other-key-0000' });
    await env.DB.prepare('UPDATE tenant_model_providers SET api_key_sealed = (SELECT api_key_sealed FROM tenant_model_providers WHERE tenant_id = ?) WHERE tenant_id = ?')
      .bind(a.id, b.id).run();
    const r = await ask(b.token, { question: 'anything?' });
    expect(codeOf(r)).toBe('UPSTREAM_UNAVAILABLE');
    expect(r.body.errors![0]!.extensions).toMatchObject({ reason: 'provider_key_unreadable', provider: 'tenant' });
    expect(deployment.calls).toHaveLength(0);
  });

  it("a failing tenant provider is UPSTREAM_UNAVAILABLE with a reason and never falls back to the deployment's key", async () => {
    const t = await createTenant();
    await setProvider(t, { apiKey: 'sk-wrong-key-for-server-a-9999' });
    const r = await ask(t.token, { question: 'Does this fall back?' });
    expect(codeOf(r)).toBe('UPSTREAM_UNAVAILABLE');
    expect(r.body.errors![0]!.extensions).toMatchObject({ reason: 'error', provider: 'tenant' });
    expect(JSON.stringify(r.body)).not.toContain('sk-wrong');
    expect(tenantA.chat()).toHaveLength(1);
    expect(deployment.calls).toHaveLength(0);
  });

  it("the cause the log prints has the tenant's key redacted (the fake quotes it in its 401, as OpenAI does)", async () => {
    const wrong = 'sk-wrong-key-for-server-a-9999';
    const models = new TenantModels({ config: loadConfig(env as never), chatAllowlist: '' }, async () => ({
      baseUrl: `https://${A_HOST}/v1`, apiKey: wrong, chatModels: ['m'], embeddingModel: 'text-embedding-3-small', embeddingDimensions: 384,
    }));
    const err = (await models.chat
      .complete({ model: 'm', temperature: 0, maxTokens: 5, messages: [{ role: 'user', content: 'hi' }], question: 'hi', sources: [] })
      .then(() => null, (e: unknown) => e)) as { code: string; extensions: Record<string, unknown>; cause: Error };
    expect(err).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', extensions: { provider: 'tenant' } });
    expect(err.cause.message).toContain('[tenant key]');
    expect(`${err.cause.message} ${err.cause.stack}`).not.toContain(wrong);
  });

  it("clearModelProvider goes back to the deployment's provider (audited); a second clear answers false", async () => {
    const t = await createTenant();
    await setProvider(t);
    expect((await gql(CLEAR, {}, { token: t.token })).body.data.clearModelProvider).toBe(true);
    expect((await gql(CLEAR, {}, { token: t.token })).body.data.clearModelProvider).toBe(false);
    expect((await gql(VIEW, {}, { token: t.token })).body.data.modelProvider).toBeNull();
    const r = await ask(t.token, { question: 'who answers?' });
    expect(r.body.data.ask.text).toBe('Deployment model answer.');
    expect(tenantA.calls).toHaveLength(0);
    const audit = await env.DB.prepare("SELECT action FROM audit_log WHERE tenant_id = ? AND action LIKE 'tenant.model_provider.%' ORDER BY created_at").bind(t.id).all();
    expect(audit.results.map((x) => x.action)).toEqual(['tenant.model_provider.set', 'tenant.model_provider.clear']);
  });
});

describe("chat models come from the tenant's provider", () => {
  it('chatModels, tenant settings and agents choose from the provider list; deployment models are refused', async () => {
    const t = await createTenant();
    await setProvider(t);
    expect((await gql('{ chatModels }', {}, { token: t.token })).body.data.chatModels).toEqual(['llama-3.1-70b', 'llama-3.1-8b']);
    const refused = await createAgent(t, { slug: 'bot', name: 'Bot', chatModel: 'gpt-4o' });
    expect(codeOf(refused)).toBe('BAD_USER_INPUT');
    expect(refused.body.errors![0]!.extensions).toMatchObject({ field: 'chatModel', allowed: ['llama-3.1-70b', 'llama-3.1-8b'] });
    const ok = await createAgent(t, { slug: 'bot', name: 'Bot', chatModel: 'llama-3.1-8b' });
    expect(ok.body.errors).toBeUndefined();
    const r = await ask(t.token, { question: 'hello?', agentSlug: 'bot' });
    expect(r.body.errors).toBeUndefined();
    expect(tenantA.chat()[0]!.body.model).toBe('llama-3.1-8b');
    const settings = await gql('mutation($i: TenantSettingsInput!) { updateTenantSettings(input: $i) { id } }', { i: { chatModel: 'gpt-4o' } }, { token: t.token });
    expect(codeOf(settings)).toBe('BAD_USER_INPUT');
  });
});

describe('testModelProvider', () => {
  it('reports success after one tiny embeddings call', async () => {
    const t = await createTenant();
    await setProvider(t);
    const r = await gql(TEST, {}, { token: t.token });
    expect(r.body.data.testModelProvider).toMatchObject({ ok: true, problem: null });
    expect(tenantA.calls).toHaveLength(1);
    expect(tenantA.calls[0]!.body).toMatchObject({ model: 'text-embedding-3-small', input: ['ping'] });
  });

  it.each([
    ['a bad key', { apiKey: 'sk-not-the-right-key-4321' }, 'BAD_KEY'],
    ['an unknown model', { embeddingModel: 'no-such-embedder' }, 'UNKNOWN_MODEL'],
    ['an unreachable server', { baseUrl: 'https://unreachable.fake-openai.test/v1' }, 'UNREACHABLE'],
    ['wrong dimensions', { embeddingDimensions: 768 }, 'WRONG_DIMENSIONS'],
  ])('maps %s to a clear problem without echoing the key', async (_what, over, problem) => {
    const t = await createTenant();
    expect((await setProvider(t, over)).body.errors).toBeUndefined();
    const original = globalThis.fetch;
    // The unreachable host: a connection that fails, as DNS or TCP would.
    globalThis.fetch = async (input, init) => {
      if (new Request(input, init).url.includes('unreachable.')) throw new TypeError('connection refused');
      return original(input, init);
    };
    try {
      const r = await gql(TEST, {}, { token: t.token });
      expect(r.body.data.testModelProvider).toMatchObject({ ok: false, problem });
      const key = (over as { apiKey?: string }).apiKey ?? A_KEY;
      expect(JSON.stringify(r.body)).not.toContain(key.slice(3, -4));
    } finally {
      globalThis.fetch = original;
    }
  });

  it('without a provider of its own: BAD_USER_INPUT', async () => {
    const t = await createTenant();
    expect(codeOf(await gql(TEST, {}, { token: t.token }))).toBe('BAD_USER_INPUT');
  });
});

describe('bad input names the field', () => {
  it.each([
    ['an invalid URL', { baseUrl: 'not a url' }, 'baseUrl'],
    ['a non-http URL', { baseUrl: 'ftp://models.example.com/v1' }, 'baseUrl'],
    ['credentials in the URL', { baseUrl: 'https://user:pw@models.example.com/v1' }, 'baseUrl'],
    ['no chat model', { chatModels: [] }, 'chatModels'],
    ['an empty chat model', { chatModels: ['  '] }, 'chatModels'],
    ['no embedding model', { embeddingModel: '' }, 'embeddingModel'],
    ['zero dimensions', { embeddingDimensions: 0 }, 'embeddingDimensions'],
    ['1537 dimensions', { embeddingDimensions: 1537 }, 'embeddingDimensions'],
    ['an empty key', { apiKey: '' }, 'apiKey'],
    ['a key of 1,025 characters', { apiKey: 'k'.repeat(1025) }, 'apiKey'],
  ])('%s', async (_what, over, field) => {
    const t = await createTenant();
    const r = await setProvider(t, over);
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.body.errors![0]!.extensions!.field).toBe(field);
    expect(await env.DB.prepare('SELECT COUNT(*) AS n FROM tenant_model_providers WHERE tenant_id = ?').bind(t.id).first('n')).toBe(0);
  });

  it('a key of exactly 1,024 characters and 1536 dimensions are accepted', async () => {
    const t = await createTenant();
    expect((await setProvider(t, { apiKey: 'k'.repeat(1024), embeddingDimensions: 1536 })).body.errors).toBeUndefined();
  });

  it.each(['http://localhost:8080/v1', 'https://10.0.0.7/v1', 'https://[::1]/v1', 'https://169.254.169.254/v1', 'https://models.internal/v1', 'http://api.example.com/v1'])(
    'production refuses %s (https and public hosts only, as URL ingestion)',
    (url) => {
      expect(() => checkProviderUrl(url, false)).toThrowError(expect.objectContaining({ code: 'BAD_USER_INPUT', extensions: { field: 'baseUrl' } }));
    },
  );

  it('production accepts a public https URL, without a trailing slash', () => {
    expect(checkProviderUrl('https://api.together.xyz/v1/', false)).toBe('https://api.together.xyz/v1');
  });
});

describe('access', () => {
  it.each(['member', 'viewer'] as const)('a %s can neither read nor change the provider', async (role) => {
    const t = await createTenant();
    const token = await t.tokenFor(role);
    expect(codeOf(await setProvider(t, {}, token))).toBe('FORBIDDEN');
    expect(codeOf(await gql(VIEW, {}, { token }))).toBe('FORBIDDEN');
    expect(codeOf(await gql(CLEAR, {}, { token }))).toBe('FORBIDDEN');
    expect(codeOf(await gql(TEST, {}, { token }))).toBe('FORBIDDEN');
  });

  it("an owner may set it; another tenant never sees it", async () => {
    const [a, b] = await twoTenants();
    expect((await setProvider(a, {}, await a.tokenFor('owner'))).body.errors).toBeUndefined();
    expect((await gql(VIEW, {}, { token: b.token })).body.data.modelProvider).toBeNull();
    expect((await gql(CLEAR, {}, { token: b.token })).body.data.clearModelProvider).toBe(false);
    expect((await gql(VIEW, {}, { token: a.token })).body.data.modelProvider).not.toBeNull();
  });

  it('an API key needs the admin scope', async () => {
    const t = await createTenant();
    const { createApiKey } = await import('../helpers');
    const chat = await createApiKey(t, ['CHAT']);
    expect(codeOf(await gql(VIEW, {}, { headers: { 'x-api-key': chat.secret } }))).toBe('FORBIDDEN');
    const admin = await createApiKey(t, ['ADMIN']);
    expect((await gql(SET, { input: providerInput() }, { headers: { 'x-api-key': admin.secret } })).body.errors).toBeUndefined();
  });
});
