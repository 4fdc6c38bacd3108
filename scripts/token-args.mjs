// Argument parsing for `npm run token` (scripts/token.mjs). Plain JavaScript with no Node
// imports, so the Vitest suite checks it inside workerd (test/foundation/token-args.test.ts).
// Every refusal is a TokenArgsError with a one-line message; token.mjs prints it and exits 2.

export const USAGE =
  'usage: npm run token -- --tenant <slug|id> [--role owner|admin|member|viewer] [--sub id] [--hours n] [--scope "search chat ingest admin"] [--collections id,id] [--agents id,id] [--platform-admin]';

const ROLES = ['owner', 'admin', 'member', 'viewer'];
const SCOPES = ['search', 'chat', 'ingest', 'admin'];
const VALUE_FLAGS = ['tenant', 'role', 'sub', 'hours', 'scope', 'collections', 'agents'];
/** The server's bounds on collection_ids / agent_ids (src/auth/jwt.ts restrictionClaim). */
const MAX_RESTRICTION_IDS = 50;
const MAX_ID = 200;
/** The server refuses a longer `sub` (src/lib/input.ts INPUT_LIMITS.jwtSubject). */
const MAX_SUB = 256;
const MAX_HOURS = 24 * 366;

export class TokenArgsError extends Error {
  constructor(message) {
    super(message);
    this.name = 'TokenArgsError';
  }
}

/**
 * Parses and checks the arguments; returns the options for mintToken (lib.mjs), or
 * `{ help: true }`. Throws TokenArgsError naming the bad argument.
 */
export function parseTokenArgs(argv) {
  const given = {};
  let platformAdmin = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return { help: true };
    if (arg === '--platform-admin') {
      platformAdmin = true;
      continue;
    }
    const name = arg.startsWith('--') ? arg.slice(2) : null;
    if (!name || !VALUE_FLAGS.includes(name)) throw new TokenArgsError(`unknown argument "${arg}"`);
    if (name in given) throw new TokenArgsError(`--${name} is given twice`);
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new TokenArgsError(`--${name} needs a value`);
    given[name] = value;
    i++;
  }

  const tenant = given.tenant === undefined ? undefined : given.tenant.trim();
  if (tenant === '') throw new TokenArgsError('--tenant must not be empty');
  if (tenant !== undefined && /\s/.test(tenant)) throw new TokenArgsError(`--tenant must be a tenant slug or id (got "${tenant}")`);
  if (tenant === undefined && !platformAdmin) throw new TokenArgsError('--tenant is required (or --platform-admin)');

  const role = (given.role ?? 'admin').trim().toLowerCase();
  if (!ROLES.includes(role)) throw new TokenArgsError(`--role must be one of ${ROLES.join(', ')} (got "${given.role}")`);

  let sub;
  if (given.sub !== undefined) {
    sub = given.sub.trim();
    if (!sub) throw new TokenArgsError('--sub must not be empty');
    if (sub.length > MAX_SUB) throw new TokenArgsError(`--sub must be at most ${MAX_SUB} characters (the server refuses longer ones)`);
  }

  let hours = 720;
  if (given.hours !== undefined) {
    const raw = given.hours.trim();
    hours = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
    if (!(hours > 0) || hours > MAX_HOURS) {
      throw new TokenArgsError(`--hours must be a number of hours above 0 and at most ${MAX_HOURS}, e.g. 24 (got "${given.hours}")`);
    }
  }

  let scope;
  if (given.scope !== undefined) {
    const words = given.scope.trim().toLowerCase().split(/\s+/).filter(Boolean);
    // The server refuses an empty scope claim (401); omitting --scope is the unrestricted token.
    if (words.length === 0) throw new TokenArgsError('--scope must name at least one of search, chat, ingest, admin; omit it for an unrestricted token');
    const unknown = words.find((w) => !SCOPES.includes(w));
    if (unknown) throw new TokenArgsError(`--scope: unknown scope "${unknown}" (use ${SCOPES.join(', ')})`);
    scope = [...new Set(words)].join(' ');
  }

  const collectionIds = idList(given, 'collections');
  const agentIds = idList(given, 'agents');
  return { tenant, role, sub, hours, scope, collectionIds, agentIds, platformAdmin };
}

/**
 * `--collections` / `--agents`: comma-separated ids for the claims collection_ids / agent_ids
 * (docs/agents.md). Omitted = unrestricted; an empty list is refused, as the server would.
 */
function idList(given, flag) {
  if (given[flag] === undefined) return undefined;
  const ids = [...new Set(given[flag].split(',').map((id) => id.trim()).filter(Boolean))];
  if (ids.length === 0) throw new TokenArgsError(`--${flag} must name at least one id; omit it for an unrestricted token`);
  if (ids.length > MAX_RESTRICTION_IDS) throw new TokenArgsError(`--${flag} names more than ${MAX_RESTRICTION_IDS} ids (the server refuses more)`);
  const long = ids.find((id) => id.length > MAX_ID || /\s/.test(id));
  if (long) throw new TokenArgsError(`--${flag}: "${long.slice(0, 40)}" is not an id (no spaces, at most ${MAX_ID} characters)`);
  return ids;
}
