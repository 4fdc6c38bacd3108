// npm run token -- --tenant acme --role admin [--sub alice] [--hours 24] [--platform-admin] [--scope "search chat"]
import { mintToken, readDevVars } from './lib.mjs';

const args = process.argv.slice(2);
const get = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const platformAdmin = args.includes('--platform-admin');
const tenant = get('tenant');
if (!tenant && !platformAdmin) {
  console.error('usage: npm run token -- --tenant <slug|id> [--role owner|admin|member|viewer] [--sub id] [--hours n] [--scope "..."] [--platform-admin]');
  process.exit(2);
}
const secret = process.env.JWT_SECRET ?? readDevVars().JWT_SECRET;
console.log(await mintToken({ secret, tenant, role: get('role') ?? 'admin', sub: get('sub'), hours: Number(get('hours') ?? 720), platformAdmin, scope: get('scope') }));
