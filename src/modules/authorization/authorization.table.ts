/**
 * Roles and who holds them. A member's built-in tenant role is `memberships.role` and their built-in role
 * in a store is `store_members.role` (being assigned to a store *is* holding a store role there); custom
 * roles are held through `role_assignments`, at tenant scope or in one store. Built-in roles also have a
 * row here, created with every tenant (trigger `tenants_builtin_roles`), so every role has an id.
 * Row-level security for both tables lives in the custom migration `authorization_isolation`.
 */
import { sql } from 'drizzle-orm';
import { check, foreignKey, index, pgTable, primaryKey, text, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, idColumn, tenantIdColumn, updatedAt } from '../../core/db/columns.js';
import { memberships, tenants, users } from '../../core/tenancy/tenancy.table.js';
import { storeMembers } from '../organization/organization.table.js';

export const roleScopes = ['tenant', 'store'] as const;
export type RoleScope = (typeof roleScopes)[number];

export const builtinRoleKeys = ['owner', 'admin', 'member', 'store_manager', 'store_staff'] as const;
export type BuiltinRoleKey = (typeof builtinRoleKeys)[number];

export const roles = pgTable(
  'roles',
  {
    tenantId: tenantIdColumn(),
    id: idColumn(),
    /** Set for the built-in roles (their permissions come from the catalog in code); null for custom roles. */
    key: text('key', { enum: builtinRoleKeys }),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    scope: text('scope', { enum: roleScopes }).notNull(),
    /** A custom role's permission keys (a built-in role's stay empty: the catalog decides them). */
    permissions: text('permissions').array().notNull().default(sql`'{}'::text[]`),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ name: 'roles_pkey', columns: [t.tenantId, t.id] }),
    foreignKey({ name: 'roles_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
    uniqueIndex('roles_name_key').on(t.tenantId, sql`lower(${t.name})`),
    uniqueIndex('roles_builtin_key').on(t.tenantId, t.key).where(sql`${t.key} is not null`),
    check('roles_scope_check', sql`${t.scope} in ('tenant', 'store')`),
    check('roles_name_length', sql`char_length(${t.name}) between 1 and 100`),
    check('roles_description_length', sql`char_length(${t.description}) <= 500`),
    check('roles_key_check', sql`${t.key} in ('owner', 'admin', 'member', 'store_manager', 'store_staff')`),
  ],
);

/**
 * A custom role held by a member: at tenant scope (`store_id` null) or in one store, where the person must
 * be assigned (removing them from the store removes their roles there).
 */
export const roleAssignments = pgTable(
  'role_assignments',
  {
    tenantId: tenantIdColumn(),
    id: idColumn(),
    userId: uuid('user_id').notNull(),
    roleId: uuid('role_id').notNull(),
    storeId: uuid('store_id'),
    assignedBy: uuid('assigned_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ name: 'role_assignments_pkey', columns: [t.tenantId, t.id] }),
    unique('role_assignments_holder_key').on(t.tenantId, t.userId, t.roleId, t.storeId).nullsNotDistinct(),
    foreignKey({ name: 'role_assignments_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
    foreignKey({ name: 'role_assignments_membership_fk', columns: [t.tenantId, t.userId], foreignColumns: [memberships.tenantId, memberships.userId] }).onDelete('cascade'),
    // A role still held cannot be deleted (the service reassigns or refuses first).
    foreignKey({ name: 'role_assignments_role_fk', columns: [t.tenantId, t.roleId], foreignColumns: [roles.tenantId, roles.id] }),
    foreignKey({
      name: 'role_assignments_store_member_fk',
      columns: [t.tenantId, t.storeId, t.userId],
      foreignColumns: [storeMembers.tenantId, storeMembers.storeId, storeMembers.userId],
    }).onDelete('cascade'),
    // Who holds a role (role deletion, member filter by role).
    index('role_assignments_role_idx').on(t.tenantId, t.roleId),
  ],
);
