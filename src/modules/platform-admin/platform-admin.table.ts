/**
 * Impersonations: a platform administrator acting as a member of a tenant, for a reason and a bounded
 * time. Each one is backed by an ordinary session of the impersonated person (`sessions.impersonator_id`
 * set, no refresh token), so ending it early is revoking that session. A global table: the tenant is
 * `target_tenant_id` (DESIGN §5).
 */
import { sql } from 'drizzle-orm';
import { check, index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { createdAt, idColumn } from '../../core/db/columns.js';
import { tenants, users } from '../../core/tenancy/tenancy.table.js';
import { sessions } from '../identity/identity.table.js';

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const impersonations = pgTable(
  'impersonations',
  {
    id: idColumn().primaryKey(),
    adminId: uuid('admin_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    targetTenantId: uuid('target_tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    sessionId: uuid('session_id').references(() => sessions.id, { onDelete: 'set null' }),
    reason: text('reason').notNull(),
    createdAt: createdAt(),
    expiresAt: timestamptz('expires_at').notNull(),
    endedAt: timestamptz('ended_at'),
    endedBy: uuid('ended_by').references(() => users.id, { onDelete: 'set null' }),
  },
  (t) => [
    index('impersonations_admin_idx').on(t.adminId, t.createdAt.desc()),
    index('impersonations_tenant_idx').on(t.targetTenantId, t.createdAt.desc()),
    check('impersonations_reason_length', sql`char_length(${t.reason}) between 3 and 500`),
  ],
);
