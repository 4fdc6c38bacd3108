// Copies the README of each package in PACKAGES from node_modules into bench/quality/corpus/
// (the labelled set of `npm run bench:quality`), with its LICENSE file and a generated
// ATTRIBUTION.md naming package, version, license and repository. Run once when the set
// changes (`node scripts/quality/copy-corpus.mjs`); the output is committed, so the bench
// never depends on what happens to be installed.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PACKAGES = [
  'jose', 'graphql', 'graphql-yoga', '@libsql/client', 'openai', 'undici', 'ws', 'zod', 'semver', 'lru-cache', 'picomatch', 'cookie',
  'path-to-regexp', 'magic-string', 'source-map', 'tinybench', 'miniflare', 'unpdf', 'youch', 'es-module-lexer', 'cjs-module-lexer',
  'blake3-wasm', 'kleur', 'js-base64', 'chai', 'std-env', '@pothos/plugin-scope-auth', '@whatwg-node/server', 'get-tsconfig',
  'tinyexec', 'expect-type', '@sindresorhus/is', 'detect-libc', 'unenv', '@cloudflare/kv-asset-handler', 'resolve-pkg-maps',
];

export const slugOf = (pkg) => pkg.replace(/^@/, '').replace(/\//g, '-');

const out = 'bench/quality/corpus';
const licenses = 'bench/quality/licenses';
rmSync(out, { recursive: true, force: true });
rmSync(licenses, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
mkdirSync(licenses, { recursive: true });
const rows = [];
for (const pkg of PACKAGES) {
  const dir = join('node_modules', pkg);
  const files = readdirSync(dir);
  const readme = files.find((f) => /^readme(\.md)?$/i.test(f));
  const license = files.find((f) => /^(license|licence|copying)(\.md|\.txt)?$/i.test(f));
  if (!readme) throw new Error(`${pkg}: no README`);
  const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const slug = slugOf(pkg);
  writeFileSync(join(out, `${slug}.md`), readFileSync(join(dir, readme), 'utf8'));
  if (license) writeFileSync(join(licenses, `${slug}.LICENSE`), readFileSync(join(dir, license), 'utf8'));
  const repo = typeof meta.repository === 'string' ? meta.repository : meta.repository?.url ?? '';
  rows.push(`| \`${slug}.md\` | ${pkg}@${meta.version} | ${meta.license ?? '?'} | ${repo.replace(/^git\+/, '').replace(/\.git$/, '')} | ${license ? `licenses/${slug}.LICENSE` : existsSync(join(dir, 'package.json')) ? '(license named in package.json only)' : ''} |`);
}
writeFileSync('bench/quality/ATTRIBUTION.md', `# Attribution

The documents in \`corpus/\` are the README files of these npm packages, copied unchanged
from \`node_modules\` by \`scripts/quality/copy-corpus.mjs\` for the retrieval benchmark
\`npm run bench:quality\`. Each remains under its own license (copied into \`licenses/\`
where the package ships one) and belongs to its authors.

| file | package@version | license | repository | license text |
|---|---|---|---|---|
${rows.join('\n')}
`);
console.log(`copied ${rows.length} READMEs to ${out}`);
