/**
 * Backend drift guard: every SQL migration must apply on the real libSQL engine, not only on
 * D1. Migration 0007 once nested 73 replace() calls in one expression, which D1 accepted and
 * libSQL's parser refused ("parser stack overflow"); it is now a chain of views.
 */
import { createClient } from '@libsql/client';
import { describe, expect, it } from 'vitest';
import { migrateLibsql } from '../../src/db/migrate-libsql';
import { LIBSQL_MIGRATIONS_PARSE, MIGRATIONS } from '../repositories/backends.node';

describe('libSQL and migrations/', () => {
  it('applies every migration on a fresh libSQL database', async () => {
    expect(LIBSQL_MIGRATIONS_PARSE).toBe(true);
    const client = createClient({ url: ':memory:' });
    await migrateLibsql(client, MIGRATIONS);
    const views = await client.execute("SELECT name FROM sqlite_master WHERE type = 'view' AND name LIKE 'chunks_kw%' ORDER BY name");
    expect(views.rows.map((r) => r.name)).toContain('chunks_kw_source');
  });
});
