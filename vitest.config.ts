import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { configDefaults, defineConfig } from 'vitest/config';

/** The Worker under test, with per-project overrides of vars and secrets. */
const worker = (overrides: Record<string, string> = {}) =>
  cloudflareTest(async () => ({
    wrangler: { configPath: './wrangler.toml' },
    miniflare: {
      // The development settings that .dev.vars gives `wrangler dev` (wrangler.toml's
      // top-level [vars] are production-safe), so no test depends on a local .dev.vars.
      bindings: {
        ENVIRONMENT: 'test',
        BASE_DOMAIN: 'localhost',
        GRAPHIQL: 'true',
        INTROSPECTION: 'true',
        HEALTHZ_TOKEN: 'test-healthz-token',
        // workerd has no Durable Object jurisdictions: tests that configure one get named objects instead (src/objects/guard-namespace.ts).
        EMULATE_JURISDICTIONS: 'true',
        JWT_SECRET: 'test-secret-0123456789-0123456789-abcdef',
        OPENAI_API_KEY: '',
        ENCRYPTION_KEY: 'ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMzJieXRlcyE=',
        TEST_MIGRATIONS: await readD1Migrations('./migrations'),
        ...overrides,
      },
      // Databases no migration run touches: what `wrangler dev` sees before
      // `wrangler d1 migrations apply DB --local`, two that a test migrates in part
      // (test/foundation/misconfiguration.test.ts), and one that a test migrates step by step
      // around data written in between (test/lifecycle/domains.test.ts, migration 0014).
      d1Databases: {
        UNMIGRATED_DB: 'edgerag-unmigrated', PARTLY_MIGRATED_DB: 'edgerag-partly-migrated', BEHIND_DB: 'edgerag-behind',
        STEPWISE_DB: 'edgerag-stepwise',
      },
    },
  }));

// Tests of the openai-SDK path: the Worker has a key and a base URL, and the test stubs
// globalThis.fetch for that host (the Worker runs in the test's isolate), so the real SDK
// code talks to a fake OpenAI-compatible endpoint. Everything else runs offline.
const OPENAI_TESTS = 'test/**/*.openai.test.ts';
// Tests of the libSQL backend on the real engine (`@libsql/client` with a `file:` database) in
// Node: the repository suite (test/repositories/*.repo.test.ts, also run in workerd against D1)
// and the libSQL-only tests (*.node.test.ts).
const NODE_TESTS = 'test/**/*.node.test.ts';
const REPO_TESTS = 'test/repositories/*.repo.test.ts';
const backends = (file: string) => ({ '#repo-backends': new URL(`./test/repositories/${file}`, import.meta.url).pathname });

export default defineConfig({
  test: {
    // Workers tests share two cores; keep the pool small and give workerd time on cold start.
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // test/setup.ts (D1 migrations) is per workerd project: the Node project has no cloudflare:test.
    projects: [
      {
        extends: true,
        plugins: [worker()],
        resolve: { alias: backends('backends.workerd.ts') },
        test: { name: 'workers', setupFiles: ['./test/setup.ts'], include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, OPENAI_TESTS, NODE_TESTS] },
      },
      {
        // Not `extends`: no workerd, no test/setup.ts (it needs cloudflare:test).
        resolve: { alias: backends('backends.node.ts') },
        test: { name: 'node', environment: 'node', include: [REPO_TESTS, NODE_TESTS], testTimeout: 20_000 },
      },
      {
        extends: true,
        plugins: [worker({ OPENAI_API_KEY: 'sk-test-not-a-real-key', OPENAI_BASE_URL: 'https://fake-openai.test/v1' })],
        test: { name: 'openai', setupFiles: ['./test/setup.ts'], include: [OPENAI_TESTS] },
      },
      // Benchmarks that need workerd (npm run bench:guard-rpc); only when asked for.
      ...(process.env.EDGERAG_BENCH
        ? [{ extends: true, plugins: [worker()], test: { name: 'bench', setupFiles: ['./test/setup.ts'], include: ['scripts/bench/*.bench-run.ts'] } }]
        : []),
    ],
  },
});
