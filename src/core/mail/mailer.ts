/**
 * The mailer: one interface, two transports (DESIGN §1, §2).
 *
 * - SMTP (`SMTP_URL` set): nodemailer delivers the message and `mail_messages` is the delivery log
 *   (`sent` with the provider's message id, or `failed` with the error).
 * - Outbox (embedded default): the message is only stored (`stored`) and read with `atrium mail list` /
 *   `atrium mail show <id>`; the log line names recipient and subject so a developer can follow along.
 *
 * Callers normally do not send directly: `queueMail` enqueues a `mail.send` job, optionally inside their
 * own transaction, so an email goes out exactly when the change that caused it commits, and a failed
 * delivery is retried with backoff by the job queue.
 */
import { desc, eq } from 'drizzle-orm';
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { Database, SqlExecutor } from '../db/database.js';
import { isUuid, uuidv7 } from '../db/ids.js';
import { AppError } from '../http/errors.js';
import type { JobQueue } from '../jobs/jobs.js';
import { mailMessages } from './mail.table.js';

export interface MailMessage {
  to: string;
  subject: string;
  /** The plain-text part; every mail has one. */
  text: string;
  html?: string;
}

export type MailTransport = 'smtp' | 'outbox';

export interface SentMail {
  /** The `mail_messages` row id. */
  id: string;
  transport: MailTransport;
  /** `sent`: accepted by the SMTP server; `stored`: kept in the outbox. Failures throw. */
  status: 'sent' | 'stored';
}

export interface SendMailOptions {
  /**
   * Row id (UUID). Sending an id that was already sent or stored does nothing and returns the earlier
   * outcome, so a retried job never mails twice; an id that failed before is attempted again.
   */
  id?: string;
}

export interface Mailer {
  readonly transport: MailTransport;
  send(message: MailMessage, options?: SendMailOptions): Promise<SentMail>;
  close(): Promise<void>;
}

export interface MailerOptions {
  db: Database;
  logger: Logger;
  /** From header of every message (MAIL_FROM). */
  from: string;
}

export type MailRecord = typeof mailMessages.$inferSelect;

/** Longest error text kept on a failed row: enough for the SMTP reply, bounded against huge stacks. */
const MAX_ERROR_LENGTH = 2000;

function resolveId(options: SendMailOptions): string {
  if (options.id === undefined) return uuidv7();
  if (!isUuid(options.id)) throw new TypeError('mail id must be a UUID');
  return options.id;
}

async function findDelivered(db: Database, id: string): Promise<MailRecord | null> {
  const [row] = await db.transaction({}, (tx) => tx.select().from(mailMessages).where(eq(mailMessages.id, id)));
  return row && row.status !== 'failed' ? row : null;
}

/** Writes the outcome of one attempt; a retry of the same id overwrites the earlier failure. */
async function recordAttempt(db: Database, attempt: Omit<typeof mailMessages.$inferInsert, 'createdAt'> & { id: string }): Promise<void> {
  const { id: _id, ...outcome } = attempt;
  await db.transaction({}, (tx) =>
    tx
      .insert(mailMessages)
      .values(attempt)
      .onConflictDoUpdate({ target: mailMessages.id, set: { providerMessageId: null, error: null, sentAt: null, ...outcome } }),
  );
}

/** Delivers over SMTP with nodemailer; every attempt is recorded in `mail_messages`. */
export function createSmtpMailer(options: MailerOptions & { smtpUrl: string }): Mailer {
  const { db, logger, from } = options;
  // nodemailer's defaults wait minutes on a silent server; a job should fail fast and retry instead.
  // Other settings (pool=true, tls, auth) come from the URL's query string, which nodemailer parses.
  const transporter = nodemailer.createTransport({ url: options.smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 60_000 });

  return {
    transport: 'smtp',
    async send(message, sendOptions = {}) {
      const id = resolveId(sendOptions);
      const earlier = sendOptions.id ? await findDelivered(db, id) : null;
      if (earlier) return { id, transport: earlier.transport, status: earlier.status === 'stored' ? 'stored' : 'sent' };

      const row = { id, from, to: message.to, subject: message.subject, text: message.text, html: message.html ?? null, transport: 'smtp' as const };
      let providerMessageId: string;
      try {
        const info = await transporter.sendMail({ from, to: message.to, subject: message.subject, text: message.text, html: message.html });
        providerMessageId = info.messageId;
      } catch (error) {
        logger.warn({ err: error, mailId: id, to: message.to, subject: message.subject }, 'mail delivery failed');
        const detail = ((error as Error).message || String(error)).slice(0, MAX_ERROR_LENGTH);
        // The delivery error is what the job must see (and retry on), even if recording it fails too.
        await recordAttempt(db, { ...row, status: 'failed', error: detail }).catch((recordError: unknown) =>
          logger.error({ err: recordError, mailId: id }, 'could not record failed mail'),
        );
        throw error;
      }
      await recordAttempt(db, { ...row, status: 'sent', providerMessageId, sentAt: new Date() });
      logger.info({ mailId: id, to: message.to, subject: message.subject, providerMessageId }, 'mail sent');
      return { id, transport: 'smtp', status: 'sent' };
    },
    close: async () => transporter.close(),
  };
}

/** Embedded mode: keeps every message in `mail_messages`; nothing leaves the machine. */
export function createOutboxMailer(options: MailerOptions): Mailer {
  const { db, logger, from } = options;
  return {
    transport: 'outbox',
    async send(message, sendOptions = {}) {
      const id = resolveId(sendOptions);
      const inserted = await db.transaction({}, (tx) =>
        tx
          .insert(mailMessages)
          .values({ id, from, to: message.to, subject: message.subject, text: message.text, html: message.html ?? null, transport: 'outbox', status: 'stored' })
          .onConflictDoNothing({ target: mailMessages.id })
          .returning({ id: mailMessages.id }),
      );
      // Never the body: it carries sign-in links and tokens.
      if (inserted.length > 0) logger.info({ mailId: id, to: message.to, subject: message.subject }, 'mail stored in outbox (atrium mail show <id>)');
      return { id, transport: 'outbox', status: 'stored' };
    },
    close: async () => undefined,
  };
}

/** SMTP when a URL is configured, the database outbox otherwise. */
export function createMailer(options: MailerOptions & { smtpUrl?: string }): Mailer {
  return options.smtpUrl ? createSmtpMailer({ ...options, smtpUrl: options.smtpUrl }) : createOutboxMailer(options);
}

// ---------------------------------------------------------------------------------------------------
// The mail queue

export const MAIL_QUEUE = 'mail.send';

interface MailJob {
  mailId: string;
  message: MailMessage;
}

export interface QueueMailOptions {
  /** The executor of the caller's unit of work: the job exists only if that transaction commits. */
  db?: SqlExecutor;
}

/**
 * Creates the `mail.send` queue. Retries span about 40 minutes (10 s doubling, 8 times) so a short SMTP
 * outage delays mail instead of dead-lettering it.
 */
export async function defineMailQueue(jobs: JobQueue): Promise<void> {
  await jobs.define({ name: MAIL_QUEUE, retryLimit: 8, retryDelaySeconds: 10, expireInSeconds: 5 * 60 });
}

/**
 * Enqueues a message for the worker and returns its mail id (also the job id and, once handled, the
 * `mail_messages` row id).
 */
export async function queueMail(jobs: JobQueue, message: MailMessage, options: QueueMailOptions = {}): Promise<string> {
  const mailId = uuidv7();
  const data: MailJob = { mailId, message: { to: message.to, subject: message.subject, text: message.text, ...(message.html ? { html: message.html } : {}) } };
  await jobs.send(MAIL_QUEUE, data, { id: mailId, db: options.db });
  return mailId;
}

/**
 * Processes `mail.send` jobs in this process. A failed delivery throws, so the job retries; the mail id
 * makes a retry after a partial success (sent, then the job failed) a no-op.
 */
export async function workMailQueue(jobs: JobQueue, mailer: Mailer): Promise<void> {
  await jobs.work<MailJob>(
    MAIL_QUEUE,
    async (job) => {
      await mailer.send(job.data.message, { id: job.data.mailId });
    },
    { batchSize: 5, pollingIntervalSeconds: 1 },
  );
}

// ---------------------------------------------------------------------------------------------------
// Reading the mailbox (CLI, tests)

/** Newest first. `limit` is clamped to 1..100 (default 20). */
export async function listMail(db: Database, options: { limit?: number } = {}): Promise<MailRecord[]> {
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? 20), 1), 100);
  return db.transaction({}, (tx) => tx.select().from(mailMessages).orderBy(desc(mailMessages.createdAt), desc(mailMessages.id)).limit(limit));
}

/** One message by id, or null (also for a malformed id). */
export async function findMail(db: Database, id: string): Promise<MailRecord | null> {
  if (!isUuid(id)) return null;
  const [row] = await db.transaction({}, (tx) => tx.select().from(mailMessages).where(eq(mailMessages.id, id)));
  return row ?? null;
}

/** One message by id; throws `resource.not_found`. */
export async function getMail(db: Database, id: string): Promise<MailRecord> {
  const row = await findMail(db, id);
  if (!row) throw new AppError('resource.not_found', `No mail with id ${id}.`);
  return row;
}
