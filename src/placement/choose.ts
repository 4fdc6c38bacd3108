/**
 * Choosing a tenant's placement at createTenant (and the target of a move): from an explicit
 * placement id, a libSQL database given by URL and token, the tier, or the region.
 */
import type { PlatformStore } from '../db/platform-store';
import type { TenantDatabaseRow } from '../db/schema';
import type { AppEnv, Config } from '../env';
import { AppError } from '../lib/errors';
import { defaultPlacement, parsePlacement } from './config';
import type { TenantRow } from '../db/schema';
import { writeResidence } from '../db/tenant-copy';
import { credentialPurpose, openStore, secretBoxOf, type StoreRoot } from './store';

export interface LibsqlInput {
  url: string;
  authToken?: string | null;
  /** The database's name in the catalogue (placement `dedicated:<name>`); default the tenant slug. */
  name?: string | null;
}

export interface PlacementRequest {
  /** An explicit placement id: shared, regional:<region>, dedicated:<name>. */
  placement?: string | null;
  tier?: 'shared' | 'dedicated' | null;
  region?: string | null;
  libsql?: LibsqlInput | null;
}

export interface ChosenPlacement {
  placement: string;
  /** A libSQL database to register in the same batch as the tenant row. */
  database: Omit<TenantDatabaseRow, 'createdAt'> | null;
}

const LIBSQL_URL = /^(libsql|https?|wss?):\/\/[^\s]+$/;
/** `file:` databases exist only for the Node tests (a Worker cannot open a file). */
const FILE_URL = /^file:[^\s]+$/;

const bad = (message: string, field: string) => new AppError('BAD_USER_INPUT', message, { field });

/**
 * Validates the request against the configuration and the catalogue. `defaultName` names a
 * new libSQL database (the tenant's slug); `tenantId` is the tenant being moved, whose own
 * placement does not count as taken.
 */
export async function choosePlacement(
  deps: { env: AppEnv; config: Config; platform: PlatformStore },
  req: PlacementRequest,
  defaultName: string,
  tenantId: string | null = null,
): Promise<ChosenPlacement> {
  const table = deps.config.placements;
  const taken = async (placement: string) => (await deps.platform.tenantsIn(placement)).some((t) => t.id !== tenantId);

  if (req.libsql) {
    const name = (req.libsql.name ?? defaultName).toLowerCase();
    const placement = `dedicated:${name}`;
    if (!parsePlacement(placement)) throw bad('libsql.name must be a lower-case name (a-z, 0-9, -; at most 32)', 'libsql.name');
    if (req.placement && req.placement !== placement) throw bad(`placement must be ${placement} (or omitted) with libsql`, 'placement');
    if (table.get(placement)?.backend === 'd1') throw bad(`${placement} is a configured D1 database; choose another libsql.name`, 'libsql.name');
    if (await deps.platform.tenantDatabase(name)) throw bad(`a libSQL database named ${name} is already registered`, 'libsql.name');
    const url = req.libsql.url.trim();
    // Only network URLs: a Worker cannot open file: databases (those are for Node tests).
    const fileOk = deps.config.environment === 'test' && FILE_URL.test(url);
    if (FILE_URL.test(url) && !fileOk) {
      throw bad('libsql.url: a Worker cannot open file: databases; give the http:// (local sqld, `turso dev`) or libsql:// / https:// (Turso) URL of a libSQL server', 'libsql.url');
    }
    if ((!LIBSQL_URL.test(url) && !fileOk) || url.length > 2_048) throw bad('libsql.url must be a libsql://, https://, http:// or wss:// URL', 'libsql.url');
    const token = req.libsql.authToken ?? '';
    if (token.length > 8_192) throw bad('libsql.authToken is longer than 8,192 characters', 'libsql.authToken');
    let box;
    try {
      box = await secretBoxOf(deps.env);
    } catch (err) {
      throw new AppError('BAD_USER_INPUT', `libSQL credentials cannot be stored: ${(err as Error).message}`, { field: 'libsql' }, { cause: err });
    }
    return {
      placement,
      database: {
        name, kind: 'libsql', keyId: box.currentKeyId,
        urlCiphertext: await box.seal(url, credentialPurpose(name, 'url')),
        tokenCiphertext: await box.seal(token, credentialPurpose(name, 'token')),
      },
    };
  }

  if (req.placement) {
    const ref = parsePlacement(req.placement);
    if (!ref) throw bad('placement must be shared, regional:<region> or dedicated:<name>', 'placement');
    // A libSQL entry in PLACEMENTS names bindings only: the database itself must be registered.
    const configured = table.get(ref.id)?.backend === 'd1' || ref.kind === 'shared' || (ref.kind === 'dedicated' && !!(await deps.platform.tenantDatabase(ref.name!)));
    if (!configured) {
      const known = table.entries.filter((e) => e.backend === 'd1').map((e) => e.id).join(', ');
      throw bad(`placement ${ref.id} is not configured (configured: ${known}; a libSQL database needs libsql { url authToken })`, 'placement');
    }
    if (ref.kind === 'dedicated' && (await taken(ref.id))) throw bad(`${ref.id} already holds another tenant's data`, 'placement');
    return { placement: ref.id, database: null };
  }

  if (req.tier === 'dedicated') {
    for (const e of table.entries) {
      if (e.kind === 'dedicated' && e.backend === 'd1' && !(await taken(e.id))) return { placement: e.id, database: null };
    }
    throw bad('no dedicated database is free: add one to PLACEMENTS, or give libsql { url authToken }', 'tier');
  }
  return { placement: defaultPlacement(table, req.region ?? null), database: null };
}

/**
 * Writes the new tenant's residence row into its placement database (not needed for shared).
 * A libSQL database registered with the tenant is not migrated yet (`npm run db:migrate`), so
 * its row is written by the migration command's first run instead.
 */
export async function prepareResidence(root: StoreRoot, tenant: TenantRow): Promise<void> {
  if (tenant.placement === 'shared' || root.config.placements.get(tenant.placement)?.backend !== 'd1') return;
  const store = await openStore(root, tenant.placement);
  await writeResidence(store.db, tenant);
}
