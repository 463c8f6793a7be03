/**
 * The interim permission catalog: what each membership role may do, until the authorization issue brings
 * the full catalog, custom roles and store-scoped grants. Routes already name these permissions, so only
 * this table changes then.
 */
import type { MembershipRole } from '../../core/tenancy/tenancy.table.js';

export const PERMISSIONS = {
  'tenant.view': 'See the tenant, its members list entry and leave it.',
  'tenant.manage': 'Rename the tenant and change its slug.',
  'tenant.delete': 'Close the tenant.',
  'tenant.transfer': 'Hand the ownership to another member.',
  'settings.manage': 'Change the tenant settings.',
  'users.view': 'See the members of the tenant.',
  'users.manage': 'Create, invite, change and remove members.',
  'stores.view': 'See the stores.',
  'stores.manage': 'Create, change and delete stores, their settings and who works there.',
} as const;

export type Permission = keyof typeof PERMISSIONS;

const everything = Object.keys(PERMISSIONS) as Permission[];

const ROLE_PERMISSIONS: Record<MembershipRole, ReadonlySet<string>> = {
  owner: new Set(everything),
  admin: new Set(everything.filter((permission) => permission !== 'tenant.delete' && permission !== 'tenant.transfer')),
  member: new Set<Permission>(['tenant.view', 'users.view', 'stores.view']),
};

/** Whether a member with `role` holds `permission`. */
export function roleHasPermission(role: MembershipRole, permission: string): boolean {
  return ROLE_PERMISSIONS[role].has(permission);
}

/** Roles with tenant-wide access: they may act in any store of the tenant (X-Store-ID). */
export function hasTenantWideAccess(role: MembershipRole): boolean {
  return role === 'owner' || role === 'admin';
}
