/**
 * Production hygiene of error messages (issue 9 item 9, masking): with introspection off
 * (production) no message suggests field or enum names or names schema types, in
 * validation and in variable errors alike; malformed JSON never carries
 * `extensions.originalError`. Development keeps the suggestions.
 */
import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/log';
import { requestStore } from '../../src/lib/request-store';
import { hideSchemaHints } from '../../src/schema/schema-hints';
import { yogaFor } from '../../src/yoga';
import { createTenant } from '../helpers';

/** Runs one operation through the real Yoga server of the given configuration (no resolver is reached). */
async function run(introspection: boolean, query: string, variables: Record<string, unknown> = {}) {
  const yoga = yogaFor({ introspection });
  const request = new Request('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const res = await requestStore.run({ requestId: 'req-hints', log: createLogger('req-hints') }, () => yoga.fetch(request, { app: {} as never }));
  return { status: res.status, body: await res.json<{ errors: { message: string; extensions: Record<string, unknown> }[] }>() };
}

const CASES: [string, string, Record<string, unknown>][] = [
  ['enum literal', '{ search(input: { query: "x", mode: HYBRD }) { hits { score } } }', {}],
  ['enum in variables', 'query($i: SearchInput!) { search(input: $i) { hits { score } } }', { i: { query: 'x', mode: 'HYBRD' } }],
  ['unknown input field', '{ search(input: { query: "x", topKK: 3 }) { hits { score } } }', {}],
  ['unknown input field in variables', 'query($i: SearchInput!) { search(input: $i) { hits { score } } }', { i: { query: 'x', topKK: 3 } }],
  ['unknown output field', '{ search(input: { query: "x" }) { hits { scor } } }', {}],
  ['unknown argument', '{ search(inptu: { query: "x" }) { hits { score } } }', {}],
  ['missing selection', '{ search(input: { query: "x" }) }', {}],
  ['wrong enum value type', '{ search(input: { query: "x", mode: "HYBRID" }) { hits { score } } }', {}],
];

describe('schema hints in production (introspection off)', () => {
  it.each(CASES)('%s: no suggestion, no schema type name, still says what was wrong', async (_, query, variables) => {
    const prod = await run(false, query, variables);
    expect(prod.status).toBe(400);
    expect(prod.body.errors.length).toBeGreaterThan(0);
    for (const e of prod.body.errors) {
      expect(e.extensions.code).toBe('BAD_USER_INPUT');
      expect(e.extensions.requestId).toBe('req-hints');
      expect(e.message).not.toMatch(/Did you mean|Suggestion/);
      expect(e.message).not.toMatch(/SearchMode|SearchInput|SearchResult|SearchHit|"Query\b|Query\./);
      expect(e.message.length).toBeGreaterThan(10);
    }
  });

  it('keeps the part of the message about the client\'s own query', async () => {
    const enumErr = (await run(false, CASES[1]![1], CASES[1]![2])).body.errors[0]!.message;
    expect(enumErr).toBe('Variable "$i" got invalid value "HYBRD" at "i.mode"; Value "HYBRD" does not exist in [hidden] enum.');
    const field = (await run(false, CASES[4]![1])).body.errors[0]!.message;
    expect(field).toBe('Cannot query field "scor" on type [hidden].');
  });

  it('development (introspection on) keeps the suggestions', async () => {
    const dev = await run(true, CASES[0]![1]);
    expect(dev.body.errors[0]!.message).toMatch(/Did you mean the enum value "HYBRID"\?/);
    expect((await run(true, CASES[4]![1])).body.errors[0]!.message).toMatch(/Did you mean "score"\?/);
  });

  it('hideSchemaHints keeps built-in scalar names and drops every suggestion form', () => {
    expect(hideSchemaHints('Expected value of type "Int!", found "a".')).toBe('Expected value of type "Int!", found "a".');
    expect(hideSchemaHints('Expected value of type "[DateTime!]", found 1.')).toBe('Expected value of type [hidden], found 1.');
    expect(hideSchemaHints('Unknown argument "inptu" on field "Query.search". Did you mean "input"?')).toBe('Unknown argument "inptu" on field "search".');
    expect(hideSchemaHints('Field "search" of type "SearchResult!" must have a selection of subfields. Did you mean "search { ... }"?'))
      .toBe('Field "search" of type [hidden] must have a selection of subfields.');
    expect(hideSchemaHints('Value "A" does not exist in "Plan" enum. Did you mean the enum value "FREE", "PRO", or "STARTER"?'))
      .toBe('Value "A" does not exist in [hidden] enum.');
  });
});

describe('malformed JSON', () => {
  it('answers 400 with a readable message and no originalError', async () => {
    const t = await createTenant();
    for (const body of ['{"query": ', '{"query": "{ viewer { role } }",}', 'not json']) {
      const res = await SELF.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.token}` },
        body,
      });
      expect(res.status).toBe(400);
      const json = await res.json<any>();
      expect(json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(json.errors[0].message).toMatch(/JSON/);
      expect(json.errors[0].extensions).not.toHaveProperty('originalError');
      expect(JSON.stringify(json)).not.toMatch(/SyntaxError|Unexpected (end|token)/);
    }
  });
});
