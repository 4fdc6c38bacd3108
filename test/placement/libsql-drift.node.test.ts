/**
 * The known backend drift (test/repositories/backends.node.ts): migration 0007 does not parse on
 * libSQL. This test pins it; when 0007 is fixed it fails, and LIBSQL_MIGRATIONS_PARSE goes back
 * to true (re-enabling the libSQL repository suite and the libSQL placement tests).
 */
import { createClient } from '@libsql/client';
import { describe, expect, it } from 'vitest';
import { migrateLibsql } from '../../src/db/migrate-libsql';
import { LIBSQL_MIGRATIONS_PARSE, MIGRATIONS } from '../repositories/backends.node';

describe('libSQL and migrations/', () => {
  it('migration 0007 is still refused by libSQL (parser stack overflow): the libSQL suites stay off until it is not', async () => {
    expect(LIBSQL_MIGRATIONS_PARSE).toBe(false);
    const err = await migrateLibsql(createClient({ url: ':memory:' }), MIGRATIONS).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('migration 0007_tenant_keyword_index.sql failed');
    expect(String((err as Error & { cause?: Error }).cause?.message)).toMatch(/parser stack overflow/);
  });
});
