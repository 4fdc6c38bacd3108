/**
 * Queue side of re-embedding: a `tenant.reembed` message runs the tenant's job
 * (src/rag/reembedding.ts) for a bounded number of units, then the job re-enqueues itself.
 * A failed unit keeps its place (recorded on the generation, shown by `reembedding.error`)
 * and the job is enqueued again after a backoff as a new message: a provider outage that
 * outlasts the queue's retries must not end the job in the dead-letter queue.
 */
import type { AppEnv } from '../env';
import { createLogger, errorDetail } from '../lib/log';
import type { Principal } from '../auth/principal';
import { createRoot, openTenantSession } from '../tenant-session';
import { ReembedRetryError, reembedRetrySeconds, runReembed, type ReembedJobDeps, type ReembedMessage } from './reembedding';

/** Units per delivery: each is one provider call of at most REEMBED_PAGE chunks, or one delete page. */
export const REEMBED_UNITS_PER_DELIVERY = 20;

/** The principal the job acts as: the system, with an admin's rights (it changes the tenant's generations). */
export const REEMBED_PRINCIPAL: Principal = {
  kind: 'user', tenantRef: null, userId: 'system:reembed', apiKeyId: null, role: 'admin',
  scopes: [], platformAdmin: false, rateLimitPerMinute: null, collectionIds: null, agentIds: null,
};

/** The job's dependencies in the Worker: each run opens its tenant's session (placement, vectors, guard). */
export function reembedDeps(env: AppEnv): ReembedJobDeps {
  const log = createLogger(`reembed:${crypto.randomUUID()}`);
  // The job reads its own progress back run after run: from the primary, never a lagging replica.
  const root = createRoot(env, { log, bookmark: 'first-primary' });
  return {
    open: async (tenantId) => {
      const tenant = await root.platform.tenantById(tenantId);
      if (!tenant) return null;
      const session = await openTenantSession(root, tenant, { ...REEMBED_PRINCIPAL, tenantRef: tenant.id }, `reembed:${tenantId}`);
      return { scope: session.scope, embeddings: session.services.embeddings, guard: session.guard, limits: session.limits, migrating: session.migrating };
    },
    enqueue: (message, delaySeconds) => root.enqueueJob(message, delaySeconds),
    log,
    metadataKeys: root.config.search.metadataKeys,
  };
}

export async function consumeReembedMessages(messages: readonly Message<unknown>[], deps: ReembedJobDeps): Promise<void> {
  for (const message of messages) {
    const body = message.body as ReembedMessage;
    try {
      await runReembed(deps, body.tenantId, { maxUnits: REEMBED_UNITS_PER_DELIVERY });
      message.ack();
    } catch (err) {
      const attempts = err instanceof ReembedRetryError ? err.attempts : message.attempts;
      const delaySeconds = reembedRetrySeconds(attempts);
      deps.log.warn('reembed: run interrupted, will resume', { tenantId: body.tenantId, attempts, delaySeconds, ...errorDetail(err) });
      try {
        await deps.enqueue(body, delaySeconds);
        message.ack();
      } catch {
        message.retry({ delaySeconds });
      }
    }
  }
}
