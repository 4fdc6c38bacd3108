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
 *
 * A libSQL database has no binding: its URL and token are registered in the catalogue when a
 * tenant is created or moved there. An entry `{"backend": "libsql", ...}` for its placement id
 * names the bucket, vector index and jurisdiction that go with it (validated here like a D1
 * entry's); a libSQL database without an entry uses DOCUMENTS and VECTORIZE.
 *
 *   "dedicated:acme": {"backend": "libsql", "bucket": "DOCUMENTS_EU", "vectors": "VECTORIZE_EU", "jurisdiction": "eu"}
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
  /** Where the tenant rows are: a D1 binding, or a libSQL database registered in the catalogue. */
  backend: 'd1' | 'libsql';
  /** D1 binding name; null for a libSQL placement. */
  database: string | null;
  /** R2 binding name for originals. */
  bucket: string;
  /** Vectorize binding name (used when VECTOR_BACKEND=vectorize). */
  vectors: string;
  jurisdiction: DurableObjectJurisdiction | null;
}

export interface PlacementTable {
  /** Every configured placement, `shared` first (D1 ones and libSQL ones with an entry). */
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
  const shared: PlacementEntry = { id: 'shared', kind: 'shared', name: null, backend: 'd1', database: 'DB', bucket: 'DOCUMENTS', vectors: 'VECTORIZE', jurisdiction: null };
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
        if (!['backend', 'database', 'bucket', 'vectors', 'jurisdiction'].includes(k)) throw new PlacementConfigError(`${at}: unknown field "${k}" (backend, database, bucket, vectors, jurisdiction)`);
      }
      const backend = v.backend ?? 'd1';
      if (backend !== 'd1' && backend !== 'libsql') throw new PlacementConfigError(`${at}.backend must be "d1" (default) or "libsql" (got ${JSON.stringify(backend)})`);
      let database: string | null = null;
      if (backend === 'libsql') {
        if (ref.kind !== 'dedicated') throw new PlacementConfigError(`${at}: a libSQL database is a dedicated placement ("dedicated:<name>")`);
        if (v.database !== undefined) throw new PlacementConfigError(`${at}: a libSQL placement has no database binding (its URL and token are registered in the catalogue by createTenant / moveTenant with libsql)`);
      } else {
        const d = v.database;
        if (typeof d !== 'string' || !d) throw new PlacementConfigError(`${at}.database must name a D1 binding`);
        if (!isD1(env[d])) {
          throw new PlacementConfigError(`${at}.database names binding ${d}, which is not a D1 database binding of this Worker (add [[d1_databases]] binding = "${d}" to wrangler.toml)`);
        }
        const other = usedDatabases.get(d);
        if (other) throw new PlacementConfigError(`${at}.database ${d} already serves ${other}: each placement needs a database of its own`);
        usedDatabases.set(d, id);
        database = d;
      }
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
      entries.push({ ...ref, backend, database, bucket, vectors, jurisdiction: jurisdiction as DurableObjectJurisdiction | null });
    }
  }
  const byId = new Map(entries.map((e) => [e.id, e]));
  return { entries, get: (id) => byId.get(id) };
}

/** The bindings a libSQL placement without an entry uses: the default bucket and vector index. */
export function libsqlDefaults(ref: PlacementRef): PlacementEntry {
  return { ...ref, backend: 'libsql', database: null, bucket: 'DOCUMENTS', vectors: 'VECTORIZE', jurisdiction: null };
}

/**
 * The placement createTenant picks when none is named: the region's database when one is
 * configured for it, else the shared database (the region then stays a label, and
 * Tenant.placement says so).
 */
export function defaultPlacement(table: PlacementTable, region: string | null): string {
  const regional = region ? table.get(`regional:${region.toLowerCase()}`) : undefined;
  return regional ? regional.id : 'shared';
}
