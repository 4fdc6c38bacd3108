/**
 * Member profiles belong to one membership (migration 0006): the same JWT `sub` in two
 * tenants is two members, and neither sees the other's email or name.
 */
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createTenant, gql } from '../helpers';

describe('member profiles', () => {
  it('a sub that exists in another tenant does not bring that tenant’s profile along', async () => {
    const [acme, globex] = [await createTenant(), await createTenant()];
    await env.DB.prepare("INSERT INTO memberships (tenant_id, user_id, role, email, name) VALUES (?, 'hank', 'admin', 'hank@globex.example', 'Hank')")
      .bind(globex.id).run();
    // Before 0006 a global users row joined on sub alone; one still present must not matter.
    await env.DB.prepare("INSERT OR IGNORE INTO users (id, email, name) VALUES ('hank', 'hank@globex.example', 'Hank')").run();
    await gql('{ viewer { role } }', {}, { token: await acme.tokenFor('member', 'hank') });
    const acmeMembers = (await gql('{ members { userId email name } }', {}, { token: acme.token })).body.data.members;
    expect(acmeMembers).toContainEqual({ userId: 'hank', email: null, name: null });
    const globexMembers = (await gql('{ members { userId email name } }', {}, { token: globex.token })).body.data.members;
    expect(globexMembers).toContainEqual({ userId: 'hank', email: 'hank@globex.example', name: 'Hank' });
  });

  it('migration 0006 on existing data copies a profile only to a user’s single membership', async () => {
    // A scratch SQLite database (a Durable Object's) with the schema before 0006 and pre-0006 rows.
    const scratch = env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(`scratch-${crypto.randomUUID()}`));
    const result = await runInDurableObject(scratch, (_g, state) => {
      const sql = state.storage.sql;
      const run = (q: string) => void sql.exec(q);
      for (const m of env.TEST_MIGRATIONS.filter((m) => m.name < '0006')) for (const q of m.queries) run(q);
      sql.exec("INSERT INTO tenants (id, slug, name) VALUES ('a', 'acme', 'Acme'), ('g', 'globex', 'Globex')");
      sql.exec("INSERT INTO users (id, email, name) VALUES ('alice', 'alice@acme', 'Alice'), ('hank', 'hank@globex', 'Hank')");
      sql.exec("INSERT INTO memberships (tenant_id, user_id, role) VALUES ('a', 'alice', 'admin'), ('g', 'hank', 'admin'), ('a', 'hank', 'member'), ('a', 'nobody', 'viewer')");
      for (const q of env.TEST_MIGRATIONS.find((m) => m.name.startsWith('0006'))!.queries) run(q);
      return sql.exec('SELECT tenant_id, user_id, email, name FROM memberships ORDER BY tenant_id, user_id').toArray();
    });
    expect(result).toEqual([
      { tenant_id: 'a', user_id: 'alice', email: 'alice@acme', name: 'Alice' },
      { tenant_id: 'a', user_id: 'hank', email: null, name: null },
      { tenant_id: 'a', user_id: 'nobody', email: null, name: null },
      { tenant_id: 'g', user_id: 'hank', email: null, name: null },
    ]);
  });
});
