/** GraphQL-shaped error responses for failures that happen before Yoga runs. */
import { AppError, ERROR_STATUS } from '../lib/errors';

export function errorResponse(err: AppError, requestId: string, headers: HeadersInit = {}): Response {
  const h = new Headers(headers);
  h.set('content-type', 'application/json; charset=utf-8');
  h.set('x-request-id', requestId);
  const retryAfter = err.extensions.retryAfter;
  if (typeof retryAfter === 'number') h.set('retry-after', String(retryAfter));
  const body = {
    errors: [{ message: err.message, extensions: { code: err.code, requestId, ...err.extensions } }],
  };
  return new Response(JSON.stringify(body), { status: ERROR_STATUS[err.code], headers: h });
}
