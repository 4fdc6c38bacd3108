// npm run usage:export -- --period 2026-11 [--url http://localhost:8787] [--token <platform-admin JWT>] [--out usage-2026-11.csv]
// Writes every tenant's usage for one month as CSV, read through the API (`usageReport`,
// platform admins), so the figures are exactly what the API reports. Without --token it
// mints a platform-admin token with the local JWT_SECRET (.dev.vars): development only;
// in production pass a token from your IdP (or EDGERAG_TOKEN). Bad arguments: exit 2.
import { writeFileSync } from 'node:fs';
import { mintToken, readDevVars } from './lib.mjs';
import { usageCsv, USAGE_REPORT_QUERY } from './usage-csv.mjs';

const fail = (message, code = 2) => {
  console.error(`usage:export: ${message}`);
  process.exit(code);
};

const args = process.argv.slice(2);
const opts = { url: process.env.EDGERAG_URL ?? 'http://localhost:8787', token: process.env.EDGERAG_TOKEN ?? null, period: null, out: null };
for (let i = 0; i < args.length; i++) {
  const flag = args[i];
  const value = args[i + 1];
  if (!['--period', '--url', '--token', '--out'].includes(flag)) fail(`unknown argument ${flag}`);
  if (value === undefined || value.startsWith('--')) fail(`${flag} needs a value`);
  opts[flag.slice(2)] = value;
  i++;
}
if (!opts.period || !/^\d{4}-(0[1-9]|1[0-2])$/.test(opts.period)) fail('--period YYYY-MM is required');

const token = opts.token ?? (await mintToken({ secret: readDevVars().JWT_SECRET, role: 'owner', sub: 'usage-export', hours: 1, platformAdmin: true }));
const rows = [];
let after = null;
do {
  const res = await fetch(new URL('/graphql', opts.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: USAGE_REPORT_QUERY, variables: { period: opts.period, first: 100, after } }),
  });
  const body = await res.json().catch(() => null);
  if (!body?.data) fail(`the API answered ${res.status}: ${JSON.stringify(body?.errors ?? body)}`, 1);
  const page = body.data.usageReport;
  rows.push(...page.edges.map((e) => e.node));
  after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
} while (after);

const csv = usageCsv(rows);
if (opts.out) {
  writeFileSync(opts.out, csv);
  console.error(`usage:export: ${rows.length} tenants for ${opts.period} → ${opts.out}`);
} else {
  process.stdout.write(csv);
}
