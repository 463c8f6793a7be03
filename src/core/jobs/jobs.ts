/**
 * Background jobs on pg-boss, in the same database as everything else (PGlite or PostgreSQL). Every
 * queue retries with exponential backoff and, when retries are exhausted, moves the job to the
 * dead-letter queue, where it stays for inspection.
 */
import PgBoss from 'pg-boss';
import type { Database, SqlExecutor } from '../db/database.js';
import { JOB_SCHEMA } from '../db/roles.js';

export const DEAD_LETTER_QUEUE = 'dead_letter';

export interface QueueDefinition {
  name: string;
  /** Attempts after the first (default 5). */
  retryLimit?: number;
  /** First retry delay in seconds; doubles each time with retryBackoff (default 5). */
  retryDelaySeconds?: number;
  expireInSeconds?: number;
}

export interface Job<T> {
  id: string;
  name: string;
  data: T;
}

export type JobHandler<T> = (job: Job<T>) => Promise<void>;

export interface SendOptions {
  /** Job id: sending the same id twice enqueues one job (used for at-most-once hand-offs). */
  id?: string;
  startAfter?: Date | number;
  singletonKey?: string;
  /** Enqueue inside this transaction (commits or rolls back with it). */
  db?: SqlExecutor;
}

export interface JobQueueOptions {
  database: Database;
  /** Run pg-boss maintenance and cron scheduling in this process (workers do). */
  supervise: boolean;
  onError?: (error: Error) => void;
}

export class JobQueue {
  private readonly boss: PgBoss;
  private readonly defined = new Set<string>();
  private started = false;

  constructor(private readonly options: JobQueueOptions) {
    this.boss = new PgBoss({
      db: options.database.executor as PgBoss.Db,
      schema: JOB_SCHEMA,
      // The schema is installed by `atrium migrate` as the owner; the runtime only checks its version.
      migrate: false,
      supervise: options.supervise,
      schedule: options.supervise,
    });
    this.boss.on('error', (error) => options.onError?.(error));
  }

  async start(): Promise<void> {
    if (this.started) return;
    await this.boss.start();
    this.started = true;
    await this.define({ name: DEAD_LETTER_QUEUE, retryLimit: 0 });
  }

  /** Creates the queue if needed (idempotent) with the house retry policy. */
  async define(queue: QueueDefinition): Promise<void> {
    if (this.defined.has(queue.name)) return;
    const options: PgBoss.Queue = {
      name: queue.name,
      retryLimit: queue.retryLimit ?? 5,
      retryDelay: queue.retryDelaySeconds ?? 5,
      retryBackoff: true,
      expireInSeconds: queue.expireInSeconds ?? 15 * 60,
      ...(queue.name === DEAD_LETTER_QUEUE ? {} : { deadLetter: DEAD_LETTER_QUEUE }),
    };
    const existing = await this.boss.getQueue(queue.name);
    if (existing) await this.boss.updateQueue(queue.name, options);
    else await this.boss.createQueue(queue.name, options);
    this.defined.add(queue.name);
  }

  async send<T extends object>(queue: string, data: T, options: SendOptions = {}): Promise<string | null> {
    const { db, ...jobOptions } = options;
    return this.boss.send(queue, data, db ? { ...jobOptions, db: db as PgBoss.Db } : jobOptions);
  }

  /** Enqueues many jobs in one statement (optionally inside a transaction). */
  async insert(queue: string, jobs: Array<{ id?: string; data: object; singletonKey?: string }>, db?: SqlExecutor): Promise<void> {
    if (jobs.length === 0) return;
    const rows = jobs.map((job) => ({ name: queue, ...job }));
    if (db) await this.boss.insert(rows, { db: db as PgBoss.Db });
    else await this.boss.insert(rows);
  }

  /** Processes jobs of a queue in this process until stop(). */
  async work<T>(queue: string, handler: JobHandler<T>, options: { batchSize?: number; pollingIntervalSeconds?: number } = {}): Promise<void> {
    await this.boss.work<T>(queue, { batchSize: options.batchSize ?? 1, pollingIntervalSeconds: options.pollingIntervalSeconds ?? 2 }, async (jobs) => {
      // pg-boss settles a batch as a whole: one throwing job would fail (and in the end dead-letter) the
      // jobs of its batch that succeeded or never ran. So each job that throws is failed on its own and
      // the batch goes on; pg-boss then completes the batch, which leaves already-failed jobs alone.
      for (const job of jobs) {
        try {
          await handler({ id: job.id, name: job.name, data: job.data });
        } catch (error) {
          await this.boss.fail(queue, job.id, error as object);
        }
      }
    });
  }

  async schedule(queue: string, cron: string, data: object = {}): Promise<void> {
    await this.boss.schedule(queue, cron, data, { tz: 'UTC' });
  }

  async queueSizes(): Promise<Record<string, number>> {
    const sizes: Record<string, number> = {};
    for (const name of this.defined) sizes[name] = await this.boss.getQueueSize(name);
    return sizes;
  }

  /** Inspection (tests, admin tools): a job by id with its state and retry count. */
  async getJob(queue: string, id: string): Promise<{ state: string; retryCount: number; data: unknown; output: unknown } | null> {
    const job = await this.boss.getJobById(queue, id);
    return job ? { state: job.state, retryCount: job.retryCount, data: job.data, output: job.output } : null;
  }

  async stop(timeoutMs = 10_000): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.boss.stop({ graceful: true, close: false, wait: true, timeout: Math.max(timeoutMs, 1000) });
  }
}
