/**
 * Limits on free-text input and the checks that enforce them. Every text a client can
 * store has a cap (documented in README "Input limits"), so no request can park megabytes
 * in a name or a description, and every refusal is BAD_USER_INPUT naming the field.
 */
import { AppError } from './errors';

export const INPUT_LIMITS = {
  /** ingestDocument(name): unique per collection. */
  documentName: 200,
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
  /** Tags per document. */
  tags: 20,
  /** ingestDocument(url): what browsers and CDNs reliably carry. */
  url: 2_048,
} as const;

const bad = (message: string, field: string) => new AppError('BAD_USER_INPUT', message, { field });

/**
 * Characters a name or tag may not contain: controls (Cc: NUL, tab, newline, C1), format
 * characters (Cf: bidi overrides and isolates such as U+202E, zero-width space / joiners,
 * the BOM, soft hyphen) and lone surrogates (Cs: not Unicode text). They make two names
 * that look the same differ (`Finance` / `Finance\u200b`) or make a name display as
 * something else (`invoice\u202Egpj.exe` shows as `invoiceexe.jpg`).
 */
const UNSAFE_IN_NAMES = /[\p{Cc}\p{Cf}\p{Cs}]/u;

/** Length in characters (Unicode code points), not UTF-16 code units: an emoji is one character. */
export const charLength = (text: string): number => {
  let n = 0;
  for (const _ of text) n++;
  return n;
};

/**
 * A name or tag given as input (document and collection names, tags): NFC-normalised (so
 * `café` typed as e + U+0301 and as é is one name), trimmed, refused when empty, longer than
 * `max` characters (code points, counted after NFC) or containing a control, format or lone
 * surrogate character (UNSAFE_IN_NAMES). Every refusal is BAD_USER_INPUT naming `field`.
 */
export function checkedName(value: string, field: string, max: number): string {
  // Lone surrogates first: normalize() would keep them, and they cannot be stored as UTF-8.
  const unsafe = UNSAFE_IN_NAMES.exec(value);
  if (unsafe) {
    const cp = unsafe[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw bad(`${field} must not contain control, invisible formatting or unpaired surrogate characters (found U+${cp})`, field);
  }
  const text = value.normalize('NFC').trim();
  if (!text) throw bad(`${field} must not be empty`, field);
  if (charLength(text) > max) throw bad(`${field} must be at most ${max} characters`, field);
  return text;
}

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

/**
 * A list of tags given as input: every tag must be non-blank and a valid name (checkedName:
 * NFC, no control or format characters, at most INPUT_LIMITS.tag characters), so a filter
 * written in another Unicode form still matches the stored tag. Null and undefined pass through.
 */
export function optionalTags(values: readonly string[] | null | undefined, field: string): string[] | null {
  if (values === null || values === undefined) return null;
  return values.map((v) => {
    if (!v.trim()) throw bad(`${field} must not contain an empty tag`, field);
    return checkedName(v, field, INPUT_LIMITS.tag);
  });
}
