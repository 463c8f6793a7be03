/**
 * The running infrastructure one process needs — database, Redis, jobs, events — opened from config and
 * closed in reverse order. `buildApp` serves HTTP on top of it; `atrium worker` runs jobs on it.
 */
import type { PGlite } from '@electric-sql/pglite';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Database } from './db/database.js';
import { openDatabase } from './db/open.js';
import { EventBus } from './events/events.js';
import { JobQueue } from './jobs/jobs.js';

export interface Platform {
  config: Config;
  db: Database;
  redis?: Redis;
  jobs: JobQueue;
  events: EventBus;
  logger: Logger;
  /** Starts consuming jobs and relaying events in this process. */
  startWorker(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenPlatformOptions {
  logger: Logger;
  /** Tests: an already migrated PGlite instance. */
  pglite?: PGlite;
  migrate?: boolean;
}

export async function openPlatform(config: Config, options: OpenPlatformOptions): Promise<Platform> {
  const { logger } = options;
  const db = await openDatabase(config, {
    pglite: options.pglite,
    migrate: options.migrate,
    onPoolError: (error) => logger.error({ err: error }, 'idle database connection failed'),
  });

  let redis: Redis | undefined;
  const closers: Array<() => Promise<unknown>> = [() => db.close()];
  try {
    if (config.redisUrl) {
      redis = new Redis(config.redisUrl, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 1, enableAutoPipelining: true });
      redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
      await redis.connect();
      closers.unshift(() => redis!.quit().catch(() => redis!.disconnect()));
    }

    const jobs = new JobQueue({ database: db, supervise: config.worker.inProcess, onError: (error) => logger.error({ err: error }, 'job queue error') });
    await jobs.start();
    const events = new EventBus(db, jobs);
    closers.unshift(
      () => events.stop(),
      () => jobs.stop(config.http.shutdownTimeoutMs),
    );

    return {
      config,
      db,
      redis,
      jobs,
      events,
      logger,
      startWorker: async () => {
        await events.start(config.worker.outboxPollMs, (error) => logger.error({ err: error }, 'outbox relay failed'));
      },
      close: async () => {
        for (const close of closers) await close().catch((error) => logger.error({ err: error }, 'shutdown step failed'));
      },
    };
  } catch (error) {
    for (const close of closers) await close().catch(() => undefined);
    throw error;
  }
}
