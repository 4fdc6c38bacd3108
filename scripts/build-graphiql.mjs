// Writes the self-contained GraphiQL page (no CDN: JS, CSS and workers are inlined by
// @graphql-yoga/render-graphiql) into the Worker's static assets folder.
// Usage: node scripts/build-graphiql.mjs [--headers '{"Authorization":"Bearer …"}']
import { mkdirSync, writeFileSync } from 'node:fs';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';

const i = process.argv.indexOf('--headers');
const headers = i > 0 ? process.argv[i + 1] : undefined;
const html = renderGraphiQL({
  title: 'edgerag GraphiQL',
  endpoint: '/graphql',
  defaultQuery: '{\n  viewer { role scopes tenant { slug name plan } }\n}\n',
  ...(headers ? { headers, shouldPersistHeaders: true } : {}),
});
mkdirSync('.generated/assets', { recursive: true });
writeFileSync('.generated/assets/graphiql.html', html);
console.log(`GraphiQL page written (${(html.length / 1024 / 1024).toFixed(1)} MiB, self-contained)`);
