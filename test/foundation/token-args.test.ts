/**
 * `npm run token` argument checks (scripts/token-args.mjs, pure JS run here in workerd):
 * bad arguments are one-line TokenArgsErrors (token.mjs prints them and exits 2), and a
 * minted token is one the server accepts.
 */
import { describe, expect, it } from 'vitest';
import { parseTokenArgs, TokenArgsError } from '../../scripts/token-args.mjs';
import { codeOf, createApiKey, createTenant, gql, signToken } from '../helpers';

const refusal = (argv: string[]) => {
  try {
    parseTokenArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(TokenArgsError);
    return (err as Error).message;
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
};

describe('token script arguments', () => {
  it('parses the documented options with their defaults', () => {
    const none = { collectionIds: undefined, agentIds: undefined };
    expect(parseTokenArgs(['--tenant', 'acme'])).toEqual({ tenant: 'acme', role: 'admin', sub: undefined, hours: 720, scope: undefined, ...none, platformAdmin: false });
    expect(parseTokenArgs(['--tenant', 'acme', '--role', 'Member', '--sub', 'bob', '--hours', '1.5', '--scope', ' SEARCH  chat search '])).toEqual({
      tenant: 'acme', role: 'member', sub: 'bob', hours: 1.5, scope: 'search chat', ...none, platformAdmin: false,
    });
    expect(parseTokenArgs(['--tenant', 'acme', '--collections', ' c1, c2,,c1 ', '--agents', 'a1'])).toMatchObject({ collectionIds: ['c1', 'c2'], agentIds: ['a1'] });
    expect(parseTokenArgs(['--platform-admin'])).toMatchObject({ tenant: undefined, platformAdmin: true });
    expect(parseTokenArgs(['--help'])).toEqual({ help: true });
  });

  it('refuses bad values with a one-line message naming the argument', () => {
    const cases: [string[], RegExp][] = [
      [['--tenant', 'acme', '--hours', 'abc'], /^--hours must be a number of hours .* \(got "abc"\)$/],
      [['--tenant', 'acme', '--hours', '0'], /^--hours must be/],
      [['--tenant', 'acme', '--hours', '-3'], /^--hours must be/],
      [['--tenant', 'acme', '--hours', '1e9'], /^--hours must be/],
      [['--tenant', 'acme', '--scope', ''], /^--scope must name at least one of search, chat, ingest, admin; omit it for an unrestricted token$/],
      [['--tenant', 'acme', '--scope', '   '], /^--scope must name at least one/],
      [['--tenant', 'acme', '--scope', 'search write'], /^--scope: unknown scope "write"/],
      [['--tenant', 'acme', '--role', 'boss'], /^--role must be one of owner, admin, member, viewer \(got "boss"\)$/],
      [['--tenant', 'acme', '--sub', ''], /^--sub must not be empty$/],
      [['--tenant', 'acme', '--sub', 's'.repeat(257)], /^--sub must be at most 256 characters/],
      [['--tenant', ''], /^--tenant must not be empty$/],
      [['--tenant'], /^--tenant needs a value$/],
      [['--tenant', '--role', 'admin'], /^--tenant needs a value$/],
      [['--tenant', 'acme', '--tenant', 'globex'], /^--tenant is given twice$/],
      [['--tenant', 'acme', '--bogus'], /^unknown argument "--bogus"$/],
      [[], /^--tenant is required \(or --platform-admin\)$/],
      [['--tenant', 'acme', '--collections', ' , '], /^--collections must name at least one id; omit it for an unrestricted token$/],
      [['--tenant', 'acme', '--agents', Array.from({ length: 51 }, (_, i) => `a${i}`).join(',')], /^--agents names more than 50 ids/],
      [['--tenant', 'acme', '--agents', 'x'.repeat(201)], /^--agents: "x+" is not an id/],
    ];
    for (const [argv, message] of cases) {
      const m = refusal(argv);
      expect(m, argv.join(' ')).toMatch(message);
      expect(m).not.toContain('\n');
    }
  });

  it('a token with the parsed claims is accepted and held to its scope; without --scope it is unrestricted', async () => {
    const t = await createTenant();
    await createApiKey(t, ['SEARCH']);
    const claims = (argv: string[]) => {
      const o = parseTokenArgs(['--tenant', t.id, ...argv]);
      if ('help' in o) throw new Error('help');
      return {
        tenant_id: o.tenant,
        role: o.role,
        ...(o.scope ? { scope: o.scope } : {}),
        ...(o.collectionIds ? { collection_ids: o.collectionIds } : {}),
        ...(o.agentIds ? { agent_ids: o.agentIds } : {}),
      };
    };
    const scoped = await signToken(claims(['--scope', 'SEARCH chat']));
    expect((await gql('{ viewer { scopes } }', {}, { token: scoped })).body.data.viewer.scopes).toEqual(['search', 'chat']);
    expect(codeOf(await gql('{ apiKeys { id } }', {}, { token: scoped }))).toBe('FORBIDDEN');
    const unrestricted = await signToken(claims([]));
    expect((await gql('{ apiKeys { id } }', {}, { token: unrestricted })).body.data.apiKeys).toHaveLength(1);
    // --collections: the token sees only that collection's documents.
    const mk = async (name: string) =>
      (await gql('mutation($input: CreateCollectionInput!) { createCollection(input: $input) { id } }', { input: { name } }, { token: t.token })).body.data.createCollection.id as string;
    const [inside, outside] = [await mk('inside'), await mk('outside')];
    const ingest = async (collectionId: string) =>
      (await gql('mutation($input: IngestDocumentInput!) { ingestDocument(input: $input) { id } }', { input: { name: `${collectionId}.md`, text: 'x', collectionId } }, { token: t.token })).body.data.ingestDocument.id as string;
    const docIn = await ingest(inside);
    await ingest(outside);
    const limited = await signToken(claims(['--collections', inside]));
    const docs = await gql('{ documents { edges { node { id } } } }', {}, { token: limited });
    expect(docs.body.data.documents.edges.map((e: any) => e.node.id)).toEqual([docIn]);
  });
});
