/**
 * GET /exports/<id>?token=… (docs/lifecycle.md): the download of a completed tenant export,
 * streamed from the tenant's placement bucket through the Worker. The token is the link's
 * credential: an HMAC over export id, tenant id and expiry (src/lifecycle/tenant-export.ts),
 * so a link works only for its own export, until it expires, and — when the request's host
 * names a tenant — only on that tenant's host. Every refusal of a link answers the same
 * FORBIDDEN, whether the export exists or not.
 */
import { directory } from '../auth/directory';
import { ExportStore } from '../db/lifecycle-store';
import type { AppEnv } from '../env';
import { AppError } from '../lib/errors';
import { createLogger, errorDetail } from '../lib/log';
import { lifecycleSession } from '../lifecycle/tenant-deletion';
import { verifyDownload } from '../lifecycle/tenant-export';
import { misconfigurationOf, misconfiguredError } from '../lib/misconfiguration';
import { isProductionEnv } from '../env';
import { createRoot } from '../tenant-session';
import { hostTenant } from './admission';
import { tenantFromHost } from './host';
import { spendPreauth } from './preauth';
import { requestIdFor } from './request-id';
import { errorResponse } from './responses';

export const EXPORT_PATH = /^\/exports\/([0-9a-f-]{36})(?:\.zip)?$/;

const refused = () => new AppError('FORBIDDEN', 'This download link is invalid, expired, or not for this host');

export async function handleExportDownload(request: Request, env: AppEnv, exportId: string): Promise<Response> {
  const requestId = requestIdFor(request, env.ENVIRONMENT === 'production');
  const log = createLogger(requestId);
  try {
    if (request.method !== 'GET' && request.method !== 'HEAD') throw new AppError('BAD_USER_INPUT', 'Use GET to download an export');
    const root = createRoot(env, { log });
    const token = new URL(request.url).searchParams.get('token') ?? '';
    const row = await new ExportStore(root.catalogue).get(exportId);
    if (!row || !(await verifyDownload(root.config, row.id, row.tenantId, token, Math.floor(Date.now() / 1000)))) throw refused();
    const host = tenantFromHost(request.headers.get('host') ?? new URL(request.url).host, root.config.baseDomain);
    if (host.kind !== 'none') {
      const hostTenantId = await hostTenant(host, { directory, platform: root.platform, beforeLookup: () => spendPreauth(env.PREAUTH_LIMITER, request) });
      if (hostTenantId !== row.tenantId) throw refused();
    }
    if (row.status !== 'completed') throw new AppError('NOT_FOUND', 'This export has no archive (yet): poll tenantExport until COMPLETED');
    const tenant = await root.platform.tenantById(row.tenantId);
    // A purged tenant's exports went with it.
    const object = tenant ? await (await lifecycleSession(root, tenant, row.id)).store.blobs.get(row.objectKey) : null;
    if (!tenant || !object) throw new AppError('NOT_FOUND', 'Export archive not found');
    return new Response(request.method === 'HEAD' ? null : object.body, {
      headers: {
        'content-type': 'application/zip',
        'content-length': String(object.size),
        'content-disposition': `attachment; filename="${tenant.slug}-export-${row.id}.zip"`,
        'cache-control': 'private, no-store',
        'x-request-id': requestId,
      },
    });
  } catch (err) {
    if (err instanceof AppError) return errorResponse(err, requestId);
    const misconfigured = misconfigurationOf(err);
    if (misconfigured) return errorResponse(misconfiguredError(misconfigured, requestId, isProductionEnv(env)), requestId);
    log.error('export download failed', errorDetail(err));
    return errorResponse(new AppError('INTERNAL_SERVER_ERROR', 'Unexpected error.'), requestId);
  }
}
