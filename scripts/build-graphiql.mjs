// Writes the self-contained GraphiQL page (no CDN: JS, CSS and workers are inlined by
// @graphql-yoga/render-graphiql) into the Worker's static assets folder.
//
// wrangler runs this itself (wrangler.toml [build]) before `wrangler dev` and
// `wrangler deploy`, so both work on a fresh clone with nothing run first.
// Headers to pre-fill (npm run dev passes the Acme dev token) come from
// EDGERAG_GRAPHIQL_HEADERS or `--headers '{"Authorization":"Bearer …"}'`. Without them,
// `wrangler dev` keeps a page that is already there (so a plain `npx wrangler dev` after
// `npm run dev` keeps the token), and everything else (deploy, npm test) writes a page
// without headers: a dev token must never ship.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';

const PAGE = '.generated/assets/graphiql.html';
const i = process.argv.indexOf('--headers');
const headers = i > 0 ? process.argv[i + 1] : process.env.EDGERAG_GRAPHIQL_HEADERS || undefined;
if (!headers && process.env.WRANGLER_COMMAND === 'dev' && existsSync(PAGE)) {
  console.log('GraphiQL page kept (run npm run dev to refresh it with dev tokens)');
  process.exit(0);
}
const html = renderGraphiQL({
  title: 'edgerag GraphiQL',
  endpoint: '/graphql',
  defaultQuery: '{\n  viewer { role scopes tenant { slug name plan } }\n}\n',
  ...(headers ? { headers, shouldPersistHeaders: true } : {}),
});
mkdirSync('.generated/assets', { recursive: true });
writeFileSync(PAGE, html);
console.log(`GraphiQL page written (${(html.length / 1024 / 1024).toFixed(1)} MiB, self-contained${headers ? ', headers pre-filled' : ''})`);
