/**
 * One queue (edgerag-ingest, and its dead-letter queue) carries every background job: document
 * ingestion and the tenant jobs (moves, and the lifecycle/provider jobs that follow the same
 * shape). Each job kind registers here; a message goes to the first handler whose `matches`
 * accepts its body, and whatever no handler claims is ingestion (whose messages predate the
 * registry and carry no kind). One list, so adding a job kind is one line, not another branch.
 */
import type { AppEnv } from '../env';
import { consumeWebhookMessages } from '../lifecycle/webhook-consumer';
import { isWebhookMessage } from '../lifecycle/webhooks';
import { consumeLifecycleMessages, isLifecycleMessage, lifecycleDeps } from '../lifecycle/jobs';
import { consumeMoveMessages, moveDeps } from '../placement/move-consumer';
import { isMoveMessage } from '../placement/move';
import { consumeIngestBatch } from '../rag/ingest-consumer';
import { consumeReembedMessages, reembedDeps } from '../rag/reembed-consumer';
import { isReembedMessage } from '../rag/reembedding';
import { ingestConsumerDeps } from '../services';

/** A background job kind carried by the shared queue. */
export interface JobHandler {
  /** For logs and tests. */
  readonly name: string;
  /** Whether a message body belongs to this job kind. */
  matches(body: unknown): boolean;
  /** Acks or retries each message itself (a failing one never holds back the others). */
  consume(messages: readonly Message<unknown>[], env: AppEnv): Promise<void>;
}

export const jobHandlers: readonly JobHandler[] = [
  { name: 'tenant.move', matches: isMoveMessage, consume: (messages, env) => consumeMoveMessages(messages, moveDeps(env)) },
  { name: 'webhook.event', matches: isWebhookMessage, consume: (messages, env) => consumeWebhookMessages(messages, env) },
  { name: 'tenant.reembed', matches: isReembedMessage, consume: (messages, env) => consumeReembedMessages(messages, reembedDeps(env)) },
  { name: 'tenant.lifecycle', matches: isLifecycleMessage, consume: (messages, env) => consumeLifecycleMessages(messages, lifecycleDeps(env)) },
];

/** Routes one delivered batch: each job kind gets its messages, the rest is ingestion. */
export async function routeQueueBatch(batch: MessageBatch<unknown>, env: AppEnv): Promise<void> {
  let rest: readonly Message<unknown>[] = batch.messages;
  for (const handler of jobHandlers) {
    const mine = rest.filter((m) => handler.matches(m.body));
    if (!mine.length) continue;
    rest = rest.filter((m) => !handler.matches(m.body));
    await handler.consume(mine, env);
  }
  if (!rest.length) return;
  const ingest = rest.length === batch.messages.length ? batch : { ...batch, messages: rest };
  await consumeIngestBatch(ingest as MessageBatch<unknown>, ingestConsumerDeps(env), batch.queue.endsWith('-dlq'));
}
