/**
 * The tenancy backbone every other table hangs from: tenants, global user identities and the
 * memberships that join them. Row-level security for these lives in the custom migration
 * `tenant_isolation`.
 */
import { sql } from 'drizzle-orm';
import { bigint, check, foreignKey, index, jsonb, pgSequence, pgTable, pgView, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, idColumn, tenantIdColumn, updatedAt } from '../db/columns.js';
import { RESERVED_SLUGS } from './slug.js';

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const tenantStatuses = ['active', 'suspended', 'closed'] as const;
export type TenantStatus = (typeof tenantStatuses)[number];

export const tenants = pgTable(
  'tenants',
  {
    id: idColumn().primaryKey(),
    name: text('name').notNull(),
    slug: text('slug').notNull(),
    status: text('status', { enum: tenantStatuses }).notNull().default('active'),
    /** Validated by the organization module (TenantSettings); missing keys take their defaults. */
    settings: jsonb('settings').$type<Record<string, unknown>>().notNull().default({}),
    /** Why the platform suspended the tenant (shown to its members). */
    suspendedReason: text('suspended_reason'),
    /** When the tenant was closed; it is restorable until the purge job removes it. */
    closedAt: timestamptz('closed_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('tenants_slug_key').on(t.slug),
    check('tenants_closed_at_check', sql`(${t.status} = 'closed') = (${t.closedAt} is not null)`),
    check('tenants_status_check', sql`${t.status} in ('active', 'suspended', 'closed')`),
    check('tenants_slug_format', sql`${t.slug} ~ '^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$' and position('--' in ${t.slug}) = 0`),
    check('tenants_slug_not_reserved', sql.raw(`slug not in (${RESERVED_SLUGS.map((s) => `'${s}'`).join(', ')})`)),
    check('tenants_name_length', sql`char_length(${t.name}) between 1 and 200`),
  ],
);

export const userStatuses = ['active', 'disabled'] as const;

/** Platform-wide roles, separate from tenant roles; the bootstrap user is the first `platform_admin`. */
export const platformRoles = ['platform_admin', 'platform_operator'] as const;
export type PlatformRole = (typeof platformRoles)[number];


/** Global identity: one person, many memberships. No tenant_id (DESIGN §5). */
export const users = pgTable(
  'users',
  {
    id: idColumn().primaryKey(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    status: text('status', { enum: userStatuses }).notNull().default('active'),
    /** argon2id PHC string; null for a person who has never set a password. */
    passwordHash: text('password_hash'),
    passwordChangedAt: timestamptz('password_changed_at'),
    emailVerifiedAt: timestamptz('email_verified_at'),
    /** TOTP secret, encrypted at rest (AES-256-GCM, the user id as associated data). Set at setup, live once enabled. */
    totpSecret: text('totp_secret'),
    totpEnabledAt: timestamptz('totp_enabled_at'),
    /** The last accepted TOTP time step: a code is never accepted twice. */
    totpLastStep: bigint('totp_last_step', { mode: 'number' }),
    /** The tenant the person last acted in (a reference from a global table, so not named tenant_id). */
    lastTenantId: uuid('last_tenant_id').references(() => tenants.id, { onDelete: 'set null' }),
    platformRole: text('platform_role', { enum: platformRoles }),
    /** Profile: BCP 47 locale, IANA time zone, phone (E.164). */
    locale: text('locale'),
    timezone: text('timezone'),
    phone: text('phone'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    // Case-insensitive uniqueness: "Ann@x.io" and "ann@x.io" are one person.
    uniqueIndex('users_email_key').on(sql`lower(${t.email})`),
    check('users_status_check', sql`${t.status} in ('active', 'disabled')`),
    check('users_platform_role_check', sql`${t.platformRole} in ('platform_admin', 'platform_operator')`),
    // Finding whether a platform administrator exists (bootstrap) must not scan every user.
    index('users_platform_role_idx').on(t.platformRole).where(sql`${t.platformRole} is not null`),
  ],
);

export const membershipStatuses = ['active', 'deactivated'] as const;

/** Until the authorization issue brings the role catalog, a membership's role is one of these. */
export const membershipRoles = ['owner', 'admin', 'member'] as const;
export type MembershipRole = (typeof membershipRoles)[number];

/**
 * Versions of what a member may do: a membership's `authz_version` takes a new value of this sequence
 * whenever one of its custom role assignments, or the content of a role it holds, changes (triggers in
 * `authorization_isolation`). Values are never reused, so a cached permission set can never match a
 * later membership of the same person.
 */
export const authzVersionSeq = pgSequence('authz_version_seq');

export const memberships = pgTable(
  'memberships',
  {
    tenantId: tenantIdColumn(),
    userId: uuid('user_id').notNull(),
    status: text('status', { enum: membershipStatuses }).notNull().default('active'),
    role: text('role', { enum: membershipRoles }).notNull().default('member'),
    /** The person's job title in this tenant. */
    title: text('title'),
    /** Changes whenever the member's custom roles change: the key of the cached permission set. */
    authzVersion: bigint('authz_version', { mode: 'number' }).notNull().default(sql`nextval('authz_version_seq')`),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ name: 'memberships_pkey', columns: [t.tenantId, t.userId] }),
    // A person's memberships across tenants (sign-in, tenant switcher) without scanning every tenant.
    index('memberships_user_idx').on(t.userId, t.tenantId),
    // The member list's keyset order (join order), read straight from the index.
    index('memberships_tenant_created_idx').on(t.tenantId, t.createdAt, t.userId),
    foreignKey({ name: 'memberships_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
    foreignKey({ name: 'memberships_user_fk', columns: [t.userId], foreignColumns: [users.id] }).onDelete('cascade'),
    index('memberships_tenant_status_idx').on(t.tenantId, t.status),
    check('memberships_status_check', sql`${t.status} in ('active', 'deactivated')`),
    check('memberships_role_check', sql`${t.role} in ('owner', 'admin', 'member')`),
  ],
);

/**
 * The acting person's memberships across tenants, with each tenant (sign-in, tenant switcher, account
 * deletion): rows of `app.user_id` only. The one read that crosses tenants for a person (DESIGN §5): the
 * view runs as its owner, whose person-read policies (src/core/db/roles.ts) let it see them; the app
 * role's own policies stay tenant-only, so its tenant queries plan on the tenant's indexes.
 */
export const personMemberships = pgView('person_memberships', {
  tenantId: uuid('tenant_id').notNull(),
  userId: uuid('user_id').notNull(),
  role: text('role', { enum: membershipRoles }).notNull(),
  status: text('status', { enum: membershipStatuses }).notNull(),
  title: text('title'),
  createdAt: timestamptz('created_at').notNull(),
  tenantName: text('tenant_name').notNull(),
  tenantSlug: text('tenant_slug').notNull(),
  tenantStatus: text('tenant_status', { enum: tenantStatuses }).notNull(),
}).existing();
