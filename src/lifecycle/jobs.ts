/**
 * Queue side of the tenant lifecycle jobs (src/jobs/queue-router.ts): a `tenant.delete`
 * message runs the deletion job (src/lifecycle/tenant-deletion.ts) for a bounded number of
 * units — or, during the grace period, re-enqueues itself with a delay — and a `tenant.export`
 * message runs one export attempt (src/lifecycle/tenant-export.ts). A failure leaves the job
 * where it stood and the message is retried with backoff.
 */
import { ExportStore } from '../db/lifecycle-store';
import type { AppEnv } from '../env';
import { createLogger, errorDetail } from '../lib/log';
import { createRoot, type Root } from '../tenant-session';
import { isDeletionMessage, runDeletion, type DeletionDeps, type DeletionMessage } from './tenant-deletion';
import { isExportMessage, runExport, type ExportDeps, type ExportMessage } from './tenant-export';

/** Units of work per delivery (each is at most one page of rows, ids or objects). */
export const UNITS_PER_DELIVERY = 200;
/** Deliveries an export may die in before it is marked failed (each attempt starts over). */
export const EXPORT_MAX_ATTEMPTS = 3;

export const isLifecycleMessage = (body: unknown): body is DeletionMessage | ExportMessage => isDeletionMessage(body) || isExportMessage(body);

/** The jobs' dependencies in the Worker: the catalogue, the placements, the queue. */
export function lifecycleDeps(env: AppEnv): Root {
  return createRoot(env, { log: createLogger(`lifecycle:${crypto.randomUUID()}`) });
}

const backoff = (attempts: number) => Math.min(300, 5 * 2 ** Math.min(6, attempts));

export async function consumeLifecycleMessages(messages: readonly Message<unknown>[], deps: DeletionDeps & ExportDeps): Promise<void> {
  for (const message of messages) {
    const body = message.body as DeletionMessage | ExportMessage;
    try {
      if (body.type === 'tenant.delete') await runDeletion(deps, body.deletionId, { maxUnits: UNITS_PER_DELIVERY });
      else await runExport(deps, body.exportId);
      message.ack();
    } catch (err) {
      deps.log.warn(`${body.type}: run interrupted, will resume`, { body, attempts: message.attempts, ...errorDetail(err) });
      if (body.type === 'tenant.export' && message.attempts >= EXPORT_MAX_ATTEMPTS) {
        const exports = new ExportStore(deps.catalogue);
        const row = await exports.get(body.exportId).catch(() => null);
        if (row && !row.finishedAt) {
          await exports.fail(row, `gave up after ${message.attempts} attempts: ${err instanceof Error ? err.message : String(err)}`).catch(() => undefined);
          message.ack();
          continue;
        }
      }
      message.retry({ delaySeconds: backoff(message.attempts) });
    }
  }
}
