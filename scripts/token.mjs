// npm run token -- --tenant acme --role admin [--sub alice] [--hours 24] [--platform-admin] [--scope "search chat"]
//                   [--collections <id>,<id>] [--agents <id>,<id>]
// Bad arguments: one line on stderr and exit code 2 (scripts/token-args.mjs).
import { mintToken, readDevVars } from './lib.mjs';
import { parseTokenArgs, TokenArgsError, USAGE } from './token-args.mjs';

const fail = (message) => {
  console.error(`token: ${message}`);
  process.exit(2);
};

let opts;
try {
  opts = parseTokenArgs(process.argv.slice(2));
} catch (err) {
  if (err instanceof TokenArgsError) fail(`${err.message}. Run with --help for usage.`);
  throw err;
}
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}
let secret = process.env.JWT_SECRET;
if (!secret) {
  try {
    secret = readDevVars().JWT_SECRET;
  } catch {
    secret = undefined;
  }
}
if (!secret) fail('no JWT_SECRET: set it in the environment or in .dev.vars (npm run dev creates it from .dev.vars.example)');
console.log(await mintToken({ secret, ...opts }));
