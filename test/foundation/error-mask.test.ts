/**
 * The error mask recognises GraphQL's own errors even when they come from a second copy
 * of the graphql package (a bundler resolving a deep import to the CommonJS files made
 * one: syntax errors were answered 500 INTERNAL_SERVER_ERROR instead of 400).
 */
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { isGraphQLError, maskError } from '../../src/schema/errors';

/** Stands for GraphQLError from another copy of the package: same shape and tag, other class. */
class ForeignGraphQLError extends Error {
  readonly nodes = undefined;
  readonly positions = [3];
  readonly locations = [{ line: 1, column: 4 }];
  readonly path = undefined;
  readonly source = undefined;
  readonly originalError = undefined;
  readonly extensions: Record<string, unknown> = {};
  override readonly name = 'GraphQLError';
  get [Symbol.toStringTag]() {
    return 'GraphQLError';
  }
}

describe('error mask', () => {
  it('treats a syntax error from another graphql copy as BAD_USER_INPUT (400), not as unexpected', () => {
    const unexpected: unknown[] = [];
    const err = new ForeignGraphQLError('Syntax Error: Expected Name, found <EOF>.');
    expect(err instanceof GraphQLError).toBe(false);
    expect(isGraphQLError(err)).toBe(true);
    const masked = maskError('req-1', (e) => unexpected.push(e))(err) as GraphQLError;
    expect(masked.extensions).toMatchObject({ code: 'BAD_USER_INPUT', http: { status: 400 } });
    expect(masked.message).toContain('Syntax Error');
    expect(unexpected).toEqual([]);
  });

  it('still masks an ordinary unexpected error with a request id and no detail', () => {
    const unexpected: unknown[] = [];
    const masked = maskError('req-2', (e) => unexpected.push(e))(new Error('SQLITE_ERROR: UNIQUE constraint failed: secrets.id')) as GraphQLError;
    expect(masked.message).toBe('Unexpected error.');
    expect(masked.extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', requestId: 'req-2', http: { status: 500 } });
    expect(JSON.stringify(masked)).not.toContain('SQLITE');
    expect(unexpected).toHaveLength(1);
    expect(isGraphQLError({ name: 'GraphQLError' })).toBe(false);
  });

  it('answers a schema older than the code as a misconfiguration (503), detailed only outside production', () => {
    const err = new Error('Failed query: select "id" from "collections"', { cause: new Error('D1_ERROR: no such table: collections: SQLITE_ERROR') });
    for (const production of [false, true]) {
      const unexpected: unknown[] = [];
      const masked = maskError('req-3', (e) => unexpected.push(e), { production })(err) as GraphQLError;
      expect(masked.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', reason: 'misconfigured', requestId: 'req-3', http: { status: 503 } });
      expect(masked.message.includes('no such table: collections')).toBe(!production);
      expect(masked.message).not.toContain('Failed query');
      expect(unexpected).toHaveLength(1);
    }
  });
});
