/** Turns the request's credential into a Principal (DESIGN §4). */
import type { PlatformStore } from '../db/platform-store';
import type { Config } from '../env';
import { AppError } from '../lib/errors';
import { parseApiKey, verifyApiKey } from './api-keys';
import { verifyJwt } from './jwt';
import type { Principal } from './principal';

export function credentialFrom(request: Request): string | null {
  const auth = request.headers.get('authorization');
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (!m) throw new AppError('UNAUTHENTICATED', 'Authorization must be "Bearer <token>"');
    return m[1]!;
  }
  return request.headers.get('x-api-key')?.trim() || null;
}

export async function authenticate(request: Request, config: Config, platform: PlatformStore): Promise<Principal> {
  const credential = credentialFrom(request);
  if (!credential) throw new AppError('UNAUTHENTICATED', 'Send Authorization: Bearer <JWT or API key>');
  if (credential.startsWith('erk_')) {
    const parsed = parseApiKey(credential);
    if (!parsed) throw new AppError('UNAUTHENTICATED', 'API key is invalid');
    const row = await platform.apiKeyByPrefix(parsed.prefix);
    return verifyApiKey(row, parsed.secret);
  }
  return verifyJwt(credential, config);
}
