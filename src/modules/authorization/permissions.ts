/**
 * The permission catalog (code, not data: routes name these keys) and what each built-in role holds.
 *
 * A permission's scope says where it can be granted: `tenant` permissions only tenant-wide, `store`
 * permissions tenant-wide too or in one store (through a store role), where they hold only while the
 * request acts in that store (X-Store-ID). Built-in roles are computed from this catalog, so a permission
 * added here reaches the owner (and the admin, unless excluded) of every tenant at once.
 */
import type { BuiltinRoleKey, RoleScope } from './authorization.table.js';

export interface PermissionDefinition {
  description: string;
  group: string;
  scope: RoleScope;
}

export const PERMISSIONS = {
  'tenant.view': { group: 'Tenant', scope: 'tenant', description: 'See the tenant and leave it.' },
  'tenant.manage': { group: 'Tenant', scope: 'tenant', description: 'Rename the tenant and change its slug.' },
  'tenant.delete': { group: 'Tenant', scope: 'tenant', description: 'Close the tenant.' },
  'tenant.transfer': { group: 'Tenant', scope: 'tenant', description: 'Hand the ownership to another member.' },
  'settings.manage': { group: 'Tenant', scope: 'tenant', description: 'Change the tenant settings (locale, branding, security policy).' },
  'users.view': { group: 'Members', scope: 'tenant', description: 'See the members of the tenant and their roles.' },
  'users.manage': { group: 'Members', scope: 'tenant', description: 'Create, invite, change, deactivate and remove members, and assign their roles.' },
  'roles.view': { group: 'Roles', scope: 'tenant', description: 'See the roles of the tenant and the permission catalog.' },
  'roles.manage': { group: 'Roles', scope: 'tenant', description: 'Create, change and delete custom roles.' },
  'stores.view': { group: 'Stores', scope: 'store', description: 'See stores (in a store role: that store).' },
  'stores.manage': { group: 'Stores', scope: 'tenant', description: 'Create, delete and restore stores, move the headquarters, and act in any store.' },
  'stores.update': { group: 'Stores', scope: 'store', description: 'Change a store’s details and settings (in a store role: that store).' },
  'store_people.manage': { group: 'Stores', scope: 'store', description: 'Assign people to a store and set their store roles (in a store role: that store).' },
  'billing.view': { group: 'Billing', scope: 'tenant', description: 'See the plan, usage, invoices and payments.' },
  'billing.manage': { group: 'Billing', scope: 'tenant', description: 'Change the plan, cancel, and manage payment methods.' },
  'audit.view': { group: 'Audit', scope: 'tenant', description: 'Read the audit log.' },
  'audit.export': { group: 'Audit', scope: 'tenant', description: 'Export the audit log.' },
} as const satisfies Record<string, PermissionDefinition>;

export type Permission = keyof typeof PERMISSIONS;

export const ALL_PERMISSIONS = Object.keys(PERMISSIONS) as Permission[];

/** Whether `key` names a permission of the catalog. */
export function isPermission(key: string): key is Permission {
  return Object.hasOwn(PERMISSIONS, key);
}

/** Permissions only the owner holds among the built-in roles. */
const OWNER_ONLY: readonly Permission[] = ['billing.manage', 'tenant.delete', 'tenant.transfer'];

export const BUILTIN_ROLE_PERMISSIONS: Record<BuiltinRoleKey, ReadonlySet<string>> = {
  owner: new Set(ALL_PERMISSIONS),
  admin: new Set(ALL_PERMISSIONS.filter((permission) => !OWNER_ONLY.includes(permission))),
  member: new Set<Permission>(['tenant.view', 'users.view', 'roles.view', 'stores.view']),
  store_manager: new Set<Permission>(['stores.view', 'stores.update', 'store_people.manage']),
  store_staff: new Set<Permission>(['stores.view']),
};

/**
 * Platform permissions: held through `users.platform_role`, never through a tenant role. They guard the
 * `/api/v1/admin` routes; operators (read-only support) only see.
 */
export const PLATFORM_PERMISSIONS = {
  'platform.view': 'See tenants, people, statistics and the platform audit trail.',
  'platform.tenants.manage': 'Create, change, suspend, close and restore tenants.',
  'platform.users.manage': 'Disable and enable people platform-wide.',
  'platform.staff.manage': 'Grant and revoke platform roles.',
  'platform.impersonate': 'Act as a member of a tenant, for a reason and a limited time.',
  'platform.plans.manage': 'Create, change and archive plans.',
} as const;

export type PlatformPermission = keyof typeof PLATFORM_PERMISSIONS;

const PLATFORM_ROLE_PERMISSIONS: Record<'platform_admin' | 'platform_operator', ReadonlySet<string>> = {
  platform_admin: new Set(Object.keys(PLATFORM_PERMISSIONS)),
  platform_operator: new Set<PlatformPermission>(['platform.view']),
};

/** Whether `permission` is a platform permission (checked against the platform role, not a tenant). */
export function isPlatformPermission(permission: string): permission is PlatformPermission {
  return Object.hasOwn(PLATFORM_PERMISSIONS, permission);
}

/** Whether a person with `platformRole` holds the platform permission. */
export function platformRoleHas(platformRole: 'platform_admin' | 'platform_operator' | undefined | null, permission: string): boolean {
  return platformRole ? PLATFORM_ROLE_PERMISSIONS[platformRole].has(permission) : false;
}
