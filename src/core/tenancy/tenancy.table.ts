/**
 * The tenancy backbone every other table hangs from: tenants, global user identities and the
 * memberships that join them. Row-level security for these lives in the custom migration
 * `tenant_isolation`.
 */
import { sql } from 'drizzle-orm';
import { check, foreignKey, index, pgTable, primaryKey, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, idColumn, tenantIdColumn, updatedAt } from '../db/columns.js';
import { RESERVED_SLUGS } from './slug.js';

export const tenantStatuses = ['active', 'suspended', 'closed'] as const;
export type TenantStatus = (typeof tenantStatuses)[number];

export const tenants = pgTable(
  'tenants',
  {
    id: idColumn().primaryKey(),
    name: text('name').notNull(),
    slug: text('slug').notNull(),
    status: text('status', { enum: tenantStatuses }).notNull().default('active'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('tenants_slug_key').on(t.slug),
    check('tenants_status_check', sql`${t.status} in ('active', 'suspended', 'closed')`),
    check('tenants_slug_format', sql`${t.slug} ~ '^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$' and position('--' in ${t.slug}) = 0`),
    check('tenants_slug_not_reserved', sql.raw(`slug not in (${RESERVED_SLUGS.map((s) => `'${s}'`).join(', ')})`)),
    check('tenants_name_length', sql`char_length(${t.name}) between 1 and 200`),
  ],
);

export const userStatuses = ['active', 'disabled'] as const;

/** Global identity: one person, many memberships. No tenant_id (DESIGN §5). */
export const users = pgTable(
  'users',
  {
    id: idColumn().primaryKey(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    status: text('status', { enum: userStatuses }).notNull().default('active'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    // Case-insensitive uniqueness: "Ann@x.io" and "ann@x.io" are one person.
    uniqueIndex('users_email_key').on(sql`lower(${t.email})`),
    check('users_status_check', sql`${t.status} in ('active', 'disabled')`),
  ],
);

export const membershipStatuses = ['active', 'deactivated'] as const;

export const memberships = pgTable(
  'memberships',
  {
    tenantId: tenantIdColumn(),
    userId: uuid('user_id').notNull(),
    status: text('status', { enum: membershipStatuses }).notNull().default('active'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ name: 'memberships_pkey', columns: [t.tenantId, t.userId] }),
    foreignKey({ name: 'memberships_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
    foreignKey({ name: 'memberships_user_fk', columns: [t.userId], foreignColumns: [users.id] }).onDelete('cascade'),
    index('memberships_tenant_status_idx').on(t.tenantId, t.status),
    check('memberships_status_check', sql`${t.status} in ('active', 'deactivated')`),
  ],
);
