/**
 * CONFLICT (HTTP 409, retryable) for lost write races (issue 9, item 13). Concurrent
 * replacements of one document are compare-and-sets; a request that loses every one of its
 * attempts was beaten by other writers, which is neither an outage (it used to answer
 * UPSTREAM_UNAVAILABLE, 503) nor the client's fault: it may retry after extensions.retryAfter.
 */
import { env } from 'cloudflare:test';
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { effectiveLimits } from '../../src/context';
import type { TenantScope } from '../../src/db/tenant-scope';
import { loadConfig } from '../../src/env';
import { AppError, CONFLICT_RETRY_SECONDS, ERROR_STATUS } from '../../src/lib/errors';
import { guardClient } from '../../src/objects/guard-client';
import { IngestionService } from '../../src/rag/ingestion';
import type { VectorStore } from '../../src/vector/types';
import { maskError } from '../../src/schema/errors';
import { gql, twoTenants } from '../helpers';
import { ingest } from './doc-helpers';
import { scopeOf } from './keyword-helpers';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('CONFLICT', () => {
  it('is in the closed set as HTTP 409, and the mask keeps its retryAfter', () => {
    expect(ERROR_STATUS.CONFLICT).toBe(409);
    const masked = maskError('req-1', () => undefined)(new GraphQLError('x', { originalError: new AppError('CONFLICT', 'Lost a race', { retryAfter: 1 }) })) as GraphQLError;
    expect(masked.extensions).toMatchObject({ code: 'CONFLICT', retryAfter: 1, requestId: 'req-1', http: { status: 409 } });
  });

  it('answers a replacement that loses every compare-and-set, leaving nothing behind and the quota as it was', async () => {
    const [a, b] = await twoTenants();
    const first = (await ingest(a, { name: 'contested.txt', text: 'Version one.' })).body.data.ingestDocument;
    const usageBefore = (await gql('{ usage { documents storedBytes } }', {}, { token: a.token })).body.data.usage;
    const scope = await scopeOf(a);
    // Every compare-and-set finds the document changed by someone else (what a sustained
    // stream of concurrent writers does to one request), deterministically.
    const documents = Object.create(scope.documents) as TenantScope['documents'];
    let attempts = 0;
    documents.acceptReplacement = async () => (attempts++, null);
    const service = new IngestionService({
      scope: Object.assign(Object.create(scope) as TenantScope, { documents }),
      blobs: env.DOCUMENTS,
      queue: { send: async () => undefined },
      vectors: {} as VectorStore,
      guard: guardClient(env.TENANT_GUARD, a.id, silent),
      limits: effectiveLimits(loadConfig(env as never), scope.tenant),
      fetcher: fetch,
      allowPrivateUrls: false,
      log: silent,
    });
    const err = await service.ingest({ name: 'contested.txt', text: 'A longer version two of the text.' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'CONFLICT', status: 409, extensions: { retryAfter: CONFLICT_RETRY_SECONDS, field: 'name' } });
    expect((err as AppError).message).toBe('The document is being changed by other requests at the same time, try again');
    expect(attempts).toBe(5);
    // Each lost attempt deleted its own original and gave its reserved bytes back.
    expect((await env.DOCUMENTS.list({ prefix: `${a.id}/${first.id}/` })).objects).toHaveLength(1);
    expect((await gql('{ usage { documents storedBytes } }', {}, { token: a.token })).body.data.usage).toEqual(usageBefore);
    expect((await gql('{ usage { documents storedBytes } }', {}, { token: b.token })).body.data.usage).toEqual({ documents: 0, storedBytes: 0 });
  });
});
