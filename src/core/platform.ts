/**
 * The running infrastructure one process needs — database, Redis, jobs, events — opened from config and
 * closed in reverse order. `buildApp` serves HTTP on top of it; `atrium worker` runs jobs on it.
 */
import type { PGlite } from '@electric-sql/pglite';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { createRateCounter, type RateCounter } from './cache/rate-counter.js';
import type { Database } from './db/database.js';
import type { Entitlements } from './tenancy/entitlements.js';
import { openDatabase } from './db/open.js';
import { EventBus } from './events/events.js';
import { startIdempotencyPurge } from './http/idempotency.js';
import { JobQueue } from './jobs/jobs.js';
import { createMailer, defineMailQueue, queueMail, workMailQueue, type MailMessage, type Mailer, type QueueMailOptions } from './mail/mailer.js';

export interface Platform {
  config: Config;
  db: Database;
  redis?: Redis;
  /** Fixed-window counters (rate limits, attempt counters): on Redis when configured, shared by every process. */
  counters: RateCounter;
  jobs: JobQueue;
  events: EventBus;
  logger: Logger;
  /** Sends now: SMTP when SMTP_URL is set, else the database outbox. Most callers want `queueMail`. */
  mailer: Mailer;
  /** Enqueues a mail for the worker; pass `{ db: executor }` to send it only if that transaction commits. Returns the mail id. */
  queueMail(message: MailMessage, options?: QueueMailOptions): Promise<string>;
  /**
   * Plan limits and the signup subscription, for the modules that create tenants, members and stores.
   * Implemented by the billing module and set by `buildApp` (core never imports modules); until then
   * every call throws.
   */
  entitlements: Entitlements;
  /** Starts consuming jobs and relaying events in this process. */
  startWorker(): Promise<void>;
  close(): Promise<void>;
}

const notWired = () => Promise.reject(new Error('Entitlements are not wired: buildApp sets platform.entitlements (billing module).'));
const entitlementsNotWired: Entitlements = { startSubscription: notWired, assertWithinLimit: notWired };

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
      const client = redis;
      // Registered before connecting: a client that never connected still reconnects in the background
      // and must be stopped. QUIT would wait for a connection that may never come, so it is only sent
      // to a connected client.
      closers.unshift(async () => (client.status === 'ready' ? client.quit().catch(() => client.disconnect()) : client.disconnect()));
      // Redis holds shared counters and caches, not data: an API that cannot reach it at boot still
      // starts (ioredis keeps reconnecting), and /health/ready reports it down until it answers.
      await client.connect().catch((error: Error) => logger.error({ err: error }, 'redis is unreachable; retrying in the background'));
    }

    const jobs = new JobQueue({ database: db, supervise: config.worker.inProcess, onError: (error) => logger.error({ err: error }, 'job queue error') });
    await jobs.start();
    const mailer = createMailer({ db, logger, smtpUrl: config.mail.smtpUrl, from: config.mail.from });
    closers.unshift(() => mailer.close());
    const events = new EventBus(db, jobs);
    closers.unshift(
      () => events.stop(),
      () => jobs.stop(config.http.shutdownTimeoutMs),
    );
    await defineMailQueue(jobs);

    return {
      config,
      db,
      redis,
      counters: createRateCounter(redis, { prefix: config.redisKeyPrefix }),
      jobs,
      events,
      logger,
      mailer,
      queueMail: (message, queueOptions) => queueMail(jobs, message, queueOptions),
      entitlements: entitlementsNotWired,
      startWorker: async () => {
        await workMailQueue(jobs, mailer);
        await startIdempotencyPurge(jobs, db);
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
