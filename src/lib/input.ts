/**
 * Limits on free-text input and the checks that enforce them. Every text a client can
 * store has a cap (documented in README "Input limits"), so no request can park megabytes
 * in a name or a description, and every refusal is BAD_USER_INPUT naming the field.
 */
import { AppError } from './errors';

export const INPUT_LIMITS = {
  collectionName: 200,
  collectionDescription: 2_000,
  tenantName: 200,
  tenantRegion: 64,
  /** JWT `sub`: it becomes a stored member id. */
  jwtSubject: 256,
  systemPrompt: 8_000,
  allowedOrigins: 50,
  /** A single origin (`https://app.example.com:8443`). */
  origin: 2_048,
  /** `documents(filter: { tag })`, like a stored tag. */
  tag: 64,
  /** ingestDocument(url): what browsers and CDNs reliably carry. */
  url: 2_048,
} as const;

const bad = (message: string, field: string) => new AppError('BAD_USER_INPUT', message, { field });

/** `value` trimmed, refused when empty (unless allowEmpty) or longer than `max` characters. */
export function checkedText(value: string, field: string, max: number, opts: { allowEmpty?: boolean } = {}): string {
  const text = value.trim();
  if (!text && !opts.allowEmpty) throw bad(`${field} must not be empty`, field);
  if (text.length > max) throw bad(`${field} must be at most ${max} characters`, field);
  return text;
}

/**
 * An id given as input: refused when empty or blank (an empty id would otherwise read as
 * "none given" and silently change what the request means). Null and undefined pass through.
 */
export function optionalId(value: string | number | null | undefined, field: string): string | null {
  if (value === null || value === undefined) return null;
  const id = String(value).trim();
  if (!id) throw bad(`${field} must not be empty: omit it instead`, field);
  return id;
}

/** A list of ids given as input: every entry must be non-blank. Null and undefined pass through. */
export function optionalIdList(values: readonly (string | number)[] | null | undefined, field: string): string[] | null {
  if (values === null || values === undefined) return null;
  return values.map((v) => {
    const id = String(v).trim();
    if (!id) throw bad(`${field} must not contain an empty id`, field);
    return id;
  });
}

/** A list of tags given as input: every tag must be non-blank. Null and undefined pass through. */
export function optionalTags(values: readonly string[] | null | undefined, field: string): string[] | null {
  if (values === null || values === undefined) return null;
  for (const v of values) if (!v.trim()) throw bad(`${field} must not contain an empty tag`, field);
  return [...values];
}
