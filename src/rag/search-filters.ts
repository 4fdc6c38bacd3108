/**
 * The attribute filters of search and ask (docs/retrieval.md "Filters"): document type,
 * created / updated date ranges and custom metadata fields. Pure: validation (every
 * refusal is BAD_USER_INPUT naming the field) and the translation into a Vectorize filter.
 * The D1 side (the keyword path and the re-check of every hit) is
 * src/db/repositories/search-filter-sql.ts; both read the same normalised AttributeFilter,
 * so the vector index, the keyword path and the re-check agree on what matches.
 *
 * Custom metadata is filterable on a documented set of keys only (SEARCH_METADATA_KEYS,
 * each with a type): Vectorize filters only properties that have a metadata index, at most
 * 10 per index and created before vectors are inserted, so the set is the deployment's, not
 * each tenant's. The ingest consumer copies those keys of a document's `metadata` into its
 * vectors' metadata as `m_<key>` when the value has the declared type.
 */
import { AppError } from '../lib/errors';
import type { FilterOps, FilterScalar, VectorFilter } from '../vector/types';
import { SUPPORTED_MIME } from './extract';

export type MetadataKeyType = 'string' | 'number' | 'boolean';

/** One filterable metadata key of the deployment. */
export interface MetadataKeySpec {
  key: string;
  type: MetadataKeyType;
}

export type MetadataScalar = string | number | boolean;

/** A validated condition on one metadata key: equality / membership, or a range. */
export interface MetadataCondition {
  key: string;
  type: MetadataKeyType;
  eq?: MetadataScalar;
  in?: MetadataScalar[];
  gt?: string | number;
  gte?: string | number;
  lt?: string | number;
  lte?: string | number;
}

/** ISO-8601 UTC bounds: `from` inclusive, `before` exclusive; either may be absent. */
export interface DateRange {
  from?: string | null;
  before?: string | null;
}

/** Document-attribute filters after validation (null/absent: no restriction). */
export interface AttributeFilter {
  /** MIME types (documents.mime_type); an empty list selects nothing. */
  types?: string[] | null;
  created?: DateRange | null;
  updated?: DateRange | null;
  metadata?: MetadataCondition[] | null;
}

/** What a client may send (GraphQL input, or an agent's stored defaults). */
export interface AttributeFilterInput {
  types?: readonly string[] | null;
  created?: { from?: Date | string | null; before?: Date | string | null } | null;
  updated?: { from?: Date | string | null; before?: Date | string | null } | null;
  metadata?: readonly MetadataConditionInput[] | null;
}

export interface MetadataConditionInput {
  key: string;
  eq?: unknown;
  in?: readonly unknown[] | null;
  gt?: unknown;
  gte?: unknown;
  lt?: unknown;
  lte?: unknown;
}

/** Prefix of the vector metadata property that carries a custom key (no clash with tenant_id etc.). */
export const VECTOR_METADATA_PREFIX = 'm_';
export const MAX_METADATA_CONDITIONS = 5;
export const MAX_IN_VALUES = 20;
/** Vectorize indexes the first 64 bytes of a string property: longer values could not filter alike. */
export const MAX_STRING_BYTES = 64;
/** At most this many custom keys: Vectorize has 10 metadata indexes, the app uses 5. */
export const MAX_METADATA_KEYS = 5;
const KEY_PATTERN = /^[a-z][a-z0-9_]{0,31}$/;

const bad = (message: string, field: string, extra: Record<string, unknown> = {}) => new AppError('BAD_USER_INPUT', message, { field, ...extra });

/**
 * Parses SEARCH_METADATA_KEYS (`key:type,key:type`, type string | number | boolean). Returns
 * the problem as a message for the configuration error, or the keys.
 */
export function parseMetadataKeys(raw: string | undefined): MetadataKeySpec[] | string {
  const specs: MetadataKeySpec[] = [];
  for (const part of (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const [key, type, ...rest] = part.split(':').map((s) => s.trim());
    if (!key || !KEY_PATTERN.test(key) || rest.length) return `"${part}" is not key:type with a key of a-z, 0-9 and _ (at most 32, starting with a letter)`;
    if (type !== 'string' && type !== 'number' && type !== 'boolean') return `"${part}": the type must be string, number or boolean`;
    if (specs.some((s) => s.key === key)) return `"${key}" is listed twice`;
    specs.push({ key, type });
  }
  if (specs.length > MAX_METADATA_KEYS) return `at most ${MAX_METADATA_KEYS} keys (Vectorize has 10 metadata indexes and edgerag uses 5)`;
  return specs;
}

function isoBound(v: Date | string | null | undefined, field: string): string | null {
  if (v === null || v === undefined) return null;
  const d = v instanceof Date ? v : new Date(v);
  if (Number.isNaN(d.getTime())) throw bad(`${field} must be an ISO-8601 date-time`, field);
  return d.toISOString();
}

function dateRange(r: AttributeFilterInput['created'], field: string): DateRange | null {
  if (!r) return null;
  const from = isoBound(r.from, `${field}.from`);
  const before = isoBound(r.before, `${field}.before`);
  if (from === null && before === null) return null;
  if (from !== null && before !== null && from >= before) throw bad(`${field}.from must be earlier than ${field}.before`, field);
  return { from, before };
}

function scalarOf(v: unknown, type: MetadataKeyType, field: string): MetadataScalar {
  const ok = type === 'number' ? typeof v === 'number' && Number.isFinite(v) : typeof v === type;
  if (!ok) throw bad(`${field} must be a ${type} (the declared type of this key)`, field);
  if (typeof v === 'string' && new TextEncoder().encode(v).byteLength > MAX_STRING_BYTES) throw bad(`${field} is at most ${MAX_STRING_BYTES} bytes`, field);
  return v as MetadataScalar;
}

function condition(c: MetadataConditionInput, keys: readonly MetadataKeySpec[], i: number): MetadataCondition {
  const spec = keys.find((k) => k.key === c.key);
  if (!spec) {
    const allowed = keys.map((k) => k.key);
    throw bad(
      allowed.length ? `filter.metadata: "${c.key}" is not a filterable key; filterable: ${allowed.join(', ')}` : 'filter.metadata: this deployment has no filterable metadata keys (SEARCH_METADATA_KEYS)',
      `filter.metadata[${i}].key`,
      { allowed },
    );
  }
  const field = (op: string) => `filter.metadata[${i}].${op}`;
  const given = (['eq', 'in', 'gt', 'gte', 'lt', 'lte'] as const).filter((op) => c[op] !== undefined && c[op] !== null);
  if (given.length === 0) throw bad(`filter.metadata[${i}] ("${c.key}") needs one of eq, in, gt, gte, lt, lte`, `filter.metadata[${i}]`);
  const equality = given.filter((op) => op === 'eq' || op === 'in');
  const lower = given.filter((op) => op === 'gt' || op === 'gte');
  const upper = given.filter((op) => op === 'lt' || op === 'lte');
  // The shapes Vectorize accepts per key: one of eq/in, or at most one bound on each side.
  if ((equality.length && given.length > 1) || lower.length > 1 || upper.length > 1) {
    throw bad(`filter.metadata[${i}] ("${c.key}"): use eq, or in, or a range (gt|gte and/or lt|lte), not ${given.join(' + ')}`, `filter.metadata[${i}]`);
  }
  const out: MetadataCondition = { key: spec.key, type: spec.type };
  if (c.eq !== undefined && c.eq !== null) out.eq = scalarOf(c.eq, spec.type, field('eq'));
  if (c.in) {
    if (c.in.length === 0 || c.in.length > MAX_IN_VALUES) throw bad(`${field('in')} takes 1 to ${MAX_IN_VALUES} values`, field('in'));
    out.in = [...new Set(c.in.map((v) => scalarOf(v, spec.type, field('in'))))];
  }
  for (const op of [...lower, ...upper]) {
    if (spec.type === 'boolean') throw bad(`${field(op)}: a boolean key takes eq or in, not a range`, field(op));
    out[op] = scalarOf(c[op], spec.type, field(op)) as string | number;
  }
  return out;
}

/**
 * Validates the attribute part of a search or ask filter against the deployment's
 * filterable metadata keys. Returns null when nothing restricts.
 */
export function validateAttributeFilter(f: AttributeFilterInput | null | undefined, keys: readonly MetadataKeySpec[]): AttributeFilter | null {
  if (!f) return null;
  const out: AttributeFilter = {};
  if (f.types !== null && f.types !== undefined) {
    const types = [...new Set(f.types.map((t) => String(t).trim().toLowerCase()))];
    const unknown = types.find((t) => !(SUPPORTED_MIME as readonly string[]).includes(t));
    if (unknown !== undefined) {
      throw bad(`filter.types: "${unknown}" is not a document type; one of ${SUPPORTED_MIME.join(', ')}`, 'filter.types', { allowed: [...SUPPORTED_MIME] });
    }
    out.types = types;
  }
  const created = dateRange(f.created, 'filter.created');
  if (created) out.created = created;
  const updated = dateRange(f.updated, 'filter.updated');
  if (updated) out.updated = updated;
  if (f.metadata !== null && f.metadata !== undefined) {
    if (f.metadata.length > MAX_METADATA_CONDITIONS) throw bad(`filter.metadata takes at most ${MAX_METADATA_CONDITIONS} conditions`, 'filter.metadata');
    const conds = f.metadata.map((c, i) => condition(c, keys, i));
    const dup = conds.find((c, i) => conds.findIndex((d) => d.key === c.key) !== i);
    if (dup) throw bad(`filter.metadata names "${dup.key}" twice; put both bounds in one condition`, 'filter.metadata');
    if (conds.length) out.metadata = conds;
  }
  return Object.keys(out).length ? out : null;
}

/** Whether the filter selects nothing whatever the data (an explicitly empty type list). */
export function attributeSelectsNothing(f: AttributeFilter | null | undefined): boolean {
  return !!f && Array.isArray(f.types) && f.types.length === 0;
}

/** Whether part of the filter is checked in D1 only (dates), so vector candidates must be fetched deeper. */
export function needsDeeperVectorSearch(f: AttributeFilter | null | undefined): boolean {
  return !!f && (!!f.created || !!f.updated);
}

/**
 * The Vectorize filter entries for the filter's types and metadata conditions (dates are
 * not in vector metadata: the D1 re-check applies them). Merged by the caller with the
 * tenant and id entries, under Vectorize's 2 KB filter limit.
 */
export function vectorFilterEntries(f: AttributeFilter | null | undefined): VectorFilter {
  const out: VectorFilter = {};
  if (!f) return out;
  if (f.types?.length) out.type = { $in: f.types };
  for (const c of f.metadata ?? []) {
    const ops: FilterOps = {};
    if (c.eq !== undefined) ops.$eq = c.eq as FilterScalar;
    if (c.in) ops.$in = c.in as FilterScalar[];
    if (c.gt !== undefined) ops.$gt = c.gt;
    if (c.gte !== undefined) ops.$gte = c.gte;
    if (c.lt !== undefined) ops.$lt = c.lt;
    if (c.lte !== undefined) ops.$lte = c.lte;
    out[`${VECTOR_METADATA_PREFIX}${c.key}`] = ops;
  }
  return out;
}

/**
 * The vector metadata for a document's filterable keys: `m_<key>` for each declared key
 * whose value in the document's metadata has the declared type (others are left out, so
 * equality and ranges never match them, exactly as in D1).
 */
export function vectorMetadataFor(metadata: Record<string, unknown>, keys: readonly MetadataKeySpec[]): Record<string, MetadataScalar> {
  const out: Record<string, MetadataScalar> = {};
  for (const { key, type } of keys) {
    const v = metadata[key];
    const ok = type === 'number' ? typeof v === 'number' && Number.isFinite(v) : typeof v === type;
    // A longer string is left out of the vector: Vectorize would compare only its first 64 bytes.
    if (ok && !(typeof v === 'string' && new TextEncoder().encode(v).byteLength > MAX_STRING_BYTES)) out[`${VECTOR_METADATA_PREFIX}${key}`] = v as MetadataScalar;
  }
  return out;
}
