import { index, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { createdAt } from '../db/columns.js';

/**
 * Outcomes of POSTs sent with an Idempotency-Key. Global (no tenant_id): the scope column binds a key to
 * the credential (tenant + user, API key, or client address) that used it, so nobody replays another's.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    fingerprint: text('fingerprint').notNull(),
    /** running → completed. A running row whose lock expired before its effect committed can be retried. */
    status: text('status', { enum: ['running', 'completed'] }).notNull(),
    lockedUntil: timestamp('locked_until', { withTimezone: true, mode: 'date' }).notNull(),
    /** Set inside the effect's own transaction, so "did it happen" is never ambiguous. */
    effectCommittedAt: timestamp('effect_committed_at', { withTimezone: true, mode: 'date' }),
    responseStatus: integer('response_status'),
    responseHeaders: jsonb('response_headers').$type<Record<string, string>>(),
    responseBody: text('response_body'),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [primaryKey({ name: 'idempotency_keys_pkey', columns: [t.scope, t.key] }), index('idempotency_keys_expires_idx').on(t.expiresAt)],
);
