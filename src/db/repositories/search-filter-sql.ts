/**
 * The attribute filters of search (src/rag/search-filters.ts) as SQL conditions on
 * `documents`, for the keyword path and the D1 re-check of every hit (chunks.ts
 * `documentFilter`). Kept apart from the keyword statements so changes to those and to
 * the filters do not collide.
 *
 * Metadata comparisons are type-strict like Vectorize's (`json_type` first): the number
 * 2021 never equals the string "2021", a boolean compares as 1/0, and a string longer than
 * 64 bytes — which the ingest consumer leaves out of the vector metadata — never matches.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { AttributeFilter, MetadataCondition } from '../../rag/search-filters';
import { MAX_STRING_BYTES } from '../../rag/search-filters';
import { documents } from '../schema';

const JSON_TYPES: Record<MetadataCondition['type'], string[]> = {
  string: ['text'],
  number: ['integer', 'real'],
  boolean: ['true', 'false'],
};

/** A JSON list bound as ONE parameter (D1 allows 100 per statement). */
const list = (values: unknown[]) => sql`(SELECT value FROM json_each(${JSON.stringify(values)}))`;
/** Booleans are stored by json_extract as 1/0. */
const bindable = (v: string | number | boolean) => (typeof v === 'boolean' ? (v ? 1 : 0) : v);

function metadataCondition(c: MetadataCondition): SQL {
  const path = `$.${c.key}`;
  const value = sql`json_extract(${documents.metadata}, ${path})`;
  const parts: SQL[] = [sql`json_type(${documents.metadata}, ${path}) IN ${list(JSON_TYPES[c.type])}`];
  if (c.type === 'string') parts.push(sql`length(CAST(${value} AS BLOB)) <= ${MAX_STRING_BYTES}`);
  if (c.eq !== undefined) parts.push(sql`${value} = ${bindable(c.eq)}`);
  if (c.in) parts.push(sql`${value} IN ${list(c.in.map(bindable))}`);
  if (c.gt !== undefined) parts.push(sql`${value} > ${c.gt}`);
  if (c.gte !== undefined) parts.push(sql`${value} >= ${c.gte}`);
  if (c.lt !== undefined) parts.push(sql`${value} < ${c.lt}`);
  if (c.lte !== undefined) parts.push(sql`${value} <= ${c.lte}`);
  return sql.join(parts, sql` AND `);
}

/** Conditions on `documents` for the attribute filter (none when it restricts nothing). */
export function attributeFilterSql(f: AttributeFilter | null | undefined): SQL[] {
  const out: SQL[] = [];
  if (!f) return out;
  if (f.types) out.push(f.types.length ? sql`${documents.mimeType} IN ${list(f.types)}` : sql`0`);
  // ISO-8601 UTC strings of one format (strftime('%Y-%m-%dT%H:%M:%fZ') / toISOString) order as text.
  if (f.created?.from) out.push(sql`${documents.createdAt} >= ${f.created.from}`);
  if (f.created?.before) out.push(sql`${documents.createdAt} < ${f.created.before}`);
  if (f.updated?.from) out.push(sql`${documents.updatedAt} >= ${f.updated.from}`);
  if (f.updated?.before) out.push(sql`${documents.updatedAt} < ${f.updated.before}`);
  for (const c of f.metadata ?? []) out.push(metadataCondition(c));
  return out;
}
