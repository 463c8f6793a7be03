/**
 * The rules every way of granting a role shares (role assignments, invitations, members created with
 * roles, store people): what a role grants, and that nobody grants a permission they do not hold.
 */
import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { Tx } from '../../core/db/database.js';
import { AppError } from '../../core/http/errors.js';
import type { Actor } from '../../core/http/request-context.js';
import { roleAssignments, roles } from './authorization.table.js';
import { grantScope, type CustomGrants } from './grants.js';
import { BUILTIN_ROLE_PERMISSIONS } from './permissions.js';

export type RoleRow = typeof roles.$inferSelect;

/** The permissions a role grants: the catalog's for a built-in role, its own list for a custom one. */
export function rolePermissions(role: Pick<RoleRow, 'key' | 'permissions'>): ReadonlySet<string> {
  return role.key ? BUILTIN_ROLE_PERMISSIONS[role.key] : new Set(role.permissions);
}

/** The tenant's roles among `ids` (unknown ids are simply absent). */
export async function findRoles(tx: Tx, tenantId: string, ids: readonly string[]): Promise<RoleRow[]> {
  if (ids.length === 0) return [];
  return tx
    .select()
    .from(roles)
    .where(and(eq(roles.tenantId, tenantId), inArray(roles.id, [...ids])));
}

/** The tenant's built-in role with `key`. */
export async function getBuiltinRole(tx: Tx, tenantId: string, key: NonNullable<RoleRow['key']>): Promise<RoleRow> {
  const [role] = await tx
    .select()
    .from(roles)
    .where(and(eq(roles.tenantId, tenantId), eq(roles.key, key)));
  if (!role) throw new Error(`tenant ${tenantId} has no built-in role ${key}`);
  return role;
}

/**
 * Refuses (403 `role.privilege_escalation`) unless the actor holds every one of `permissions`:
 * tenant-wide, or — for a grant in one store — in that store (while acting in it).
 */
export function assertCanGrant(actor: Actor, grants: CustomGrants, permissions: Iterable<string>, storeId: string | null = null): void {
  const inStore = storeId !== null && actor.storeId === storeId ? actor : { ...actor, storeId: undefined };
  const lacking = [...permissions].filter((permission) => grantScope(inStore, grants, permission) === null);
  if (lacking.length > 0) {
    throw new AppError('role.privilege_escalation', `You cannot grant permissions you do not hold yourself: ${lacking.join(', ')}.`);
  }
}

/**
 * The permissions a member holds tenant-wide through custom roles (their built-in tenant role's come
 * from the catalog), read in the caller's transaction.
 */
export async function findCustomTenantPermissions(tx: Tx, tenantId: string, userId: string): Promise<Set<string>> {
  const rows = await tx
    .select({ permissions: roles.permissions })
    .from(roleAssignments)
    .innerJoin(roles, and(eq(roles.tenantId, roleAssignments.tenantId), eq(roles.id, roleAssignments.roleId)))
    .where(and(eq(roleAssignments.tenantId, tenantId), eq(roleAssignments.userId, userId), isNull(roleAssignments.storeId)));
  return new Set(rows.flatMap((row) => row.permissions));
}

/**
 * Refuses (403 `role.privilege_escalation`) acting on the roles or standing of a member who holds,
 * tenant-wide, a permission the actor lacks: nobody demotes, deactivates or removes someone more
 * powerful than themselves.
 */
export async function assertHoldsEverythingOf(tx: Tx, actor: Actor, grants: CustomGrants, member: { userId: string; role: keyof typeof BUILTIN_ROLE_PERMISSIONS }): Promise<void> {
  const held = new Set([...BUILTIN_ROLE_PERMISSIONS[member.role], ...(await findCustomTenantPermissions(tx, actor.tenantId!, member.userId))]);
  const tenantWide = { ...actor, storeId: undefined };
  const lacking = [...held].filter((permission) => grantScope(tenantWide, grants, permission) !== 'tenant');
  if (lacking.length > 0) {
    throw new AppError('role.privilege_escalation', `This member holds permissions you do not hold (${lacking.join(', ')}): only someone who holds them may change their roles or standing.`);
  }
}
