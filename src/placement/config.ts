/**
 * Placements (DESIGN §11, docs/placement.md): where a tenant's own rows, originals and
 * vectors live. A placement id is `shared` (the catalogue database DB itself),
 * `regional:<region>` (a database per region, created with a jurisdiction) or
 * `dedicated:<name>` (a database of the tenant's own: a D1 binding listed here, or a libSQL
 * database registered in the catalogue's tenant_databases).
 *
 * The PLACEMENTS var is the configuration table: a JSON object from placement id to the
 * bindings that serve it, validated once per isolate (with the rest of the configuration)
 * with an error that names the bad entry and binding.
 *
 *   PLACEMENTS = '{"regional:eu": {"database": "DB_EU", "bucket": "DOCUMENTS_EU", "jurisdiction": "eu"},
 *                  "dedicated:d1-1": {"database": "DB_DEDICATED_1"}}'
 *
 * `shared` is implicit (DB, DOCUMENTS, VECTORIZE or the local store). `bucket` defaults to
 * DOCUMENTS, `vectors` (a Vectorize binding) to VECTORIZE; `jurisdiction` places the tenant's
 * Durable Objects (TenantGuard) with `namespace.jurisdiction()`.
 */

export type PlacementKind = 'shared' | 'regional' | 'dedicated';

export interface PlacementRef {
  id: string;
  kind: PlacementKind;
  /** The region (regional) or database name (dedicated); null for shared. */
  name: string | null;
}

/** One row of the table: the bindings that serve a placement. */
export interface PlacementEntry extends PlacementRef {
  /** D1 binding name. */
  database: string;
  /** R2 binding name for originals. */
  bucket: string;
  /** Vectorize binding name (used when VECTOR_BACKEND=vectorize). */
  vectors: string;
  jurisdiction: DurableObjectJurisdiction | null;
}

export interface PlacementTable {
  /** Every configured D1 placement, `shared` first. */
  readonly entries: readonly PlacementEntry[];
  get(id: string): PlacementEntry | undefined;
}

const NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
const JURISDICTIONS = ['eu', 'fedramp'] as const;

/** Parses a placement id; null when it is not one of the three shapes. */
export function parsePlacement(id: string): PlacementRef | null {
  if (id === 'shared') return { id, kind: 'shared', name: null };
  const m = /^(regional|dedicated):(.+)$/.exec(id);
  if (!m || !NAME_RE.test(m[2]!)) return null;
  return { id, kind: m[1] as PlacementKind, name: m[2]! };
}

/** The problem with a configured table (thrown as ConfigError by loadConfig). */
export class PlacementConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlacementConfigError';
  }
}

type Bindings = Record<string, unknown>;

const isD1 = (v: unknown) => !!v && typeof (v as D1Database).prepare === 'function' && typeof (v as D1Database).batch === 'function';
const isR2 = (v: unknown) => !!v && typeof (v as R2Bucket).put === 'function' && typeof (v as R2Bucket).list === 'function';

/**
 * Validates PLACEMENTS against the bindings the Worker actually has. `vectorize` says whether
 * Vectorize bindings are in use (VECTOR_BACKEND=vectorize), so they are checked only then.
 */
export function parsePlacementTable(raw: string | undefined, env: Bindings, vectorize: boolean): PlacementTable {
  const shared: PlacementEntry = { id: 'shared', kind: 'shared', name: null, database: 'DB', bucket: 'DOCUMENTS', vectors: 'VECTORIZE', jurisdiction: null };
  const entries: PlacementEntry[] = [shared];
  if (raw && raw.trim()) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new PlacementConfigError('PLACEMENTS is not valid JSON');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new PlacementConfigError('PLACEMENTS must be a JSON object of placement id → bindings');
    const usedDatabases = new Map<string, string>([['DB', 'shared']]);
    for (const [id, value] of Object.entries(parsed as Record<string, unknown>)) {
      const ref = parsePlacement(id);
      const at = `PLACEMENTS["${id}"]`;
      if (!ref || ref.kind === 'shared') {
        throw new PlacementConfigError(`${at}: a key must be "regional:<region>" or "dedicated:<name>" (lower-case letters, digits, dashes; shared is implicit)`);
      }
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw new PlacementConfigError(`${at} must be an object like {"database": "DB_EU"}`);
      const v = value as Record<string, unknown>;
      for (const k of Object.keys(v)) {
        if (!['database', 'bucket', 'vectors', 'jurisdiction'].includes(k)) throw new PlacementConfigError(`${at}: unknown field "${k}" (database, bucket, vectors, jurisdiction)`);
      }
      const database = v.database;
      if (typeof database !== 'string' || !database) throw new PlacementConfigError(`${at}.database must name a D1 binding`);
      if (!isD1(env[database])) {
        throw new PlacementConfigError(`${at}.database names binding ${database}, which is not a D1 database binding of this Worker (add [[d1_databases]] binding = "${database}" to wrangler.toml)`);
      }
      const other = usedDatabases.get(database);
      if (other) throw new PlacementConfigError(`${at}.database ${database} already serves ${other}: each placement needs a database of its own`);
      usedDatabases.set(database, id);
      const bucket = v.bucket === undefined ? 'DOCUMENTS' : v.bucket;
      if (typeof bucket !== 'string' || !isR2(env[bucket])) {
        throw new PlacementConfigError(`${at}.bucket names ${String(bucket)}, which is not an R2 bucket binding of this Worker (add [[r2_buckets]] binding = "${String(bucket)}")`);
      }
      const vectors = v.vectors === undefined ? 'VECTORIZE' : v.vectors;
      if (typeof vectors !== 'string' || !vectors) throw new PlacementConfigError(`${at}.vectors must name a Vectorize binding`);
      if (vectorize && !env[vectors]) throw new PlacementConfigError(`${at}.vectors names ${vectors}, which is not a Vectorize binding of this Worker`);
      const jurisdiction = v.jurisdiction ?? null;
      if (jurisdiction !== null && !(JURISDICTIONS as readonly unknown[]).includes(jurisdiction)) {
        throw new PlacementConfigError(`${at}.jurisdiction must be one of ${JURISDICTIONS.join(', ')} (got ${JSON.stringify(jurisdiction)})`);
      }
      entries.push({ ...ref, database, bucket, vectors, jurisdiction: jurisdiction as DurableObjectJurisdiction | null });
    }
  }
  const byId = new Map(entries.map((e) => [e.id, e]));
  return { entries, get: (id) => byId.get(id) };
}

/**
 * The placement createTenant picks when none is named: the region's database when one is
 * configured for it, else the shared database (the region then stays a label, and
 * Tenant.placement says so).
 */
export function defaultPlacement(table: PlacementTable, region: string | null): string {
  return region && table.get(`regional:${region.toLowerCase()}`) ? `regional:${region.toLowerCase()}` : 'shared';
}
