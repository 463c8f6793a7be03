import { AsyncLocalStorage } from 'node:async_hooks';
import type { Tx } from './db/database.js';

/**
 * Context carried across async calls, so infrastructure below the services (the unit of work) can act
 * for the request without threading it through every call. Opened by the idempotency layer around the
 * handlers it guards; audit.record also takes its default request id from it.
 */
export interface ExecutionContext {
  requestId: string;
  /**
   * Runs inside every top-level unit of work just before COMMIT, in the same transaction: the
   * idempotency layer uses it to record "the effect committed" atomically with the effect.
   */
  beforeCommit?: (tx: Tx) => Promise<void>;
}

const storage = new AsyncLocalStorage<ExecutionContext>();

export const executionContext = {
  run<T>(context: ExecutionContext, fn: () => T): T {
    return storage.run(context, fn);
  },
  current(): ExecutionContext | undefined {
    return storage.getStore();
  },
};
