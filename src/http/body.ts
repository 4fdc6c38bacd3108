/**
 * Body-size limit checked before parsing (DESIGN §9): a declared Content-Length over the
 * limit is refused at once; an undeclared (chunked) body is counted as it streams and
 * refused as soon as it passes the limit, so a large body is never buffered whole.
 */
import { AppError } from '../lib/errors';
import { readCapped } from '../lib/streams';

export async function limitBody(request: Request, maxBytes: number): Promise<Request> {
  if (!request.body) return request;
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  const body = await readCapped(request.body, maxBytes, () => tooLarge(maxBytes));
  return new Request(request.url, { method: request.method, headers: request.headers, body });
}

const tooLarge = (max: number) =>
  new AppError('PAYLOAD_TOO_LARGE', `Request body is larger than ${max} bytes`, { maxBytes: max });
