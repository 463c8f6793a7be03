import { sql } from 'drizzle-orm';
import { check, foreignKey, index, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { idColumn, tenantIdColumn } from '../db/columns.js';
import { tenants } from '../tenancy/tenancy.table.js';

export const actorTypes = ['user', 'api_key', 'system', 'platform_admin'] as const;
export type ActorType = (typeof actorTypes)[number];

/** Append-only: the app role has INSERT and SELECT only (see db/roles.ts). */
export const auditEvents = pgTable(
  'audit_events',
  {
    tenantId: tenantIdColumn(),
    id: idColumn(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    actorType: text('actor_type', { enum: actorTypes }).notNull(),
    actorId: uuid('actor_id'),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    before: jsonb('before'),
    after: jsonb('after'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    requestId: text('request_id'),
    /** The platform administrator behind the actor, when the change was made while impersonating. */
    impersonatorId: uuid('impersonator_id'),
  },
  (t) => [
    primaryKey({ name: 'audit_events_pkey', columns: [t.tenantId, t.id] }),
    foreignKey({ name: 'audit_events_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
    index('audit_events_tenant_occurred_idx').on(t.tenantId, t.occurredAt.desc()),
    index('audit_events_tenant_action_idx').on(t.tenantId, t.action, t.occurredAt.desc()),
    check('audit_events_actor_type_check', sql`${t.actorType} in ('user', 'api_key', 'system', 'platform_admin')`),
  ],
);

/**
 * The platform's own audit trail: what platform administrators (and operators) did, across tenants.
 * A global table (no tenant_id, DESIGN §5): the tenant an action concerns is `target_tenant_id`, kept
 * without a foreign key so the trail outlives a purged tenant. Append-only, like `audit_events`.
 */
export const platformAuditEvents = pgTable(
  'platform_audit_events',
  {
    id: idColumn().primaryKey(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    actorId: uuid('actor_id'),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    targetTenantId: uuid('target_tenant_id'),
    details: jsonb('details'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    requestId: text('request_id'),
  },
  (t) => [
    index('platform_audit_events_occurred_idx').on(t.occurredAt.desc()),
    index('platform_audit_events_tenant_idx').on(t.targetTenantId, t.occurredAt.desc()),
  ],
);
