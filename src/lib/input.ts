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
