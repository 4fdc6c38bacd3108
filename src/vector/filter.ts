/**
 * Vectorize metadata filter evaluation for the local store, following
 * https://developers.cloudflare.com/vectorize/reference/metadata-filtering/ :
 * - a non-empty object whose compact JSON is < 2048 bytes; several keys are ANDed;
 * - keys are non-empty, at most 512 characters, contain no `"`, do not start with `$`;
 *   a `.` reaches into nested metadata (`{ "a.b": 1 }` looks at `{ a: { b: 1 } }`);
 * - a plain value is an implicit `$eq`; `$eq`/`$ne` take string, number, boolean or
 *   null; `$in`/`$nin` take arrays of those; `$lt $lte $gt $gte` take a string or a number;
 * - per key, one of `$eq $ne $in $nin`, or a range of at most one lower bound
 *   (`$gt`/`$gte`) and one upper bound (`$lt`/`$lte`); other combinations are refused.
 * Comparison is type-strict (the number 1 never equals the string "1"; ranges compare
 * numbers with numbers and strings with strings). A property the vector does not have
 * behaves as null: `{ k: null }` and `{ k: { $ne: "x" } }` match it, ranges never do.
 */
import { VECTOR_LIMITS, VectorQueryError, type FilterOps, type FilterScalar, type Metadata, type VectorFilter } from './types';

const EQUALITY = ['$eq', '$ne', '$in', '$nin'] as const;
const LOWER = ['$gt', '$gte'] as const;
const UPPER = ['$lt', '$lte'] as const;
const ALL_OPS = new Set<string>([...EQUALITY, ...LOWER, ...UPPER]);

type Predicate = (metadata: Metadata | undefined) => boolean;

const isScalar = (v: unknown): v is FilterScalar =>
  v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

function bad(message: string): never {
  throw new VectorQueryError(`invalid filter: ${message}`);
}

/** A property reader for `key`, with the dotted path split once (not per vector). */
function reader(key: string): (metadata: Metadata | undefined) => FilterScalar {
  const parts = key.split('.');
  if (parts.length === 1) {
    return (m) => {
      const v = m?.[key];
      return isScalar(v) ? v : null;
    };
  }
  return (m) => {
    let cur: unknown = m;
    for (const part of parts) {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return null;
      cur = (cur as Record<string, unknown>)[part];
    }
    return isScalar(cur) ? cur : null;
  };
}

const same = (a: FilterScalar, b: FilterScalar) => a === b;

function rangeOk(v: FilterScalar, bound: string | number, op: string): boolean {
  if (v === null || typeof v !== typeof bound || typeof v === 'boolean') return false;
  const a = v as string | number;
  switch (op) {
    case '$lt':
      return a < bound;
    case '$lte':
      return a <= bound;
    case '$gt':
      return a > bound;
    default:
      return a >= bound;
  }
}

function compileKey(key: string, spec: FilterScalar | FilterOps): Predicate {
  if (!key) bad('keys cannot be empty');
  if (key.length > 512) bad(`key "${key.slice(0, 20)}…" is longer than 512 characters`);
  if (key.includes('"')) bad(`key ${key} contains a double quote`);
  if (key.startsWith('$')) bad(`key ${key} starts with $ (operators go inside a key)`);
  if (key.split('.').some((p) => p === '')) bad(`key ${key} has an empty path segment`);
  const lookup = reader(key);
  if (isScalar(spec)) return (m) => same(lookup(m), spec);
  if (typeof spec !== 'object' || Array.isArray(spec)) bad(`value of ${key} must be a scalar or an operator object`);
  const ops = Object.entries(spec as Record<string, unknown>);
  if (ops.length === 0) bad(`operator object for ${key} is empty`);
  for (const [op] of ops) if (!ALL_OPS.has(op)) bad(`unknown operator ${op} on ${key}`);
  const names = ops.map(([op]) => op);
  const eq = names.filter((n) => (EQUALITY as readonly string[]).includes(n));
  const lo = names.filter((n) => (LOWER as readonly string[]).includes(n));
  const hi = names.filter((n) => (UPPER as readonly string[]).includes(n));
  if (eq.length > 1 || (eq.length === 1 && names.length > 1) || lo.length > 1 || hi.length > 1) {
    bad(`operators ${names.join(', ')} cannot be combined on ${key}`);
  }
  if (eq.length === 1) {
    const [op, arg] = ops[0]!;
    if (op === '$eq' || op === '$ne') {
      if (!isScalar(arg)) bad(`${op} on ${key} takes a string, number, boolean or null`);
      return op === '$eq' ? (m) => same(lookup(m), arg) : (m) => !same(lookup(m), arg);
    }
    if (!Array.isArray(arg) || !arg.every(isScalar)) bad(`${op} on ${key} takes an array of strings, numbers, booleans or nulls`);
    const set = arg as FilterScalar[];
    return op === '$in' ? (m) => set.some((x) => same(lookup(m), x)) : (m) => !set.some((x) => same(lookup(m), x));
  }
  const bounds = ops.map(([op, arg]) => {
    if (typeof arg !== 'string' && !(typeof arg === 'number' && Number.isFinite(arg))) bad(`${op} on ${key} takes a string or a number`);
    return [op, arg as string | number] as const;
  });
  return (m) => {
    const v = lookup(m);
    return bounds.every(([op, b]) => rangeOk(v, b, op));
  };
}

/**
 * Validates a filter the way Vectorize does (throws VectorQueryError) and returns a
 * predicate over a vector's metadata. `null`/`undefined` filters match everything.
 */
export function compileFilter(filter: VectorFilter | null | undefined): Predicate {
  if (filter === null || filter === undefined) return () => true;
  if (typeof filter !== 'object' || Array.isArray(filter)) bad('must be an object');
  const entries = Object.entries(filter);
  if (entries.length === 0) bad('must be a non-empty object');
  if (new TextEncoder().encode(JSON.stringify(filter)).byteLength >= VECTOR_LIMITS.maxFilterBytes) {
    bad(`compact JSON must be under ${VECTOR_LIMITS.maxFilterBytes} bytes`);
  }
  const preds = entries.map(([k, v]) => compileKey(k, v));
  return (m) => preds.every((p) => p(m));
}

/** The metadata keys a filter touches (the local store keeps only these in its hot path). */
export function filterKeys(filter: VectorFilter | null | undefined): string[] {
  return filter ? Object.keys(filter) : [];
}
