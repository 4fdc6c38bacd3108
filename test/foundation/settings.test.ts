/**
 * updateTenantSettings: an omitted field keeps its value, null resets it to its default;
 * retrievalTopK is validated against ask's real cap (20); retrievalMode is settable and is
 * the mode ask retrieves with.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ChatModelPolicy, createChatProvider } from '../../src/ai/chat';
import type { Principal } from '../../src/auth/principal';
import { databaseFor } from '../../src/db/client';
import type { TenantRow } from '../../src/db/schema';
import { TenantScope } from '../../src/db/tenant-scope';
import { createLogger } from '../../src/lib/log';
import { AnswerService } from '../../src/rag/answer';
import type { SearchRequest } from '../../src/rag/types';
import { codeOf, gql, twoTenants, type TestTenant } from '../helpers';

const SETTINGS = 'settings { systemPrompt allowedOrigins chatModel temperature retrievalTopK retrievalMode }';
const UPDATE = `mutation($input: TenantSettingsInput!) { updateTenantSettings(input: $input) { ${SETTINGS} } }`;
const DEFAULTS = { systemPrompt: null, allowedOrigins: [], chatModel: null, temperature: null, retrievalTopK: null, retrievalMode: null };

const update = (t: TestTenant, input: Record<string, unknown>) => gql(UPDATE, { input }, { token: t.token });
const settingsOf = async (t: TestTenant) => (await gql(`{ tenant { ${SETTINGS} } }`, {}, { token: t.token })).body.data.tenant.settings;
const defaultModel = async (t: TestTenant) => (await gql('{ chatModels }', {}, { token: t.token })).body.data.chatModels[0] as string;

describe('updateTenantSettings: omit keeps, null resets', () => {
  it('resets every setting to its default with explicit nulls; omitted fields stay', async () => {
    const [a, b] = await twoTenants();
    const all = {
      systemPrompt: 'Be brief.', allowedOrigins: ['https://app.example.com'], chatModel: await defaultModel(a),
      temperature: 0.7, retrievalTopK: 8, retrievalMode: 'KEYWORD',
    };
    for (const t of [a, b]) expect((await update(t, all)).body.data.updateTenantSettings.settings).toEqual(all);

    // Omitted = unchanged.
    const partial = await update(a, { temperature: 0.1 });
    expect(partial.body.data.updateTenantSettings.settings).toEqual({ ...all, temperature: 0.1 });

    // Null = back to the default, one field at a time and all together.
    const one = await update(a, { systemPrompt: null });
    expect(one.body.data.updateTenantSettings.settings).toEqual({ ...all, temperature: 0.1, systemPrompt: null });
    const reset = await update(a, { chatModel: null, temperature: null, retrievalTopK: null, retrievalMode: null, allowedOrigins: null });
    expect(reset.body.errors).toBeUndefined();
    expect(reset.body.data.updateTenantSettings.settings).toEqual(DEFAULTS);
    expect(await settingsOf(a)).toEqual(DEFAULTS);
    const stored = await env.DB.prepare('SELECT settings FROM tenants WHERE id = ?').bind(a.id).first<{ settings: string }>();
    expect(JSON.parse(stored!.settings)).toEqual({});

    // The audit row says what was reset; the other tenant is untouched.
    const audit = await gql('{ auditLog(first: 100) { edges { node { action details } } } }', {}, { token: a.token });
    const details = audit.body.data.auditLog.edges.filter((e: any) => e.node.action === 'tenant.settings.update').map((e: any) => e.node.details);
    expect(details).toContainEqual({ keys: [], reset: ['allowedOrigins', 'chatModel', 'temperature', 'retrievalTopK', 'retrievalMode'] });
    expect(details).toContainEqual({ keys: [], reset: ['systemPrompt'] });
    expect(await settingsOf(b)).toEqual(all);
  });

  it('still refuses an empty chatModel, and says how to reset it', async () => {
    const [a] = await twoTenants();
    const r = await update(a, { chatModel: '' });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.body.errors![0]!.extensions!.field).toBe('chatModel');
    expect(r.body.errors![0]!.message).toMatch(/null resets it to the default/);
  });

  it('is admin-only, for scoped credentials too', async () => {
    const [a] = await twoTenants();
    expect(codeOf(await gql(UPDATE, { input: { chatModel: null } }, { token: await a.tokenFor('member') }))).toBe('FORBIDDEN');
    const scoped = await a.tokenFor('admin', 'scoped-admin', { scope: 'chat' });
    expect(codeOf(await gql(UPDATE, { input: { chatModel: null } }, { token: scoped }))).toBe('FORBIDDEN');
  });
});

describe('retrieval settings', () => {
  it('takes retrievalTopK from 1 to 20 (ask’s own cap), nothing else', async () => {
    const [a] = await twoTenants();
    for (const bad of [0, 21, 50]) {
      const r = await update(a, { retrievalTopK: bad });
      expect(codeOf(r), String(bad)).toBe('BAD_USER_INPUT');
      expect(r.body.errors![0]!.extensions!.field).toBe('retrievalTopK');
      expect(r.body.errors![0]!.message).toBe('retrievalTopK must be from 1 to 20');
    }
    expect((await update(a, { retrievalTopK: 20 })).body.data.updateTenantSettings.settings.retrievalTopK).toBe(20);
    expect((await update(a, { retrievalTopK: 1 })).body.data.updateTenantSettings.settings.retrievalTopK).toBe(1);
  });

  it('sets retrievalMode to VECTOR, KEYWORD or HYBRID and refuses anything else', async () => {
    const [a, b] = await twoTenants();
    for (const mode of ['VECTOR', 'KEYWORD', 'HYBRID']) {
      expect((await update(a, { retrievalMode: mode })).body.data.updateTenantSettings.settings.retrievalMode).toBe(mode);
    }
    expect(codeOf(await update(a, { retrievalMode: 'FUZZY' }))).toBe('BAD_USER_INPUT');
    expect((await settingsOf(a)).retrievalMode).toBe('HYBRID');
    expect((await settingsOf(b)).retrievalMode).toBeNull();
  });

  it('ask retrieves with the tenant’s retrievalMode and retrievalTopK, HYBRID and 5 when unset', async () => {
    const [a, b] = await twoTenants();
    await update(a, { retrievalMode: 'KEYWORD', retrievalTopK: 7 });
    const seen = async (t: TestTenant) => {
      const row = await env.DB.prepare('SELECT * FROM tenants WHERE id = ?').bind(t.id).first();
      const tenant = camel(row!) as unknown as TenantRow;
      const principal: Principal = { kind: 'user', tenantRef: t.id, userId: 'u', apiKeyId: null, role: 'member', scopes: [], platformAdmin: false, rateLimitPerMinute: null, collectionIds: null, agentIds: null };
      const requests: SearchRequest[] = [];
      const answers = new AnswerService({
        scope: new TenantScope(databaseFor(env.DB), tenant, principal, 'test'),
        retriever: { search: async (req) => (requests.push(req), []) },
        provider: createChatProvider({ apiKey: '', baseUrl: null } as never),
        models: new ChatModelPolicy('gpt-4o-mini', ''),
        guard: null,
        limits: null,
        log: createLogger('test'),
      });
      await answers.ask({ question: 'What is the refund policy?' });
      return requests.map((r) => ({ mode: r.mode, topK: r.topK }));
    };
    expect(await seen(a)).toEqual([{ mode: 'KEYWORD', topK: 7 }]);
    expect(await seen(b)).toEqual([{ mode: 'HYBRID', topK: 5 }]);
    await update(a, { retrievalMode: null, retrievalTopK: null });
    expect(await seen(a)).toEqual([{ mode: 'HYBRID', topK: 5 }]);
  });
});

/** D1 rows come back in snake_case; drizzle's TenantRow is camelCase. */
function camel(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()), v]));
}
