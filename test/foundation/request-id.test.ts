/**
 * Request ids (issue 9 item 10): a client-sent `cf-ray` is used only on Cloudflare
 * (production configuration and `request.cf` present) and only in its real shape;
 * anything else gets a generated id, so an 8 KB header never reaches the audit log and
 * another request's ray id cannot be forged into ours.
 */
import { describe, expect, it } from 'vitest';
import { requestIdFor } from '../../src/http/request-id';
import { gql, twoTenants } from '../helpers';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const REAL_RAY = '8f1e2d3c4b5a6978-AMS';

const req = (ray: string | null, cf?: Record<string, unknown>) =>
  new Request('https://acme.example.com/graphql', { headers: ray === null ? {} : { 'cf-ray': ray }, ...(cf ? { cf } : {}) } as RequestInit);

describe('request ids', () => {
  it('keeps a well-formed cf-ray on Cloudflare (production, request.cf present)', () => {
    expect(requestIdFor(req(REAL_RAY, { colo: 'AMS' }), true)).toBe(REAL_RAY);
  });

  it.each([
    ['8 KB', 'a'.repeat(8 * 1024)],
    ['8 KB that starts like a ray', `${REAL_RAY}${'0'.repeat(8 * 1024)}`],
    ['too short', '8f1e2d3c-AMS'],
    ['upper-case hex', '8F1E2D3C4B5A6978-AMS'],
    ['no colo', '8f1e2d3c4b5a6978'],
    ['a space inside', '8f1e2d3c 4b5a6978-AMS'],
    ['a uuid', crypto.randomUUID()],
    ['empty', ''],
  ])('generates an id for a cf-ray that is not in the real shape (%s), even on Cloudflare', (_, ray) => {
    const id = requestIdFor(req(ray, { colo: 'AMS' }), true);
    expect(id).toMatch(UUID);
    expect(id).not.toBe(ray);
  });

  it('generates an id off Cloudflare even for a well-formed cf-ray (it could be forged)', () => {
    // Development / tests: no edge overwrites the header.
    expect(requestIdFor(req(REAL_RAY, { colo: 'AMS' }), false)).toMatch(UUID);
    // Production configuration on self-hosted workerd: no request.cf.
    expect(requestIdFor(req(REAL_RAY), true)).toMatch(UUID);
    expect(requestIdFor(req(null, { colo: 'AMS' }), true)).toMatch(UUID);
    // Every request gets its own.
    expect(requestIdFor(req(null), false)).not.toBe(requestIdFor(req(null), false));
  });

  it('stores a generated id, not the client header, in responses and audit rows (through the Worker)', async () => {
    const [a, b] = await twoTenants();
    const huge = 'f'.repeat(8 * 1024);
    const m = 'mutation($input: TenantSettingsInput!) { updateTenantSettings(input: $input) { id } }';
    const big = await gql(m, { input: { systemPrompt: 'one' } }, { token: a.token, headers: { 'cf-ray': huge } });
    expect(big.status).toBe(200);
    expect(big.headers.get('x-request-id')).toMatch(UUID);

    // A request of tenant B; A then sends B's id as its cf-ray (well-formed ids are not trusted off Cloudflare either).
    const other = await gql('{ viewer { role } }', {}, { token: b.token, headers: { 'cf-ray': REAL_RAY } });
    const bId = other.headers.get('x-request-id')!;
    expect(bId).toMatch(UUID);
    const forged = await gql(m, { input: { systemPrompt: 'two' } }, { token: a.token, headers: { 'cf-ray': bId } });
    expect(forged.headers.get('x-request-id')).toMatch(UUID);
    expect(forged.headers.get('x-request-id')).not.toBe(bId);

    const audit = await gql('{ auditLog { edges { node { action requestId } } } }', {}, { token: a.token });
    const ids = audit.body.data.auditLog.edges.map((e: any) => e.node.requestId);
    expect(ids).toHaveLength(2);
    expect(ids).toEqual(expect.arrayContaining([big.headers.get('x-request-id'), forged.headers.get('x-request-id')]));
    for (const id of ids) expect(id).toMatch(UUID);
  });
});
