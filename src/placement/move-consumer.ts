/**
 * Queue side of moveTenant: a `tenant.move` message runs the job (src/placement/move.ts) for a
 * bounded number of units, then the job re-enqueues itself; a failure leaves the job at its
 * step and the message is retried with backoff, so a crash resumes where the job stood.
 */
import type { AppEnv } from '../env';
import { createLogger, errorDetail } from '../lib/log';
import { createRoot } from '../tenant-session';
import { runMove, type MoveDeps, type MoveMessage } from './move';

/** Units of work per delivery (each is at most one page of rows, vectors or objects). */
export const UNITS_PER_DELIVERY = 200;

/** The move job's dependencies in the Worker: the catalogue, the placements, the queue. */
export function moveDeps(env: AppEnv): MoveDeps {
  const root = createRoot(env, { log: createLogger(`move:${crypto.randomUUID()}`) });
  return { ...root, enqueue: root.enqueueJob };
}

export async function consumeMoveMessages(messages: readonly Message<unknown>[], deps: MoveDeps): Promise<void> {
  for (const message of messages) {
    const { moveId } = message.body as MoveMessage;
    try {
      await runMove(deps, moveId, { maxUnits: UNITS_PER_DELIVERY });
      message.ack();
    } catch (err) {
      deps.log.warn('move: run interrupted, will resume', { moveId, attempts: message.attempts, ...errorDetail(err) });
      message.retry({ delaySeconds: Math.min(300, 5 * 2 ** Math.min(6, message.attempts)) });
    }
  }
}
