/**
 * /healthz checks every configured placement database, not only the catalogue: each must be
 * reachable and at the code's schema version. A database behind is a misconfiguration naming
 * its placement and binding (to anyone, like every misconfiguration); an unreachable one makes
 * the service `degraded`, and only HEALTHZ_TOKEN / platform admins see which.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { signToken } from '../helpers';
import { workerWith } from '../foundation/worker-with';

const healthz = async (overrides: Record<string, unknown>, token?: string) => {
  const res = await workerWith(overrides)('http://localhost/healthz', token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, body: await res.json<any>() };
};

/** A D1 binding whose every query fails as an unreachable database would (a stand-in: miniflare's D1 cannot be cut off). */
const unreachable = {
  prepare: () => ({ first: () => Promise.reject(new Error('D1_ERROR: Network connection lost.')), bind: () => unreachable.prepare() }),
  batch: () => Promise.reject(new Error('D1_ERROR: Network connection lost.')),
  withSession: () => unreachable,
};

describe('/healthz and the placement databases', () => {
  it('lists every placement database with its migration for the token holder; anyone else sees only ok', async () => {
    const detailed = await healthz({}, env.HEALTHZ_TOKEN);
    expect(detailed.status).toBe(200);
    expect(Object.keys(detailed.body.placements)).toEqual(['shared', 'regional:eu', 'dedicated:d1-1']);
    for (const [id, binding] of [['shared', 'DB'], ['regional:eu', 'DB_EU'], ['dedicated:d1-1', 'DB_DEDICATED_1']] as const) {
      expect(detailed.body.placements[id]).toMatchObject({ binding, reachable: true, latestMigration: expect.stringMatching(/^\d{4}_\w+\.sql$/) });
    }
    expect(detailed.body.failing).toBeUndefined();
    expect(await healthz({})).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('names the placement whose database has no migrations, and the command', async () => {
    const r = await healthz({ DB_EU: env.UNMIGRATED_DB });
    expect(r.status).toBe(503);
    expect(r.body).toEqual({
      status: 'misconfigured',
      setting: 'DB_EU',
      problem: 'the database of placement regional:eu (DB_EU) has no migrations applied',
      fix: expect.stringContaining('npm run db:migrate'),
    });
  });

  it('is degraded when a placement database is unreachable: the details name it, anonymous callers get the status only', async () => {
    const overrides = { DB_DEDICATED_1: unreachable };
    expect(await healthz(overrides)).toEqual({ status: 503, body: { status: 'degraded' } });
    const platform = await signToken({ platform_admin: true, role: 'owner' }, { sub: 'operator' });
    const detailed = await healthz(overrides, platform);
    expect(detailed.status).toBe(503);
    expect(detailed.body).toMatchObject({ status: 'degraded', failing: ['dedicated:d1-1'], placements: { 'dedicated:d1-1': { reachable: false }, shared: { reachable: true } } });
    expect(detailed.body.d1.reachable).toBe(true);
  });
});
