/**
 * Helpers for document tests: ingest through GraphQL, then drive the ingest queue
 * deterministically by calling the Worker's own queue() handler (createMessageBatch /
 * getQueueResult). ingest() and upload() run the Worker with an INGEST_QUEUE that keeps
 * the message out of Miniflare's queue, so deliver() is the only processing (see heldQueue).
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult, waitOnExecutionContext } from 'cloudflare:test';
import { expect } from 'vitest';
import worker from '../../src/index';
import { gql, type GqlResult, type TestTenant } from '../helpers';

export const DOC_FIELDS = 'id name status error chunkCount contentHash tags mimeType sourceType sizeBytes indexedBytes collection { id }';

export interface DocRow {
  id: string;
  tenant_id: string;
  object_key: string;
  version: number;
  status: string;
  error: string | null;
  content_hash: string;
  chunk_count: number;
}

/**
 * A producer that accepts and drops. With the real binding Miniflare delivers the message
 * in the background, 1 s after the first pending message or at once when 5 are pending
 * (wrangler.toml), racing deliver(): assertions on the state before processing (nothing
 * searchable yet, the old version still served, attempt N's status and error) could fail
 * by chance, and a background run still going when a test deleted the document could
 * upsert its vectors again after the delete (vectorCount off by its chunks).
 */
const sent = new Map<string, unknown[]>();
function hold(body: unknown): void {
  // Structured-clone like the real producer, so a later mutation by the sender cannot leak in.
  const copy = structuredClone(body) as { documentId?: string };
  if (!copy?.documentId) throw new Error(`ingest message without documentId: ${JSON.stringify(body)}`);
  sent.set(copy.documentId, [...(sent.get(copy.documentId) ?? []), copy]);
}
/** A queue that keeps what the Worker sends, for `deliver` to hand to the consumer. */
export const heldQueue = {
  send: async (body: unknown) => hold(body),
  sendBatch: async (messages: Iterable<{ body: unknown }>) => {
    for (const m of messages) hold(m.body);
  },
} as unknown as Env['INGEST_QUEUE'];

/** POSTs to /graphql through the Worker's fetch handler with the held queue (waits for its waitUntil work). */
async function postHeld(body: BodyInit, headers: Record<string, string>): Promise<GqlResult> {
  const request = new Request('http://localhost/graphql', { method: 'POST', headers, body });
  const ctx = createExecutionContext();
  const res = await (worker as ExportedHandler<Env>).fetch!(request as Request<unknown, IncomingRequestCfProperties>, { ...env, INGEST_QUEUE: heldQueue } as Env, ctx);
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  try {
    return { status: res.status, headers: res.headers, body: JSON.parse(text) };
  } catch {
    throw new Error(`non-JSON response ${res.status}: ${text.slice(0, 300)}`);
  }
}

export async function ingest(t: TestTenant, input: Record<string, unknown>, token = t.token) {
  const query = `mutation($input: IngestDocumentInput!) { ingestDocument(input: $input) { ${DOC_FIELDS} } }`;
  return postHeld(JSON.stringify({ query, variables: { input } }), { 'content-type': 'application/json', authorization: `Bearer ${token}` });
}

/** The document row, from whichever tenant database holds it (shared, regional:eu, dedicated:d1-1). */
export async function row(id: string): Promise<DocRow | null> {
  for (const db of [env.DB, env.DB_EU!, env.DB_DEDICATED_1!]) {
    const found = await db.prepare('SELECT * FROM documents WHERE id = ?').bind(id).first<DocRow>();
    if (found) return found;
  }
  return null;
}

/**
 * The message ingestDocument enqueued for the document's current content: the last one the
 * Worker actually sent (so a producer that forgot to enqueue, or enqueued the wrong version,
 * fails here), checked against the row it must describe.
 */
export async function messageFor(id: string) {
  const r = await row(id);
  if (!r) throw new Error(`no document ${id}`);
  const expected = { type: 'ingest', tenantId: r.tenant_id, documentId: id, objectKey: r.object_key, version: keyVersionOf(r.object_key) };
  const produced = sent.get(id)?.at(-1);
  if (produced === undefined) throw new Error(`the Worker enqueued no ingest message for document ${id}`);
  expect(produced).toEqual(expected);
  return produced as typeof expected;
}

/** The version an R2 key `<tenant>/<document>/<version>-<nonce>` (or, older, `…/<version>`) names; NaN if none. */
export function keyVersionOf(objectKey: string): number {
  const m = /\/(\d+)(?:-[0-9a-z]+)?$/.exec(objectKey);
  return m ? Number(m[1]) : NaN;
}

/** Runs the Worker's queue handler on one message, as delivery `attempts`; returns ack/retry state. */
export async function deliver(id: string, opts: { attempts?: number; queue?: string; workerEnv?: Record<string, unknown> } = {}) {
  return deliverBody(await messageFor(id), opts);
}

/** Runs the Worker's queue handler on one message body (any job kind); returns ack/retry state and the retry delays asked for. */
export async function deliverBody(body: unknown, opts: { attempts?: number; queue?: string; workerEnv?: Record<string, unknown> } = {}) {
  const batch = createMessageBatch(opts.queue ?? 'edgerag-ingest', [{ id: crypto.randomUUID(), timestamp: new Date(), attempts: opts.attempts ?? 1, body }]);
  // getQueueResult does not report retry delays: record what the handler asked for.
  const delays: (number | undefined)[] = [];
  const message = batch.messages[0]!;
  const retry = message.retry.bind(message);
  message.retry = (o?: QueueRetryOptions) => {
    delays.push(o?.delaySeconds);
    retry(o);
  };
  const ctx = createExecutionContext();
  await (worker as ExportedHandler<Env>).queue!(batch as MessageBatch<unknown>, (opts.workerEnv ?? env) as Env, ctx);
  return { ...(await getQueueResult(batch, ctx)), delays };
}

/** Ingests and processes; returns the document as the API shows it afterwards. */
export async function ingestProcessed(t: TestTenant, input: Record<string, unknown>) {
  const r = await ingest(t, input);
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  const id = r.body.data.ingestDocument.id as string;
  await deliver(id);
  return getDocument(t, id);
}

export async function getDocument(t: TestTenant, id: string, token = t.token) {
  const r = await gql(`query($id: ID!) { document(id: $id) { ${DOC_FIELDS} } }`, { id }, { token });
  expect(r.body.errors).toBeUndefined();
  return r.body.data.document;
}

export interface HitShape {
  score: number;
  text: string;
  chunkIndex: number;
  page: number | null;
  heading: string | null;
  chunkId: string;
  document: { id: string; name: string };
}

export async function search(t: TestTenant, input: Record<string, unknown>, token = t.token) {
  return gql<{ search: { hits: HitShape[] } }>(
    `query($input: SearchInput!) { search(input: $input) { hits { score text chunkIndex page heading chunkId document { id name } } } }`,
    { input },
    { token },
  );
}

export async function hits(t: TestTenant, input: Record<string, unknown>): Promise<HitShape[]> {
  const r = await search(t, input);
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data!.search.hits;
}

export const MODES = ['VECTOR', 'KEYWORD', 'HYBRID'] as const;

export async function chunkCount(documentId: string): Promise<number> {
  return (await env.DB.prepare('SELECT count(*) AS n FROM chunks WHERE document_id = ?').bind(documentId).first<{ n: number }>())!.n;
}

export async function vectorCount(tenantId: string): Promise<number> {
  const stub = env.LOCAL_VECTORS.get(env.LOCAL_VECTORS.idFromName(tenantId));
  return (await stub.describe()).vectorCount;
}

export async function originals(tenantId: string, documentId: string): Promise<string[]> {
  return (await env.DOCUMENTS.list({ prefix: `${tenantId}/${documentId}/` })).objects.map((o) => o.key);
}

/** A GraphQL multipart upload (https://github.com/jaydenseric/graphql-multipart-request-spec). */
export async function upload(t: TestTenant, input: Record<string, unknown>, file: File, token = t.token) {
  const form = new FormData();
  form.set('operations', JSON.stringify({
    query: `mutation($input: IngestDocumentInput!) { ingestDocument(input: $input) { ${DOC_FIELDS} } }`,
    variables: { input: { ...input, file: null } },
  }));
  form.set('map', JSON.stringify({ 0: ['variables.input.file'] }));
  form.set('0', file);
  const r = await postHeld(form, { authorization: `Bearer ${token}` });
  return { status: r.status, body: r.body as { data?: any; errors?: { message: string; extensions?: Record<string, any> }[] } };
}

/** A minimal valid PDF with one line of text per page (Helvetica), xref offsets computed. */
export function makePdf(pages: string[]): Uint8Array<ArrayBuffer> {
  const objs: string[] = [];
  const n = pages.length;
  // 1 catalog, 2 pages, 3 font, then per page: page object + content stream.
  objs.push('<< /Type /Catalog /Pages 2 0 R >>');
  const kids = pages.map((_, i) => `${4 + i * 2} 0 R`).join(' ');
  objs.push(`<< /Type /Pages /Kids [${kids}] /Count ${n} >>`);
  objs.push('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  pages.forEach((text, i) => {
    const esc = text.replace(/[\\()]/g, (c) => `\\${c}`);
    const stream = `BT /F1 12 Tf 72 720 Td (${esc}) Tj ET`;
    objs.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${5 + i * 2} 0 R >>`);
    objs.push(`<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`);
  });
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objs.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) out += `${String(off).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return new TextEncoder().encode(out);
}

/**
 * A hostile PDF: a page tree of `levels` Pages nodes, each listing the next node `fanout`
 * times (the last lists ONE page object `fanout` times), so a file of about a kilobyte
 * declares fanout^levels pages, every one the same page with `text` on it.
 */
export function makePageTreeBomb(levels: number, fanout: number, text = 'Hello from a repeated page.'): Uint8Array<ArrayBuffer> {
  const objs: string[] = [];
  objs.push('<< /Type /Catalog /Pages 2 0 R >>'); // 1
  const leaf = 2 + levels; // the page object, after the Pages nodes 2 .. 1 + levels
  for (let l = 0; l < levels; l++) {
    const id = 2 + l;
    const kid = l === levels - 1 ? leaf : id + 1;
    const parent = l === 0 ? '' : ` /Parent ${id - 1} 0 R`;
    objs.push(`<< /Type /Pages${parent} /Kids [${Array(fanout).fill(`${kid} 0 R`).join(' ')}] /Count ${fanout ** (levels - l)} >>`);
  }
  const stream = `BT /F1 12 Tf 72 720 Td (${text.replace(/[\\()]/g, (c) => `\\${c}`)}) Tj ET`;
  objs.push(`<< /Type /Page /Parent ${1 + levels} 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 ${leaf + 2} 0 R >> >> /Contents ${leaf + 1} 0 R >>`);
  objs.push(`<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`);
  objs.push('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objs.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) out += `${String(off).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return new TextEncoder().encode(out);
}
