/**
 * Request-local values for code that Yoga calls without our context (the error mask).
 * AsyncLocalStorage is available in Workers with nodejs_compat.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from './log';

export interface RequestLocal {
  requestId: string;
  log: Logger;
}

export const requestStore = new AsyncLocalStorage<RequestLocal>();
