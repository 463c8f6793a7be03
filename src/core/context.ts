import { AsyncLocalStorage } from 'node:async_hooks';
import type { Tx } from './db/database.js';

/**
 * Per-request (or per-job) context carried across async calls. It lets infrastructure that sits below
 * the services — the unit of work, the logger — see the request without threading it through every call.
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
