/**
 * Names and tags are Unicode-normalised and free of invisible characters (issue 9, item 11):
 * NFC (so `café` typed two ways is one name), no control or format characters (NUL, C0/C1,
 * bidi overrides such as U+202E, zero-width characters) and no lone surrogates, in document
 * names, collection names and tags; every refusal is BAD_USER_INPUT naming the field, and
 * lengths count characters (code points), not UTF-16 units.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { codeOf, gql, twoTenants } from '../helpers';
import { hits, ingest, ingestProcessed } from './doc-helpers';

const CREATE_COLLECTION = 'mutation($name: String!) { createCollection(input: { name: $name }) { id name } }';
const fieldOf = (r: Awaited<ReturnType<typeof gql>>) => r.body.errors?.[0]?.extensions?.field;

const UNSAFE: [string, string][] = [
  ['NUL', 'report\u0000.txt'],
  ['a C0 control', 'report\u0007.txt'],
  ['a newline', 'two\nlines'],
  ['a C1 control', 'report\u0085.txt'],
  ['a right-to-left override', 'invoice\u202Egpj.exe'],
  ['a bidi isolate', 'a\u2066b'],
  ['a zero-width space', 'Finance\u200b'],
  ['a zero-width joiner only', '\u200d'],
  ['a byte-order mark', '\uFEFFname'],
  ['a lone high surrogate', 'bad\ud800name'],
  ['a lone low surrogate', 'bad\udc00name'],
];

describe('document names', () => {
  it('are NFC: the same name typed decomposed is the same document', async () => {
    const [a] = await twoTenants();
    const nfc = (await ingest(a, { name: 'caf\u00e9.md', text: 'Coffee is free.' })).body.data.ingestDocument;
    const nfd = (await ingest(a, { name: 'cafe\u0301.md', text: 'Coffee is free.' })).body.data.ingestDocument;
    expect(nfd.id).toBe(nfc.id);
    expect(nfd.name).toBe('caf\u00e9.md');
    const rows = await env.DB.prepare('SELECT name FROM documents WHERE tenant_id = ?').bind(a.id).all<{ name: string }>();
    expect(rows.results).toEqual([{ name: 'caf\u00e9.md' }]);
  });

  it.each(UNSAFE)('refuse %s with BAD_USER_INPUT naming the field; nothing is stored', async (_what, name) => {
    const [a] = await twoTenants();
    const r = await ingest(a, { name, text: 'Some text.' });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.status).toBe(400);
    expect(fieldOf(r)).toBe('name');
    expect(r.body.errors![0]!.message).toMatch(/^name must not contain control, invisible formatting or unpaired surrogate characters \(found U\+[0-9A-F]{4}\)$/);
    expect((await env.DB.prepare('SELECT count(*) AS n FROM documents WHERE tenant_id = ?').bind(a.id).first<{ n: number }>())!.n).toBe(0);
  });

  it('count characters, not UTF-16 units: 200 emoji fit, 201 do not', async () => {
    const [a] = await twoTenants();
    const ok = await ingest(a, { name: '📄'.repeat(200), text: 'Emoji-named document.' });
    expect(ok.body.errors).toBeUndefined();
    const over = await ingest(a, { name: '📄'.repeat(201), text: 'Emoji-named document.' });
    expect(fieldOf(over)).toBe('name');
    expect(over.body.errors![0]!.message).toBe('name must be at most 200 characters');
  });
});

describe('collection names', () => {
  it('`Finance` and `Finance` + zero-width space cannot coexist; NFC and NFD are one name', async () => {
    const [a, b] = await twoTenants({ plan: 'pro' });
    expect((await gql(CREATE_COLLECTION, { name: 'Finance' }, { token: a.token })).body.errors).toBeUndefined();
    const zw = await gql(CREATE_COLLECTION, { name: 'Finance\u200b' }, { token: a.token });
    expect(codeOf(zw)).toBe('BAD_USER_INPUT');
    expect(fieldOf(zw)).toBe('name');
    expect((await gql(CREATE_COLLECTION, { name: 'R\u00e9sum\u00e9s' }, { token: a.token })).body.data.createCollection.name).toBe('R\u00e9sum\u00e9s');
    const nfd = await gql(CREATE_COLLECTION, { name: 'Re\u0301sume\u0301s' }, { token: a.token });
    expect(nfd.body.errors?.[0]?.message).toBe('A collection with this name already exists');
    // The other tenant's names are its own.
    expect((await gql(CREATE_COLLECTION, { name: 'Finance' }, { token: b.token })).body.errors).toBeUndefined();
  });

  it.each(UNSAFE)('refuse %s', async (_what, name) => {
    const [a] = await twoTenants({ plan: 'pro' });
    const r = await gql(CREATE_COLLECTION, { name }, { token: a.token });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(fieldOf(r)).toBe('name');
  });
});

describe('tags', () => {
  it('are NFC when stored and when filtered, so either spelling finds the document', async () => {
    const [a, b] = await twoTenants();
    const doc = await ingestProcessed(a, { name: 'menu.txt', text: 'The canteen serves soup daily.', tags: ['caf\u00e9', 'cafe\u0301', 'food'] });
    expect(doc.tags).toEqual(['caf\u00e9', 'food']);
    for (const tag of ['caf\u00e9', 'cafe\u0301']) {
      expect((await hits(a, { query: 'canteen soup', mode: 'KEYWORD', filter: { tags: [tag] } })).map((h) => h.document.id)).toEqual([doc.id]);
      const listed = await gql('query($tag: String!) { documents(filter: { tag: $tag }) { edges { node { id } } } }', { tag }, { token: a.token });
      expect(listed.body.data.documents.edges).toEqual([{ node: { id: doc.id } }]);
    }
    expect(await hits(b, { query: 'canteen soup', mode: 'KEYWORD', filter: { tags: ['caf\u00e9'] } })).toEqual([]);
  });

  it.each(UNSAFE)('refuse %s on ingest, in search filters and in the documents filter', async (_what, tag) => {
    const [a] = await twoTenants();
    const r = await ingest(a, { name: 'tagged.txt', text: 'Text.', tags: ['ok', tag] });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(fieldOf(r)).toBe('tags');
    const s = await gql('query($tags: [String!]) { search(input: { query: "x", filter: { tags: $tags } }) { hits { text } } }', { tags: [tag] }, { token: a.token });
    expect(codeOf(s)).toBe('BAD_USER_INPUT');
    expect(fieldOf(s)).toBe('filter.tags');
    const d = await gql('query($tag: String!) { documents(filter: { tag: $tag }) { edges { node { id } } } }', { tag }, { token: a.token });
    expect(codeOf(d)).toBe('BAD_USER_INPUT');
    expect(fieldOf(d)).toBe('filter.tag');
  });

  it('count characters: 64 emoji fit, 65 do not', async () => {
    const [a] = await twoTenants();
    expect((await ingest(a, { name: 'e.txt', text: 'Text.', tags: ['🏷'.repeat(64)] })).body.errors).toBeUndefined();
    const over = await ingest(a, { name: 'f.txt', text: 'Text.', tags: ['🏷'.repeat(65)] });
    expect(fieldOf(over)).toBe('tags');
    expect(over.body.errors![0]!.message).toBe('tags must be at most 64 characters');
  });
});
