/**
 * Roles chosen by id from the tenant's catalog where the organization module gives them: the roles of a
 * new member (invitations, `POST /users`) and the role given to a store's people (`POST /stores/:id/users`),
 * with the rule every way of granting shares (authorization's `assertCanGrant`): nobody grants a
 * permission they do not hold themselves (403 `role.privilege_escalation`).
 *
 * A new member's `roleIds` are tenant-scope roles: at most one built-in (`admin` or `member`: it becomes
 * `memberships.role`, default `member`; `owner` → 409 `role.owner_transfer_only`) and any custom ones
 * (held through `role_assignments`). A store-scope role there → 400 `role.scope_mismatch`; an id that is no
 * role of this tenant → 400 `request.validation_failed` naming `/roleIds/<i>` (a list field, named like
 * `storeIds`; another tenant's role id answers exactly the same).
 */
import type { FastifyRequest } from 'fastify';
import type { Tx } from '../../core/db/database.js';
import { AppError, type FieldError } from '../../core/http/errors.js';
import type { Actor } from '../../core/http/request-context.js';
import { assertCanGrant, BUILTIN_ROLE_PERMISSIONS, findRoles, grantScope, rolePermissions, type CustomGrants, type RoleRow } from '../authorization/index.js';
import type { StoreRole } from './organization.table.js';

/** Who grants: the member acting, with the custom grants the permission check read for this request. */
export interface Granter {
  actor: Actor;
  grants: CustomGrants;
}

/** The granter behind a tenant-permission route (the central check has set `request.grants`). */
export function granterOf(request: FastifyRequest): Granter {
  const { actor, grants } = request;
  if (!actor?.tenantId || !actor.userId || !grants) throw new AppError('auth.forbidden', 'This route needs a member’s access token.');
  return { actor, grants };
}

/** The built-in tenant roles a new member can be given (ownership moves only by transfer). */
export type BaseRole = 'admin' | 'member';

export interface NewMemberRoles {
  /** The built-in tenant role: `memberships.role`. */
  base: BaseRole;
  /** Custom tenant-scope roles, in request order, without repeats. */
  custom: RoleRow[];
}

const invalid = (detail: string, errors: FieldError[]) => new AppError('request.validation_failed', detail, { errors });
const bodyField = (field: string, message: string): FieldError => ({ in: 'body', field, message });

/**
 * Reads `roleIds` (and the older `role`, which must agree with a built-in role among them) against the
 * tenant's catalog: the new member's built-in role and custom roles. Refusals: see the top of this file.
 */
export async function resolveNewMemberRoles(tx: Tx, tenantId: string, input: { role?: BaseRole; roleIds?: string[] }): Promise<NewMemberRoles> {
  const requested = input.roleIds ?? [];
  const found = new Map((await findRoles(tx, tenantId, [...new Set(requested.map((id) => id.toLowerCase()))])).map((role) => [role.id, role]));
  const roles = requested.map((id) => found.get(id.toLowerCase()));

  const unknown = roles.flatMap((role, index) => (role ? [] : [bodyField(`/roleIds/${index}`, 'is not a role of this tenant')]));
  if (unknown.length > 0) throw invalid('The request is invalid: every roleIds entry must be a role of this tenant (GET /api/v1/roles).', unknown);
  const storeScoped = roles.flatMap((role, index) => (role!.scope === 'store' ? [bodyField(`/roleIds/${index}`, `${role!.name} is a store role`)] : []));
  if (storeScoped.length > 0) {
    throw new AppError('role.scope_mismatch', 'Store roles are held in a store: give them with POST /api/v1/stores/{id}/users (roleId) once the person has joined.', { errors: storeScoped });
  }
  if (roles.some((role) => role!.key === 'owner')) {
    throw new AppError('role.owner_transfer_only', 'Nobody joins as owner: ownership moves only by transfer (POST /api/v1/tenants/current/transfer-ownership).');
  }

  let base: { key: BaseRole; index: number } | null = null;
  const custom: RoleRow[] = [];
  for (const [index, role] of roles.entries()) {
    if (role!.key === null) {
      if (!custom.some((held) => held.id === role!.id)) custom.push(role!);
    } else if (base === null || base.key === role!.key) {
      base = { key: role!.key as BaseRole, index };
    } else {
      throw invalid('The request is invalid: a member holds one built-in tenant role (admin or member).', [bodyField(`/roleIds/${index}`, `is a second built-in role besides ${base.key}`)]);
    }
  }
  if (base && input.role !== undefined && input.role !== base.key) {
    throw invalid('The request is invalid: `role` and the built-in role in `roleIds` disagree.', [bodyField('/role', `does not match the built-in role in roleIds (${base.key})`)]);
  }
  return { base: base?.key ?? input.role ?? 'member', custom };
}

/**
 * Refuses (403 `role.privilege_escalation`) a new member whose roles — and, when they join stores, the
 * store_staff role there — hold a permission the granter lacks tenant-wide.
 */
export function assertCanGrantNewMember(granter: Granter, roles: NewMemberRoles, joinsStores: boolean): void {
  const permissions = new Set(BUILTIN_ROLE_PERMISSIONS[roles.base]);
  for (const role of roles.custom) for (const permission of rolePermissions(role)) permissions.add(permission);
  if (joinsStores) for (const permission of BUILTIN_ROLE_PERMISSIONS.store_staff) permissions.add(permission);
  assertCanGrant(granter.actor, granter.grants, permissions);
}

/**
 * Refuses (403 `role.privilege_escalation`) to take from people — by unassigning them from a store or
 * changing their role there — a permission the granter does not hold there themselves: as for granting,
 * only someone who holds what a role holds may take it away.
 */
export function assertCanTake(granter: Granter, permissions: Iterable<string>, storeId: string): void {
  const where = granter.actor.storeId === storeId ? granter.actor : { ...granter.actor, storeId: undefined };
  const lacking = [...new Set(permissions)].filter((permission) => grantScope(where, granter.grants, permission) === null);
  if (lacking.length > 0) {
    throw new AppError('role.privilege_escalation', `These people hold permissions in this store that you do not (${lacking.join(', ')}): only someone who holds them may take them away.`);
  }
}

/** The role `POST /stores/:id/users` gives: a built-in store role, or a custom store role (plus, maybe, a built-in one). */
export interface StoreRoleChoice {
  /** The built-in store role to set (`store_members.role`), when one is chosen. */
  storeRole?: StoreRole;
  /** A custom store-scope role to give in the store. */
  custom: RoleRow | null;
}

const isStoreRole = (key: RoleRow['key']): key is StoreRole => key === 'store_manager' || key === 'store_staff';

/**
 * Reads `roleId` (and the older `role`) of a store assignment: a store-scope role of the tenant (unknown or
 * another tenant's → 404 `role.not_found`; a tenant-scope role → 400 `role.scope_mismatch`). When `roleId`
 * names a built-in store role, `role` must name the same (400 naming `/role`).
 */
export async function resolveStoreRole(tx: Tx, tenantId: string, input: { role?: StoreRole; roleId?: string }): Promise<StoreRoleChoice> {
  if (input.roleId === undefined) return { storeRole: input.role, custom: null };
  const [role] = await findRoles(tx, tenantId, [input.roleId]);
  if (!role) throw new AppError('role.not_found', 'This tenant has no role with this id (roleId).');
  if (role.scope !== 'store') {
    throw new AppError('role.scope_mismatch', `${role.name} is a tenant-wide role: give it with POST /api/v1/users/{id}/roles, not in a store.`, {
      errors: [bodyField('/roleId', 'is a tenant-wide role')],
    });
  }
  if (isStoreRole(role.key)) {
    if (input.role !== undefined && input.role !== role.key) throw invalid('The request is invalid: `role` and `roleId` disagree.', [bodyField('/role', `does not match roleId (${role.key})`)]);
    return { storeRole: role.key, custom: null };
  }
  return { storeRole: input.role, custom: role };
}
