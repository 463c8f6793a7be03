/**
 * What a tenant is made of beyond its members: stores (branches, locations), who works in which store,
 * and invitations. Every table leads its keys with tenant_id, and references between them are composite
 * on it, so no row can point at another tenant's store or member (DESIGN §5). Row-level security for
 * these lives in the custom migration `organization_isolation`.
 */
import { sql } from 'drizzle-orm';
import { boolean, check, foreignKey, index, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, idColumn, tenantIdColumn, updatedAt } from '../../core/db/columns.js';
import { memberships, membershipRoles, tenants, users } from '../../core/tenancy/tenancy.table.js';

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export interface StoreAddress {
  line1?: string;
  line2?: string;
  city?: string;
  region?: string;
  postalCode?: string;
  /** ISO 3166-1 alpha-2. */
  country?: string;
}

export const stores = pgTable(
  'stores',
  {
    tenantId: tenantIdColumn(),
    id: idColumn(),
    name: text('name').notNull(),
    /** Short code, unique among the tenant's live stores (case-insensitive). */
    code: text('code').notNull(),
    address: jsonb('address').$type<StoreAddress>().notNull().default({}),
    phone: text('phone'),
    email: text('email'),
    timezone: text('timezone'),
    isHeadquarters: boolean('is_headquarters').notNull().default(false),
    /** Overrides of tenant settings and store-only settings (StoreSettings). */
    settings: jsonb('settings').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    /** Soft delete: restorable with POST /stores/:id/restore. */
    deletedAt: timestamptz('deleted_at'),
  },
  (t) => [
    primaryKey({ name: 'stores_pkey', columns: [t.tenantId, t.id] }),
    foreignKey({ name: 'stores_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
    uniqueIndex('stores_code_key').on(t.tenantId, sql`lower(${t.code})`).where(sql`${t.deletedAt} is null`),
    // At most one live headquarters per tenant; "exactly one once any store exists" is kept by the service.
    uniqueIndex('stores_one_headquarters').on(t.tenantId).where(sql`${t.isHeadquarters} and ${t.deletedAt} is null`),
    index('stores_tenant_name_idx').on(t.tenantId, sql`lower(${t.name})`),
    check('stores_name_length', sql`char_length(${t.name}) between 1 and 200`),
    check('stores_code_format', sql`${t.code} ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$'`),
  ],
);

export const storeRoles = ['store_manager', 'store_staff'] as const;
export type StoreRole = (typeof storeRoles)[number];

/** A member assigned to a store (store context: X-Store-ID is accepted for them in that store). */
export const storeMembers = pgTable(
  'store_members',
  {
    tenantId: tenantIdColumn(),
    storeId: uuid('store_id').notNull(),
    userId: uuid('user_id').notNull(),
    /** The person's built-in store role here (custom store roles: role_assignments with this store). */
    role: text('role', { enum: storeRoles }).notNull().default('store_staff'),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ name: 'store_members_pkey', columns: [t.tenantId, t.storeId, t.userId] }),
    foreignKey({ name: 'store_members_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
    foreignKey({ name: 'store_members_store_fk', columns: [t.tenantId, t.storeId], foreignColumns: [stores.tenantId, stores.id] }).onDelete('cascade'),
    foreignKey({ name: 'store_members_membership_fk', columns: [t.tenantId, t.userId], foreignColumns: [memberships.tenantId, memberships.userId] }).onDelete('cascade'),
    // "Which stores is this person assigned to" (store context, member filters).
    index('store_members_user_idx').on(t.tenantId, t.userId),
    check('store_members_role_check', sql`${t.role} in ('store_manager', 'store_staff')`),
  ],
);

export const invitations = pgTable(
  'invitations',
  {
    tenantId: tenantIdColumn(),
    id: idColumn(),
    email: text('email').notNull(),
    /**
     * The built-in tenant role the invitee gets. `owner` only for the first owner of a tenant created by
     * platform administration (it has no owner yet); otherwise ownership moves only by transfer.
     */
    role: text('role', { enum: membershipRoles }).notNull().default('member'),
    /** Stores the invitee is assigned to on acceptance (checked again then: a store may be gone). */
    storeIds: uuid('store_ids').array().notNull().default(sql`'{}'::uuid[]`),
    /** Custom tenant roles the invitee gets on acceptance (those deleted since are skipped). */
    roleIds: uuid('role_ids').array().notNull().default(sql`'{}'::uuid[]`),
    message: text('message'),
    /** SHA-256 (hex) of the emailed token. */
    tokenHash: text('token_hash').notNull(),
    invitedBy: uuid('invited_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    expiresAt: timestamptz('expires_at').notNull(),
    acceptedAt: timestamptz('accepted_at'),
    acceptedBy: uuid('accepted_by').references(() => users.id, { onDelete: 'set null' }),
    revokedAt: timestamptz('revoked_at'),
  },
  (t) => [
    primaryKey({ name: 'invitations_pkey', columns: [t.tenantId, t.id] }),
    foreignKey({ name: 'invitations_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
    // One pending invitation per address and tenant (a new invite replaces the old one's token).
    uniqueIndex('invitations_pending_email_key').on(t.tenantId, sql`lower(${t.email})`).where(sql`${t.acceptedAt} is null and ${t.revokedAt} is null`),
    // The emailed token names its tenant (`<tenantId>.<secret>`), so acceptance looks it up inside that tenant.
    uniqueIndex('invitations_token_key').on(t.tenantId, t.tokenHash),
    check('invitations_role_check', sql`${t.role} in ('owner', 'admin', 'member')`),
  ],
);
