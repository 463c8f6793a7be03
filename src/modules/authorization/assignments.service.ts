/**
 * Who holds which role: listing a member's roles, giving and taking roles, and the caller's own
 * effective permissions.
 *
 * Kinds of role, and what giving one does:
 * - built-in tenant role (`admin`, `member`): sets `memberships.role` — a member holds exactly one, so the
 *   old one is replaced, and it cannot be taken away (409 `role.base_role_required`). `owner` is never
 *   given, and the owner's built-in role never changed, here (409 `role.owner_transfer_only`): ownership
 *   moves only by transfer. Custom and store roles for the owner are fine (by whoever holds all they hold).
 * - built-in store role (`store_manager`, `store_staff`) in a store: assigns the person to the store with
 *   that role (replacing their role there); taking it removes them from the store, with their custom
 *   roles there.
 * - custom role: an assignment, tenant-wide or — for a store-scope role — in one store, where the person
 *   is assigned as `store_staff` first if they are not yet.
 *
 * Rules (beyond `users.manage`): nobody changes their own roles (403 `role.self_assignment`); nobody grants
 * or takes a role with a permission they do not hold themselves, nor changes the roles of someone holding
 * tenant-wide permissions they lack (403 `role.privilege_escalation`); and, as for PATCH /users/:id, only
 * the owner changes an administrator's roles (403 `auth.forbidden`), so administrators cannot demote each
 * other. Roles are given only to active members (409 `member.inactive`); taking roles from a deactivated
 * member is allowed. Every change writes its audit row and event (`member.role_assigned`,
 * `member.role_removed`) in its transaction; a request that changes nothing writes neither.
 *
 * Nothing needs invalidating: authentication reads the built-in roles with every request, and a change to
 * custom assignments moves the membership's `authz_version` (trigger), the key of the grants cache.
 */
import { audit, type RequestOrigin } from '../../core/audit/audit.js';
import type { Tx } from '../../core/db/database.js';
import { AppError } from '../../core/http/errors.js';
import type { Actor } from '../../core/http/request-context.js';
import type { StoreRole } from '../organization/organization.table.js';
import {
  deleteAssignment,
  deleteStoreRole,
  ensureInStore,
  findStoreAssignmentRoleIds,
  findStoreRole,
  insertAssignment,
  isLiveStore,
  listHeldRoles,
  lockMembership,
  updateBaseRole,
  upsertStoreRole,
  type HeldRoleRow,
  type MembershipStanding,
} from './assignments.repository.js';
import type { AssignRoleInput, EffectivePermissionsView, HeldRoleView } from './assignments.schemas.js';
import { effectivePermissions, grantScope, type CustomGrants } from './grants.js';
import type { AuthorizationDeps } from './index.js';
import { ALL_PERMISSIONS, BUILTIN_ROLE_PERMISSIONS } from './permissions.js';
import { assertCanGrant, assertHoldsEverythingOf, findRoles, rolePermissions, type RoleRow } from './role-grants.js';

/** Who changes roles: a member acting in their tenant, with the custom grants the permission check read. */
export interface AssignmentCaller {
  actor: Actor & { tenantId: string; userId: string };
  grants: CustomGrants;
}

export const memberNotFound = () => new AppError('member.not_found', 'No such member in this tenant.');
const roleNotFound = () => new AppError('role.not_found', 'This tenant has no role with this id.');
const assignmentNotFound = () => new AppError('role.assignment_not_found', 'The member does not hold this role (there).');

/** The presentation of a held role. */
export function presentHeldRole(row: HeldRoleRow): HeldRoleView {
  return {
    role: { id: row.roleId, key: row.key, name: row.name, scope: row.scope, builtIn: row.key !== null },
    storeId: row.storeId,
    source: row.source,
    assignedAt: row.assignedAt,
  };
}

const isBaseRole = (role: RoleRow): role is RoleRow & { key: 'owner' | 'admin' | 'member' } => role.key === 'owner' || role.key === 'admin' || role.key === 'member';
const isStoreBuiltin = (role: RoleRow): role is RoleRow & { key: StoreRole } => role.key === 'store_manager' || role.key === 'store_staff';

const inTenant = <T>(deps: AuthorizationDeps, caller: AssignmentCaller, work: (tx: Tx) => Promise<T>) =>
  deps.platform.db.transaction({ tenantId: caller.actor.tenantId, userId: caller.actor.userId }, work);

/** `GET /users/:id/roles`: every role the member holds (deactivated members included); 404 for a non-member. */
export async function listMemberRoles(deps: AuthorizationDeps, tenantId: string, userId: string): Promise<HeldRoleView[]> {
  const rows = await deps.platform.db.withTenant(tenantId, (tx) => listHeldRoles(tx, tenantId, userId));
  if (rows.length === 0) throw memberNotFound();
  return rows.map(presentHeldRole);
}

/** The member, locked for the change; 403 for the caller themselves, 404 for a non-member. */
async function lockTarget(tx: Tx, caller: AssignmentCaller, userId: string): Promise<MembershipStanding> {
  if (userId === caller.actor.userId) throw new AppError('role.self_assignment', 'You cannot change your own roles; ask another member who manages members.');
  const member = await lockMembership(tx, caller.actor.tenantId, userId);
  if (!member) throw memberNotFound();
  return member;
}

async function getRole(tx: Tx, tenantId: string, roleId: string): Promise<RoleRow> {
  const [role] = await findRoles(tx, tenantId, [roleId]);
  if (!role) throw roleNotFound();
  return role;
}

/** A store-scope role is held in one store, a tenant-scope role tenant-wide (400 `role.scope_mismatch`). */
function assertScope(role: RoleRow, storeId: string | null): void {
  if (role.scope === 'store' && storeId === null) throw new AppError('role.scope_mismatch', `${role.name} is a store role: name the store (storeId).`);
  if (role.scope === 'tenant' && storeId !== null) throw new AppError('role.scope_mismatch', `${role.name} is a tenant-wide role: it is not held in a store (omit storeId).`);
}

/**
 * Refuses to change the roles of someone more powerful than the caller: who holds, tenant-wide, a
 * permission the caller lacks there (403 `role.privilege_escalation`), or an administrator unless the
 * caller is the owner (403 `auth.forbidden`, as PATCH /users/:id).
 */
async function assertMayChangeHolder(tx: Tx, caller: AssignmentCaller, userId: string, member: MembershipStanding): Promise<void> {
  await assertHoldsEverythingOf(tx, caller.actor, caller.grants, { userId, role: member.role });
  if (member.role === 'admin' && caller.actor.role !== 'owner') throw new AppError('auth.forbidden', 'Only the owner may change the roles of an administrator.');
}

async function recordRoleChange(
  tx: Tx,
  caller: AssignmentCaller,
  origin: RequestOrigin,
  action: 'member.role_assigned' | 'member.role_removed',
  holding: { userId: string; roleId: string; storeId: string | null },
  before: unknown,
  after: unknown,
): Promise<void> {
  await audit.recordWithEvent(
    tx,
    { actor: { type: 'user', id: caller.actor.userId }, action, target: { type: 'user', id: holding.userId }, before, after, ...origin },
    { type: action, tenantId: caller.actor.tenantId, payload: { ...holding } },
  );
}

/** Gives the role; whether anything changed (false: the member held it exactly so already). */
async function giveRole(tx: Tx, caller: AssignmentCaller, origin: RequestOrigin, userId: string, member: MembershipStanding, role: RoleRow, storeId: string | null): Promise<boolean> {
  const { tenantId } = caller.actor;
  const record = (before: unknown, after: unknown) => recordRoleChange(tx, caller, origin, 'member.role_assigned', { userId, roleId: role.id, storeId }, before, after);
  if (isBaseRole(role)) {
    if (member.role === role.key) return false;
    await updateBaseRole(tx, tenantId, userId, role.key);
    await record({ role: member.role }, { role: role.key, roleId: role.id, storeId });
    return true;
  }
  const storeRole = storeId === null ? null : await findStoreRole(tx, tenantId, storeId, userId);
  if (isStoreBuiltin(role)) {
    if (storeRole === role.key) return false;
    await upsertStoreRole(tx, tenantId, storeId!, userId, role.key);
    await record({ storeRole }, { storeRole: role.key, roleId: role.id, storeId });
    return true;
  }
  // A custom store role is held where the person works: assign them to the store first if need be.
  const joinsStore = storeId !== null && storeRole === null;
  // Never overwrites a store role given meanwhile by another request (POST /stores/:id/users).
  if (joinsStore) await ensureInStore(tx, tenantId, storeId, userId);
  if (!(await insertAssignment(tx, tenantId, { userId, roleId: role.id, storeId, assignedBy: caller.actor.userId }))) return false;
  await record(null, { roleId: role.id, storeId, ...(joinsStore ? { joinedStoreAs: 'store_staff' } : {}) });
  return true;
}

/**
 * `POST /users/:id/roles`: gives the member a role (see the kinds and rules at the top of this file).
 * Answers the role as held, and whether it was given now (201) or held exactly so already (200).
 */
export async function assignRole(
  deps: AuthorizationDeps,
  caller: AssignmentCaller,
  origin: RequestOrigin,
  userId: string,
  input: AssignRoleInput,
): Promise<{ held: HeldRoleView; created: boolean }> {
  const { tenantId } = caller.actor;
  const storeId = input.storeId?.toLowerCase() ?? null;
  return inTenant(deps, caller, async (tx) => {
    const member = await lockTarget(tx, caller, userId);
    if (member.status !== 'active') throw new AppError('member.inactive', 'This member is deactivated: reactivate them (PATCH /api/v1/users/{id}) before giving them roles.');
    const role = await getRole(tx, tenantId, input.roleId);
    if (role.key === 'owner' || (isBaseRole(role) && member.role === 'owner')) {
      throw new AppError('role.owner_transfer_only', 'Ownership moves only by transfer (POST /api/v1/tenants/current/transfer-ownership); the owner’s built-in role is not changed here.');
    }
    assertScope(role, storeId);
    if (storeId !== null && !(await isLiveStore(tx, tenantId, storeId))) throw new AppError('store.not_found', 'No live store of this tenant has this id.');
    // A custom store role may bring the store_staff role with it (the person joins the store).
    const brings = storeId !== null && !role.key ? BUILTIN_ROLE_PERMISSIONS.store_staff : [];
    assertCanGrant(caller.actor, caller.grants, [...rolePermissions(role), ...brings], storeId);
    await assertMayChangeHolder(tx, caller, userId, member);

    const created = await giveRole(tx, caller, origin, userId, member, role, storeId);
    const source = isBaseRole(role) ? 'membership' : isStoreBuiltin(role) ? 'store' : 'assignment';
    const held = (await listHeldRoles(tx, tenantId, userId)).find((row) => row.source === source && row.roleId === role.id && row.storeId === storeId);
    return { held: presentHeldRole(held!), created };
  });
}

/**
 * `DELETE /users/:id/roles/:roleId?storeId=`: takes a role from the member. A built-in tenant role is
 * only ever replaced (409 `role.base_role_required`); a built-in store role removes the person from that
 * store, with their custom roles there; a custom role is unassigned. 404 `role.assignment_not_found` when
 * the member does not hold it (there).
 */
export async function removeRole(deps: AuthorizationDeps, caller: AssignmentCaller, origin: RequestOrigin, userId: string, roleId: string, storeIdInput?: string): Promise<void> {
  const { tenantId } = caller.actor;
  const storeId = storeIdInput?.toLowerCase() ?? null;
  await inTenant(deps, caller, async (tx) => {
    const member = await lockTarget(tx, caller, userId);
    const role = await getRole(tx, tenantId, roleId);
    if (isBaseRole(role)) {
      throw new AppError('role.base_role_required', 'A member always holds one built-in tenant role: give them another one (POST /api/v1/users/{id}/roles) instead.');
    }
    assertScope(role, storeId);
    assertCanGrant(caller.actor, caller.grants, rolePermissions(role), storeId);
    await assertMayChangeHolder(tx, caller, userId, member);

    if (isStoreBuiltin(role)) {
      const alsoRemoved = await findStoreAssignmentRoleIds(tx, tenantId, storeId!, userId);
      if (!(await deleteStoreRole(tx, tenantId, storeId!, userId, role.key))) throw assignmentNotFound();
      await recordRoleChange(tx, caller, origin, 'member.role_removed', { userId, roleId, storeId }, { roleId, storeId, storeRole: role.key, customRoleIds: alsoRemoved }, null);
      return;
    }
    if (!(await deleteAssignment(tx, tenantId, userId, roleId, storeId))) throw assignmentNotFound();
    await recordRoleChange(tx, caller, origin, 'member.role_removed', { userId, roleId, storeId }, { roleId, storeId }, null);
  });
}

/**
 * `GET /users/me/permissions?storeId=`: the roles the signed-in person holds in the token's tenant and
 * the permissions they give — tenant-wide, plus those held in `storeId` when the person may act there
 * (assigned to it, or `stores.manage` tenant-wide; otherwise 403 `store.access_denied`, also for a store
 * that is not a live store of the tenant). A token acting in no tenant (or one whose access is revoked)
 * holds nothing. The same grants cache and rules as the permission check itself.
 */
export async function describeMyPermissions(deps: AuthorizationDeps, actor: Actor, storeIdInput?: string): Promise<EffectivePermissionsView> {
  const { tenantId, userId, authzVersion } = actor;
  if (!tenantId || !userId || authzVersion === undefined) return { tenantId: null, storeId: null, roles: [], permissions: [] };
  const storeId = storeIdInput?.toLowerCase() ?? null;
  const [grants, { rows, storeIsLive }] = await Promise.all([
    deps.grants.get(tenantId, userId, authzVersion),
    deps.platform.db.transaction({ tenantId, userId }, async (tx) => {
      const held = await listHeldRoles(tx, tenantId, userId);
      // Assigned to the store: it is live (only live stores' roles are listed). Otherwise ask.
      const assigned = storeId !== null && held.some((row) => row.source === 'store' && row.storeId === storeId);
      return { rows: held, storeIsLive: assigned || (storeId !== null && (await isLiveStore(tx, tenantId, storeId))) };
    }),
  ]);
  const storeRole = rows.find((row) => row.source === 'store' && row.storeId === storeId)?.key as StoreRole | undefined;
  if (storeId !== null) {
    const managesStores = grantScope({ ...actor, storeId: undefined }, grants, 'stores.manage') === 'tenant';
    if (!storeIsLive || !(storeRole || managesStores)) throw new AppError('store.access_denied', 'You may not act in that store: it is not one of the stores you are assigned to.');
  }
  const held = effectivePermissions({ role: actor.role, storeId: storeId ?? undefined, storeRole }, grants);
  return { tenantId, storeId, roles: rows.map(presentHeldRole), permissions: ALL_PERMISSIONS.filter((permission) => held.has(permission)) };
}
