/**
 * Tenant export (DESIGN §13, docs/lifecycle.md): one ZIP archive in the tenant's placement
 * bucket (JSON Lines per table, the originals byte for byte, a manifest), written by a queue
 * job as a multipart upload; downloaded through the Worker with a signed link that expires,
 * works only for its own export and only on its own tenant's host (or the bare domain).
 */
import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { runExport, signDownload, PART_BYTES } from '../../src/lifecycle/tenant-export';
import { readZip } from '../../src/lifecycle/zip';
import { crc32 } from '../../src/lifecycle/zip';
import { createLogger } from '../../src/lib/log';
import { loadConfig } from '../../src/env';
import { createRoot } from '../../src/tenant-session';
import { codeOf, createApiKey, createTenant, gql, type TestTenant } from '../helpers';
import { BUCKETS, populate } from '../placement/move-helpers';
import { DATABASES, platformToken } from '../placement/placement-helpers';
import { deliverJobs, heldEnv } from './lifecycle-helpers';
import { postWith } from '../placement/move-helpers';

const EXPORT = 'mutation($id: ID!) { exportTenant(id: $id) { id tenantId status downloadUrl } }';
const STATUS = 'query($id: ID!) { tenantExport(id: $id) { id tenantId status progress bytes error downloadUrl downloadExpiresAt } }';

/** Starts an export as `token` and runs its queue job; returns the finished export as `token` sees it. */
async function exported(t: TestTenant, token: string, host = 'localhost') {
  const { held, sent } = heldEnv();
  const started = await postWith(held, EXPORT, { id: t.id }, token);
  expect(started.body.errors, JSON.stringify(started.body.errors)).toBeUndefined();
  expect(started.body.data.exportTenant).toMatchObject({ tenantId: t.id, status: 'PENDING', downloadUrl: null });
  expect(sent.map((s) => s.message)).toEqual([{ type: 'tenant.export', exportId: started.body.data.exportTenant.id }]);
  expect((await deliverJobs(sent)).explicitAcks).toEqual(['m0']);
  const r = await gql(STATUS, { id: started.body.data.exportTenant.id }, { token, host });
  expect(r.body.errors).toBeUndefined();
  return r.body.data.tenantExport;
}

const download = (url: string, host?: string) => SELF.fetch(url.replace(/^http:\/\/[^/]+/, `http://${host ?? 'localhost'}`));

const jsonl = (bytes: Uint8Array) => new TextDecoder().decode(bytes).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

async function archiveOf(url: string) {
  const res = await download(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/zip');
  const entries = readZip(new Uint8Array(await res.arrayBuffer()));
  for (const e of entries) expect(crc32(e.data), e.name).toBe(e.crc);
  return new Map(entries.map((e) => [e.name, e.data]));
}

describe('exportTenant', () => {
  it.each(['shared', 'regional:eu'])('an owner exports a %s tenant: every table as JSON Lines, the originals byte for byte, nothing of the neighbour', async (placement) => {
    const t = await createTenant({ placement });
    const neighbour = await createTenant({ placement });
    await populate(t);
    await populate(neighbour);
    await createApiKey(t, ['SEARCH']);
    const owner = await t.tokenFor('owner');
    const done = await exported(t, owner);
    expect(done).toMatchObject({ status: 'COMPLETED', error: null, progress: { files: 2, tables: { documents: 2, api_keys: 1 } } });
    expect(done.downloadUrl).toMatch(new RegExp(`^http://localhost/exports/${done.id}\\?token=\\d+\\.[A-Za-z0-9_-]{43}$`));
    const files = await archiveOf(done.downloadUrl);

    const db = DATABASES[placement]!;
    for (const table of ['collections', 'agents', 'documents', 'chunks', 'conversations', 'messages']) {
      const ids = (await db.prepare(`SELECT id FROM ${table} WHERE tenant_id = ? ORDER BY id`).bind(t.id).all<{ id: string }>()).results.map((r) => r.id);
      const rows = jsonl(files.get(`tables/${table}.jsonl`)!);
      expect(rows.map((r) => r.id), table).toEqual(ids);
      expect(rows.every((r) => r.tenantId === t.id), table).toBe(true);
    }
    const chunk = jsonl(files.get('tables/chunks.jsonl')!)[0]!;
    const stored = await db.prepare('SELECT text FROM chunks WHERE id = ?').bind(chunk.id).first<{ text: string }>();
    expect(chunk.text).toBe(stored!.text);
    const keys = jsonl(files.get('tables/api_keys.jsonl')!);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toHaveProperty('secretHash');
    expect(files.get('tables/webhooks.jsonl')).toEqual(new Uint8Array());
    expect(jsonl(files.get('tables/audit_log.jsonl')!).map((r) => r.action)).toEqual(expect.arrayContaining(['api_key.create', 'tenant.export']));

    const originals = (await BUCKETS[placement]!.list({ prefix: `${t.id}/` })).objects.filter((o) => !o.key.includes('/exports/'));
    expect(originals).toHaveLength(2);
    for (const o of originals) {
      const body = new Uint8Array(await (await BUCKETS[placement]!.get(o.key))!.arrayBuffer());
      expect(files.get(`originals/${o.key.slice(t.id.length + 1)}`)).toEqual(body);
    }
    const manifest = JSON.parse(new TextDecoder().decode(files.get('manifest.json')!));
    expect(manifest).toMatchObject({ format: 'edgerag-tenant-export', version: 1, exportId: done.id, tenant: { id: t.id, slug: t.slug, placement }, files: 2 });
    // Nothing of the neighbour anywhere in the archive.
    const all = [...files.values()].map((b) => new TextDecoder().decode(b)).join('\n');
    expect(all).not.toContain(neighbour.id);
    // The archive itself sits in the tenant's placement bucket, beside its originals.
    expect((await BUCKETS[placement]!.head(`${t.id}/exports/${done.id}.zip`))!.size).toBe(done.bytes);
  });

  it('streams a large tenant as a multipart upload, and starts over after a crash mid-archive', async () => {
    const t = await createTenant();
    await populate(t);
    // An original bigger than one part: the archive needs two parts.
    const big = new Uint8Array(PART_BYTES + 123_457);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) % 251;
    await env.DOCUMENTS.put(`${t.id}/big/1-x`, big);
    const { held, sent } = heldEnv();
    const started = await postWith(held, EXPORT, { id: t.id }, await platformToken());
    const exportId = started.body.data.exportTenant.id as string;
    const root = createRoot(env as never, { log: createLogger('export-test') });
    let crashed = false;
    const crashing = { ...root, afterPart: (n: number) => {
      if (n === 1 && !crashed) {
        crashed = true;
        throw new Error('crash after part 1');
      }
    } };
    await expect(runExport(crashing, exportId)).rejects.toThrow('crash after part 1');
    const mid = await gql(STATUS, { id: exportId }, { token: await platformToken() });
    expect(mid.body.data.tenantExport).toMatchObject({ status: 'RUNNING', bytes: PART_BYTES, downloadUrl: null });
    expect(sent).toHaveLength(1);
    const done = await runExport(root, exportId);
    expect(done).toMatchObject({ status: 'completed' });
    expect(JSON.parse(done!.progress)).toMatchObject({ parts: 2, files: 3 });
    const status = await gql(STATUS, { id: exportId }, { token: await platformToken() });
    const files = await archiveOf(status.body.data.tenantExport.downloadUrl);
    expect(files.get('originals/big/1-x')).toEqual(big);
  });

  it('download links expire, work only for their own export, and only on their own tenant\'s host', async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    await populate(a);
    const exportA = await exported(a, await platformToken());
    const exportB = await exported(b, await platformToken());
    const tokenA = new URL(exportA.downloadUrl).searchParams.get('token')!;
    expect(new Date(exportA.downloadExpiresAt).getTime() - Date.now()).toBeGreaterThan(3500_000);

    expect((await download(exportA.downloadUrl, `${a.slug}.localhost`)).status).toBe(200);
    const foreignHost = await download(exportA.downloadUrl, `${b.slug}.localhost`);
    expect(foreignHost.status).toBe(403);
    expect(((await foreignHost.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('FORBIDDEN');
    // A's token on B's export, a tampered token, an expired one, none: the same refusal.
    expect((await download(`http://localhost/exports/${exportB.id}?token=${tokenA}`)).status).toBe(403);
    // Tampered: a changed signature character, and the same signature spelt with the 2 unused bits of its last character set.
    const [expires, sig] = tokenA.split('.') as [string, string];
    const flip = (c: string) => (c === 'A' ? 'Q' : 'A');
    expect((await download(`http://localhost/exports/${exportA.id}?token=${expires}.${flip(sig[0]!)}${sig.slice(1)}`)).status).toBe(403);
    const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const respelt = B64[B64.indexOf(sig.at(-1)!) ^ 1]!;
    expect((await download(`http://localhost/exports/${exportA.id}?token=${expires}.${sig.slice(0, -1)}${respelt}`)).status).toBe(403);
    const expired = await signDownload(loadConfig(env as never), exportA.id, a.id, Math.floor(Date.now() / 1000) - 1);
    expect((await download(`http://localhost/exports/${exportA.id}?token=${expired}`)).status).toBe(403);
    expect((await download(`http://localhost/exports/${exportA.id}`)).status).toBe(403);
    expect((await download(`http://localhost/exports/${crypto.randomUUID()}?token=${tokenA}`)).status).toBe(403);
    // A token signed for A's export but claiming B's tenant is refused too (the row decides the tenant).
    const claimed = await signDownload(loadConfig(env as never), exportA.id, b.id, Math.floor(Date.now() / 1000) + 600);
    expect((await download(`http://localhost/exports/${exportA.id}?token=${claimed}`)).status).toBe(403);
  });

  it('permissions: the owner of that tenant or a platform admin; FORBIDDEN otherwise; another tenant\'s export is invisible', async () => {
    const [a, b] = [await createTenant(), await createTenant()];
    const ownerA = await a.tokenFor('owner');
    const key = await createApiKey(a, ['ADMIN']);
    for (const token of [a.token, await a.tokenFor('member'), key.secret]) expect(codeOf(await gql(EXPORT, { id: a.id }, { token }))).toBe('FORBIDDEN');
    expect(codeOf(await gql(EXPORT, { id: b.id }, { token: ownerA }))).toBe('FORBIDDEN');
    expect(codeOf(await gql(EXPORT, { id: crypto.randomUUID() }, { token: await platformToken() }))).toBe('NOT_FOUND');
    const exportB = await exported(b, await b.tokenFor('owner'));
    expect((await gql(STATUS, { id: exportB.id }, { token: ownerA })).body.data.tenantExport).toBeNull();
    expect(codeOf(await gql(STATUS, { id: exportB.id }, { token: a.token }))).toBe('FORBIDDEN');
    expect(codeOf(await gql('query($t: ID!) { tenantExports(tenantId: $t) { id } }', { t: b.id }, { token: ownerA }))).toBe('FORBIDDEN');
    const listed = await gql('query($t: ID!) { tenantExports(tenantId: $t) { id status } }', { t: b.id }, { token: await platformToken() });
    expect(listed.body.data.tenantExports).toEqual([{ id: exportB.id, status: 'COMPLETED' }]);
  });

  it('a purge removes the tenant\'s export archives and rows; their links stop working', async () => {
    const t = await createTenant();
    await populate(t);
    const done = await exported(t, await platformToken());
    const { held, sent } = heldEnv();
    await postWith(held, 'mutation($id: ID!) { deleteTenant(id: $id, purge: true) { id } }', { id: t.id }, await platformToken());
    await deliverJobs(sent);
    expect(await env.DOCUMENTS.head(`${t.id}/exports/${done.id}.zip`)).toBeNull();
    expect((await download(done.downloadUrl)).status).toBe(403);
    const again = await postWith(held, EXPORT, { id: t.id }, await platformToken());
    expect(codeOf(again)).toBe('BAD_USER_INPUT');
    expect(again.body.errors![0]!.message).toMatch(/purged/);
  });
});
