import { sql } from 'drizzle-orm';
import { foreignKey, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { createdAt, idColumn, tenantIdColumn } from '../db/columns.js';
import { tenants } from '../tenancy/tenancy.table.js';

/**
 * Transactional outbox: a domain event is a row written in the same transaction as the change; the relay
 * claims unpublished rows with FOR UPDATE SKIP LOCKED and hands them to pg-boss.
 */
export const outboxEvents = pgTable(
  'outbox_events',
  {
    tenantId: tenantIdColumn(),
    id: idColumn(),
    type: text('type').notNull(),
    payload: jsonb('payload').notNull(),
    createdAt: createdAt(),
    publishedAt: timestamp('published_at', { withTimezone: true, mode: 'date' }),
    attempts: integer('attempts').notNull().default(0),
  },
  (t) => [
    primaryKey({ name: 'outbox_events_pkey', columns: [t.tenantId, t.id] }),
    foreignKey({ name: 'outbox_events_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
    // Small partial index: only what the relay still has to publish.
    index('outbox_events_unpublished_idx').on(t.tenantId, t.id).where(sql`${t.publishedAt} is null`),
  ],
);

/** One row per (consumer, event) handled: makes every consumer idempotent under redelivery. */
export const eventReceipts = pgTable(
  'event_receipts',
  {
    tenantId: tenantIdColumn(),
    consumer: text('consumer').notNull(),
    eventId: uuid('event_id').notNull(),
    processedAt: timestamp('processed_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'event_receipts_pkey', columns: [t.tenantId, t.consumer, t.eventId] }),
    foreignKey({ name: 'event_receipts_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
  ],
);
