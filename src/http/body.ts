/**
 * Body-size limit checked before parsing (DESIGN §9): a declared Content-Length over the
 * limit is refused at once; an undeclared (chunked) body is counted as it streams and
 * refused as soon as it passes the limit, so a large body is never buffered whole.
 */
import { AppError } from '../lib/errors';
import { readCapped } from '../lib/streams';

export interface CappedBody {
  /** The request, its body now held in memory. */
  request: Request;
  /** The body's bytes (empty without a body), for steps before Yoga that read it (src/http/operation-weight.ts). */
  bytes: Uint8Array;
}

export async function limitBody(request: Request, maxBytes: number): Promise<CappedBody> {
  if (!request.body) return { request, bytes: new Uint8Array() };
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  // A declared length is enforced by the runtime (the body ends there): read it in one go.
  const bytes = declared !== null
    ? new Uint8Array(await request.arrayBuffer())
    : await readCapped(request.body, maxBytes, () => tooLarge(maxBytes));
  if (bytes.byteLength > maxBytes) throw tooLarge(maxBytes);
  return { request: new Request(request.url, { method: request.method, headers: request.headers, body: bytes }), bytes };
}

const tooLarge = (max: number) =>
  new AppError('PAYLOAD_TOO_LARGE', `Request body is larger than ${max} bytes`, { maxBytes: max });
