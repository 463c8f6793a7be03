/**
 * Who works in which store: listing, assigning and unassigning the tenant's members. An assignment is
 * what lets a member act in the store (`X-Store-ID`), so removing one cuts that access at once.
 *
 * Roles there: each assigned person holds a built-in store role (`store_members.role`), and may hold
 * custom store roles (`role_assignments` in the store; unassigning removes them). Nobody grants or takes
 * a permission they do not hold in the store (403 `role.privilege_escalation`): a store manager acting in
 * their store may assign store staff and managers, but not a custom role holding more than they do. And
 * nobody chooses their own role (403 `role.self_assignment`), though people may assign themselves.
 *
 * Only active members of this tenant can be assigned. Anyone else — a stranger, a deactivated member,
 * another tenant's member — gets the same field error, so the answer never tells whether a user id exists
 * elsewhere. Every change writes an audit row and a `store.members_changed` event in its transaction;
 * a request that changes nothing (all already assigned as asked, none of them assigned) writes neither.
 */
import { audit, type RequestOrigin } from '../../core/audit/audit.js';
import type { Tx } from '../../core/db/database.js';
import { isUuid } from '../../core/db/ids.js';
import { emit } from '../../core/events/events.js';
import { AppError, type FieldError } from '../../core/http/errors.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, toPage, type Page } from '../../core/http/pagination.js';
import { assertCanGrant, BUILTIN_ROLE_PERMISSIONS, rolePermissions } from '../authorization/index.js';
import type { OrganizationDeps } from './deps.js';
import { insertRoleAssignments } from './invitations.repository.js';
import { assertCanTake, resolveStoreRole, type Granter } from './member-roles.js';
import type { StoreRole } from './organization.table.js';
import { assertNoFieldErrors } from './store-values.js';
import {
  deleteStoreMembers,
  findActiveMemberIds,
  findCustomStorePermissions,
  findStore,
  findStoreMembers,
  listStoreMembers,
  upsertStoreMembers,
  type StoreMemberRow,
} from './stores.repository.js';
import type { AssignStoreMembersInput, StoreMemberView } from './stores.schemas.js';
import { storeNotFound, type StoreActor } from './stores.service.js';

const inTenant = <T>(deps: OrganizationDeps, actor: StoreActor, work: (tx: Tx) => Promise<T>) =>
  deps.platform.db.transaction({ tenantId: actor.tenantId, userId: actor.userId }, work);

async function assertLiveStore(tx: Tx, actor: StoreActor, storeId: string): Promise<void> {
  if (!(await findStore(tx, actor.tenantId, storeId))) throw storeNotFound();
}

const present = (row: StoreMemberRow): StoreMemberView => ({ userId: row.userId, name: row.name, email: row.email, role: row.role });

/** `GET /stores/:id/users`: one page of the people assigned to a live store, by user id. */
export async function listStorePeople(deps: OrganizationDeps, actor: StoreActor, storeId: string, query: { limit?: number; cursor?: string }): Promise<Page<StoreMemberView>> {
  const after = decodeCursor(query.cursor, (value): value is { u: string } => isUuid((value as { u?: unknown } | null)?.u));
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  const rows = await inTenant(deps, actor, async (tx) => {
    await assertLiveStore(tx, actor, storeId);
    return listStoreMembers(tx, actor.tenantId, storeId, { after: after?.u ?? null, limit });
  });
  return toPage(rows, limit, present, (row) => ({ u: row.userId }));
}

interface MembersChange {
  before: StoreMemberRow[];
  assigned: Array<{ userId: string; role: StoreRole }>;
  unassigned: string[];
  /** A custom store role given now, and to whom (those who held it there already are not named). */
  customRole?: { roleId: string; userIds: string[] };
}

/** Audit row and event for the assignments that actually changed. */
async function recordMembersChanged(tx: Tx, actor: StoreActor, origin: RequestOrigin, storeId: string, change: MembersChange): Promise<void> {
  const customRole = change.customRole && change.customRole.userIds.length > 0 ? { customRole: change.customRole } : {};
  if (change.assigned.length === 0 && change.unassigned.length === 0 && !customRole.customRole) return;
  const before = change.before.map((row) => ({ userId: row.userId, role: row.role }));
  const after = { assigned: change.assigned, unassigned: change.unassigned, ...customRole };
  await audit.record(tx, { actor: actor.audit, action: 'store.members_changed', target: { type: 'store', id: storeId }, before: { members: before }, after, ...origin });
  await emit(tx, { type: 'store.members_changed', tenantId: actor.tenantId, payload: { storeId, ...after } });
}

const selfAssignment = () =>
  new AppError('role.self_assignment', 'You cannot choose your own role in a store (role, roleId); ask another member who manages this store’s people.');

/**
 * `POST /stores/:id/users`: assigns active members of the tenant to a live store. `roleId` names a store
 * role of the tenant: a built-in one (`store_manager`, `store_staff`; like `role`) is set as their store
 * role; a custom one is given in the store, people not yet assigned joining as `store_staff`. New
 * assignments default to `store_staff`; people already assigned keep their built-in store role unless one
 * is named. Answers the people named, as assigned now.
 */
export async function assignStorePeople(
  deps: OrganizationDeps,
  actor: StoreActor,
  granter: Granter,
  origin: RequestOrigin,
  storeId: string,
  input: AssignStoreMembersInput,
): Promise<StoreMemberView[]> {
  return inTenant(deps, actor, async (tx) => {
    await assertLiveStore(tx, actor, storeId);
    const choice = await resolveStoreRole(tx, actor.tenantId, input);
    const active = await findActiveMemberIds(tx, actor.tenantId, input.userIds);
    const errors: FieldError[] = input.userIds.flatMap((userId, index) =>
      active.has(userId) ? [] : [{ in: 'body' as const, field: `/userIds/${index}`, message: 'is not an active member of this tenant' }],
    );
    assertNoFieldErrors(errors);
    const choosesRole = input.role !== undefined || input.roleId !== undefined;
    if (choosesRole && actor.userId !== null && input.userIds.includes(actor.userId)) throw selfAssignment();

    const before = await findStoreMembers(tx, actor.tenantId, storeId, input.userIds);
    const current = new Map(before.map((row) => [row.userId, row.role]));
    const role = choice.storeRole ?? 'store_staff';
    const assigned = input.userIds
      .filter((userId) => !current.has(userId) || (choice.storeRole !== undefined && current.get(userId) !== choice.storeRole))
      .map((userId) => ({ userId, role }));
    const changed = before.filter((row) => assigned.some((a) => a.userId === row.userId));

    // What this grants (the store role set, the custom role) and takes (store roles replaced), in this store.
    const granted = new Set<string>(assigned.length > 0 ? BUILTIN_ROLE_PERMISSIONS[role] : []);
    if (choice.custom) for (const permission of rolePermissions(choice.custom)) granted.add(permission);
    assertCanGrant(granter.actor, granter.grants, granted, storeId);
    assertCanTake(granter, changed.flatMap((row) => [...BUILTIN_ROLE_PERMISSIONS[row.role]]), storeId);

    await upsertStoreMembers(tx, actor.tenantId, storeId, assigned, choice.storeRole !== undefined);
    const given = choice.custom
      ? await insertRoleAssignments(tx, actor.tenantId, input.userIds.map((userId) => ({ userId, roleId: choice.custom!.id })), { storeId, assignedBy: actor.userId })
      : [];
    const customRole = choice.custom ? { roleId: choice.custom.id, userIds: given.map((holding) => holding.userId) } : undefined;
    await recordMembersChanged(tx, actor, origin, storeId, { before: changed, assigned, unassigned: [], customRole });
    return (await findStoreMembers(tx, actor.tenantId, storeId, input.userIds)).map(present);
  });
}

/** Refuses to unassign people holding, in the store, a permission the granter lacks there. */
async function assertMayUnassign(tx: Tx, actor: StoreActor, granter: Granter, storeId: string, before: StoreMemberRow[]): Promise<void> {
  const custom = await findCustomStorePermissions(tx, actor.tenantId, storeId, before.map((row) => row.userId));
  assertCanTake(granter, [...before.flatMap((row) => [...BUILTIN_ROLE_PERMISSIONS[row.role]]), ...custom], storeId);
}

/** `DELETE /stores/:id/users/:userId`: unassigns one person (404 `store.member_not_found` if not assigned). */
export async function unassignStorePerson(deps: OrganizationDeps, actor: StoreActor, granter: Granter, origin: RequestOrigin, storeId: string, userId: string): Promise<void> {
  await inTenant(deps, actor, async (tx) => {
    await assertLiveStore(tx, actor, storeId);
    const before = await findStoreMembers(tx, actor.tenantId, storeId, [userId]);
    await assertMayUnassign(tx, actor, granter, storeId, before);
    const removed = await deleteStoreMembers(tx, actor.tenantId, storeId, [userId]);
    if (removed.length === 0) throw new AppError('store.member_not_found', 'This person is not assigned to this store.');
    await recordMembersChanged(tx, actor, origin, storeId, { before, assigned: [], unassigned: removed });
  });
}

/** `DELETE /stores/:id/users` `{ userIds }`: unassigns these people; those not assigned are skipped. */
export async function unassignStorePeople(deps: OrganizationDeps, actor: StoreActor, granter: Granter, origin: RequestOrigin, storeId: string, userIds: string[]): Promise<void> {
  await inTenant(deps, actor, async (tx) => {
    await assertLiveStore(tx, actor, storeId);
    const before = await findStoreMembers(tx, actor.tenantId, storeId, userIds);
    await assertMayUnassign(tx, actor, granter, storeId, before);
    const removed = await deleteStoreMembers(tx, actor.tenantId, storeId, userIds);
    await recordMembersChanged(tx, actor, origin, storeId, { before, assigned: [], unassigned: removed });
  });
}
