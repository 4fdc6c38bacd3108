import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createTenant, gql } from '../helpers';

describe('smoke', () => {
  it('healthz answers ok (details: test/foundation/misconfiguration.test.ts)', async () => {
    const res = await SELF.fetch('http://localhost/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });
  it('viewer answers for a tenant admin', async () => {
    const t = await createTenant();
    const r = await gql('{ viewer { role tenant { slug } } }', {}, { token: t.token });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.viewer).toEqual({ role: 'ADMIN', tenant: { slug: t.slug } });
  });
});
