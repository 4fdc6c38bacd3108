/**
 * Collections as access boundaries: an API key (or a JWT with collection_ids / agent_ids)
 * restricted to collection X sees the tenant's other collections, documents and citations
 * exactly as it would see a foreign tenant's — not at all — through every query, mutation,
 * search, ask, askStream, conversation list and count.
 */
import { describe, expect, it } from 'vitest';
import { ask, askStream } from '../chat/chat-helpers';
import { ingest, MODES } from '../documents/doc-helpers';
import { codeOf, createApiKey, gql, signToken } from '../helpers';
import { TEXT_X, workspace, type Workspace } from './agent-helpers';

const DOCS = '{ documents(first: 50) { edges { node { id } } } }';
const DOC = 'query($id: ID!) { document(id: $id) { id collection { id } } }';
const SEARCH = `query($input: SearchInput!) { search(input: $input) { hits { document { id } } } }`;
const ASK_SOURCES = `mutation($input: AskInput!) { ask(input: $input) { sources { document { id } } conversation { id } } }`;
const CONV_SOURCES = `query($id: ID!) { conversation(id: $id) { messages { role sources { documentDeleted text document { id } } } } }`;
const CONVERSATIONS = '{ conversations(first: 50) { edges { node { id } } } }';

const ids = (edges: any[]) => edges.map((e: any) => e.node.id).sort();
const docIds = (r: any) => ids(r.body.data.documents.edges);
const hitDocs = (hits: any[]) => [...new Set(hits.map((h: any) => h.document.id))].sort();

/** A key limited to collection X with every content scope, and one with the admin scope as well. */
async function xKeys(w: Workspace) {
  const key = await createApiKey(w.t, ['SEARCH', 'CHAT', 'INGEST'], { collectionIds: [w.x] });
  const admin = await createApiKey(w.t, ['ADMIN'], { collectionIds: [w.x] });
  return { key: key.secret, admin: admin.secret, keyId: key.id };
}

describe('a key limited to collection X', () => {
  it('lists, reads and counts only X: collections, documents, document(id), usage', async () => {
    const w = await workspace();
    const { key, admin } = await xKeys(w);
    expect(ids((await gql('{ collections { edges { node { id } } } }', {}, { token: key })).body.data.collections.edges)).toEqual([w.x]);
    expect(docIds(await gql(DOCS, {}, { token: key }))).toEqual([w.docX]);
    expect(docIds(await gql('query($c: ID!) { documents(filter: { collectionId: $c }) { edges { node { id } } } }', { c: w.y }, { token: key }))).toEqual([]);
    const x = await gql(DOC, { id: w.docX }, { token: key });
    expect(x.body.data.document).toEqual({ id: w.docX, collection: { id: w.x } });
    // Y, a document without a collection, and another tenant's document: all the same null.
    for (const id of [w.docY, w.docLoose, w.docOther]) expect((await gql(DOC, { id }, { token: key })).body.data.document).toBeNull();
    // Counts: the restricted admin key's usage counts X only; the tenant admin sees all three.
    const mine = (await gql('{ usage { documents storedBytes } }', {}, { token: admin })).body.data.usage;
    const all = (await gql('{ usage { documents storedBytes } }', {}, { token: w.t.token })).body.data.usage;
    expect(mine.documents).toBe(1);
    expect(all.documents).toBe(3);
    expect(mine.storedBytes).toBe(new TextEncoder().encode(TEXT_X).byteLength);
    // The agents' knowledge shows only what the key may see.
    const agents = (await gql('{ agents { edges { node { slug knowledge { id } } } } }', {}, { token: key })).body.data.agents.edges.map((e: any) => e.node);
    expect(agents).toEqual([{ slug: 'support', knowledge: [{ id: w.x }] }, { slug: 'sales', knowledge: [] }]);
  });

  it.each(MODES)('search (%s) finds only X, whatever the filter names', async (mode) => {
    const w = await workspace();
    const { key } = await xKeys(w);
    const unrestricted = await gql(SEARCH, { input: { query: 'refunds', mode, topK: 10 } }, { token: w.t.token });
    expect(hitDocs(unrestricted.body.data.search.hits)).toEqual([w.docX, w.docY, w.docLoose].sort());
    const r = await gql(SEARCH, { input: { query: 'refunds', mode, topK: 10 } }, { token: key });
    expect(hitDocs(r.body.data.search.hits)).toEqual([w.docX]);
    for (const filter of [{ collectionIds: [w.y] }, { documentIds: [w.docY, w.docLoose] }, { collectionIds: [w.x, w.y], documentIds: [w.docY] }]) {
      const f = await gql(SEARCH, { input: { query: 'refunds finance approval', mode, topK: 10, filter } }, { token: key });
      expect(f.body.data.search.hits).toEqual([]);
    }
    // Words only Y contains find nothing at all.
    expect((await gql(SEARCH, { input: { query: 'BLUEFALCON', mode } }, { token: key })).body.data.search.hits).toEqual([]);
  });

  it('ask and askStream cite only X, through any agent', async () => {
    const w = await workspace();
    const { key } = await xKeys(w);
    const plain = await gql(ASK_SOURCES, { input: { question: 'refunds approval code?' } }, { token: key });
    expect(plain.body.errors).toBeUndefined();
    expect(hitDocs(plain.body.data.ask.sources)).toEqual([w.docX]);
    const sales = await gql(ASK_SOURCES, { input: { question: 'refunds approval code?', agentSlug: 'sales' } }, { token: key });
    expect(sales.body.data.ask.sources).toEqual([]);
    const filtered = await gql(ASK_SOURCES, { input: { question: 'refunds?', filter: { collectionIds: [w.y] } } }, { token: key });
    expect(filtered.body.data.ask.sources).toEqual([]);
    const stream = await askStream(key, { question: 'refunds approval code?' });
    expect(stream.errors).toEqual([]);
    expect(hitDocs(stream.payloads.find((p) => p.type === 'SOURCES').sources)).toEqual([w.docX]);
    expect(stream.payloads.find((p) => p.type === 'DONE').text).not.toMatch(/BLUEFALCON/);
  });

  it('mutations: ingest needs a collection of its own; Y and loose documents cannot be touched; no tenant administration', async () => {
    const w = await workspace();
    const { key, admin } = await xKeys(w);
    const noCollection = await ingest(w.t, { name: 'n.md', text: 'no collection' }, key);
    expect(codeOf(noCollection)).toBe('BAD_USER_INPUT');
    expect(noCollection.body.errors![0]!.extensions!.field).toBe('collectionId');
    const intoY = await ingest(w.t, { name: 'n.md', text: 'into Y', collectionId: w.y }, key);
    const intoUnknown = await ingest(w.t, { name: 'n.md', text: 'into nothing', collectionId: crypto.randomUUID() }, key);
    expect(codeOf(intoY)).toBe('NOT_FOUND');
    expect(intoY.body.errors![0]!.message).toBe(intoUnknown.body.errors![0]!.message);
    const intoX = await ingest(w.t, { name: 'new.md', text: 'fresh words', collectionId: w.x }, key);
    expect(intoX.body.errors).toBeUndefined();
    // deleteDocument: Y, loose and foreign documents answer like an unknown id, and stay.
    const unknown = await gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id: crypto.randomUUID() }, { token: key });
    for (const id of [w.docY, w.docLoose, w.docOther]) {
      const r = await gql('mutation($id: ID!) { deleteDocument(id: $id) }', { id }, { token: key });
      expect(codeOf(r)).toBe('NOT_FOUND');
      expect(r.body.errors![0]!.message).toBe(unknown.body.errors![0]!.message);
    }
    expect(docIds(await gql(DOCS, {}, { token: w.t.token }))).toEqual([w.docX, w.docY, w.docLoose, intoX.body.data.ingestDocument.id].sort());
    // Collections and tenant administration span every collection: not for a restricted credential.
    expect(codeOf(await gql('mutation { createCollection(input: { name: "mine" }) { id } }', {}, { token: key }))).toBe('FORBIDDEN');
    expect(codeOf(await gql('mutation($id: ID!) { deleteCollection(id: $id) }', { id: w.y }, { token: admin }))).toBe('FORBIDDEN');
    for (const q of ['{ apiKeys { id } }', '{ auditLog { edges { node { id } } } }', '{ members { userId } }']) {
      expect(codeOf(await gql(q, {}, { token: admin })), q).toBe('FORBIDDEN');
    }
    expect(codeOf(await gql('mutation { createApiKey(input: { name: "wider", scopes: [ADMIN] }) { secret } }', {}, { token: admin }))).toBe('FORBIDDEN');
    expect(codeOf(await gql('mutation { updateTenantSettings(input: { systemPrompt: "x" }) { id } }', {}, { token: admin }))).toBe('FORBIDDEN');
    // It still knows who it is.
    const viewer = await gql('{ viewer { apiKey { collectionIds agentIds } } }', {}, { token: admin });
    expect(viewer.body.data.viewer.apiKey).toEqual({ collectionIds: [w.x], agentIds: null });
  });
});

describe('a JWT with collection_ids', () => {
  it('is held to the claim like a key; old citations outside it become placeholders; a restricted admin lists only its own conversations', async () => {
    const w = await workspace();
    const sub = 'restricted-user';
    const free = await signToken({ tenant_id: w.t.id, role: 'admin' }, { sub });
    const limited = await signToken({ tenant_id: w.t.id, role: 'admin', collection_ids: [w.x] }, { sub });
    // Asked before the restriction: the answer cites X, Y and the loose document.
    const before = await gql(ASK_SOURCES, { input: { question: 'refunds approval partner handbook?', topK: 10 } }, { token: free });
    expect(hitDocs(before.body.data.ask.sources)).toEqual([w.docX, w.docY, w.docLoose].sort());
    const conv = before.body.data.ask.conversation.id;
    // Someone else's conversation, which an unrestricted admin would see.
    const memberConv = (await ask(await w.t.tokenFor('member'), { question: 'refunds?' })).body.data.ask.conversation.id;

    const read = await gql(CONV_SOURCES, { id: conv }, { token: limited });
    const sources = read.body.data.conversation.messages[1].sources;
    expect(sources.length).toBe(before.body.data.ask.sources.length);
    for (const s of sources) {
      if (s.document?.id === w.docX) continue;
      expect(s).toEqual({ documentDeleted: true, text: '', document: null });
    }
    expect(sources.some((s: any) => s.document?.id === w.docX)).toBe(true);
    expect(JSON.stringify(read.body)).not.toMatch(/BLUEFALCON/);

    expect(ids((await gql(CONVERSATIONS, {}, { token: free })).body.data.conversations.edges)).toEqual([conv, memberConv].sort());
    expect(ids((await gql(CONVERSATIONS, {}, { token: limited })).body.data.conversations.edges)).toEqual([conv]);
    expect((await gql('query($id: ID!) { conversation(id: $id) { id } }', { id: memberConv }, { token: limited })).body.data.conversation).toBeNull();
    expect(docIds(await gql(DOCS, {}, { token: limited }))).toEqual([w.docX]);
  });

  it.each([
    ['a string', 'x'],
    ['an empty list', []],
    ['a list with a number', [1]],
    ['a list with an empty id', ['']],
    ['51 ids', Array.from({ length: 51 }, (_, i) => `c${i}`)],
  ])('refuses collection_ids / agent_ids that are %s with 401', async (_name, value) => {
    const w = await workspace();
    for (const claim of ['collection_ids', 'agent_ids']) {
      const token = await signToken({ tenant_id: w.t.id, role: 'member', [claim]: value });
      const r = await gql(DOCS, {}, { token });
      expect(r.status).toBe(401);
      expect(codeOf(r)).toBe('UNAUTHENTICATED');
    }
  });
});

describe('a credential limited to agents', () => {
  it('sees and asks only its agents, must name one, and lists only their conversations', async () => {
    const w = await workspace();
    const widget = (await createApiKey(w.t, ['CHAT'], { agentIds: [w.support.id] })).secret;
    const agents = (await gql('{ agents { edges { node { slug } } } }', {}, { token: widget })).body.data.agents.edges.map((e: any) => e.node.slug);
    expect(agents).toEqual(['support']);
    expect((await gql('query($id: ID) { agent(id: $id) { id } }', { id: w.sales.id }, { token: widget })).body.data.agent).toBeNull();
    const none = await ask(widget, { question: 'refunds?' });
    expect(codeOf(none)).toBe('BAD_USER_INPUT');
    expect(none.body.errors![0]!.extensions!.field).toBe('agentId');
    const sales = await ask(widget, { question: 'refunds?', agentId: w.sales.id });
    const unknown = await ask(widget, { question: 'refunds?', agentId: crypto.randomUUID() });
    expect(codeOf(sales)).toBe('NOT_FOUND');
    expect(sales.body.errors![0]!.message).toBe(unknown.body.errors![0]!.message);
    const ok = await gql(ASK_SOURCES, { input: { question: 'refunds?', agentSlug: 'support' } }, { token: widget });
    expect(hitDocs(ok.body.data.ask.sources)).toEqual([w.docX]);
    expect(ids((await gql(CONVERSATIONS, {}, { token: widget })).body.data.conversations.edges)).toEqual([ok.body.data.ask.conversation.id]);
    // The same restriction as a JWT claim.
    const jwt = await signToken({ tenant_id: w.t.id, role: 'member', agent_ids: [w.sales.id] });
    expect(codeOf(await ask(jwt, { question: 'refunds?', agentSlug: 'support' }))).toBe('NOT_FOUND');
    expect((await ask(jwt, { question: 'refunds?', agentSlug: 'sales' })).body.errors).toBeUndefined();
  });
});

describe('createApiKey with restrictions', () => {
  it('stores and shows them; bad lists are BAD_USER_INPUT; unknown and foreign ids the same NOT_FOUND', async () => {
    const w = await workspace();
    const r = await gql('mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { collectionIds agentIds } } }', {
      input: { name: 'widget', scopes: ['CHAT'], collectionIds: [w.x, w.x], agentIds: [w.support.id] },
    }, { token: w.t.token });
    expect(r.body.data.createApiKey.apiKey).toEqual({ collectionIds: [w.x], agentIds: [w.support.id] });
    const theirCollection = (await gql('mutation { createCollection(input: { name: "theirs" }) { id } }', {}, { token: w.other.token })).body.data.createCollection.id;
    const create = (extra: Record<string, unknown>) =>
      gql('mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }', { input: { name: 'k', scopes: ['CHAT'], ...extra } }, { token: w.t.token });
    for (const extra of [{ collectionIds: [] }, { agentIds: [] }, { collectionIds: [''] }, { collectionIds: Array.from({ length: 51 }, () => crypto.randomUUID()) }]) {
      expect(codeOf(await create(extra)), JSON.stringify(extra).slice(0, 40)).toBe('BAD_USER_INPUT');
    }
    const foreign = await create({ collectionIds: [theirCollection] });
    const unknown = await create({ collectionIds: [crypto.randomUUID()] });
    expect(codeOf(foreign)).toBe('NOT_FOUND');
    expect(foreign.body.errors![0]!.message).toBe(unknown.body.errors![0]!.message);
    expect(codeOf(await create({ agentIds: [crypto.randomUUID()] }))).toBe('NOT_FOUND');
    const keys = (await gql('{ apiKeys { name } }', {}, { token: w.t.token })).body.data.apiKeys.map((k: any) => k.name);
    expect(keys).toEqual(['widget']);
  });
});
