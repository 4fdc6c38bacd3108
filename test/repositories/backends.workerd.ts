/**
 * The repository suite's backends in workerd: the three local D1 placements (shared,
 * regional:eu, dedicated:d1-1), each opened as the tenant session opens it (a D1 session).
 * The Node project maps `#repo-backends` to backends.node.ts (libSQL) instead.
 */
import { env } from 'cloudflare:test';
import { databaseFor } from '../../src/db/client';
import type { Backend } from './backend-types';

const d1 = (name: string, binding: D1Database, shared: boolean): Backend => ({
  name,
  async open() {
    const db = databaseFor(binding.withSession('first-unconstrained'));
    return { db, catalogue: shared ? db : databaseFor(env.DB) };
  },
});

export const backends: Backend[] = [
  d1('d1 shared', env.DB, true),
  d1('d1 regional:eu', env.DB_EU!, false),
  d1('d1 dedicated:d1-1', env.DB_DEDICATED_1!, false),
];
