import { index, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { createdAt, idColumn } from '../db/columns.js';

/**
 * Every message the mailer handles. In embedded mode (no SMTP_URL) this table *is* the mailbox
 * (`atrium mail list`); with SMTP it is the delivery log.
 */
export const mailMessages = pgTable(
  'mail_messages',
  {
    id: idColumn().primaryKey(),
    to: text('to').notNull(),
    from: text('from').notNull(),
    subject: text('subject').notNull(),
    text: text('text').notNull(),
    html: text('html'),
    transport: text('transport', { enum: ['outbox', 'smtp'] }).notNull(),
    status: text('status', { enum: ['stored', 'sent', 'failed'] }).notNull(),
    providerMessageId: text('provider_message_id'),
    error: text('error'),
    createdAt: createdAt(),
    sentAt: timestamp('sent_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [index('mail_messages_created_idx').on(t.createdAt.desc())],
);
