/**
 * Who works in which store: listing, assigning and unassigning the tenant's members. An assignment is
 * what lets a member act in the store (`X-Store-ID`), so removing one cuts that access at once.
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
import type { OrganizationDeps } from './deps.js';
import type { StoreRole } from './organization.table.js';
import { assertNoFieldErrors } from './store-values.js';
import { deleteStoreMembers, findActiveMemberIds, findStore, findStoreMembers, listStoreMembers, upsertStoreMembers, type StoreMemberRow } from './stores.repository.js';
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

/** Audit row and event for the assignments that actually changed. */
async function recordMembersChanged(
  tx: Tx,
  actor: StoreActor,
  origin: RequestOrigin,
  storeId: string,
  change: { before: StoreMemberRow[]; assigned: Array<{ userId: string; role: StoreRole }>; unassigned: string[] },
): Promise<void> {
  if (change.assigned.length === 0 && change.unassigned.length === 0) return;
  const before = change.before.map((row) => ({ userId: row.userId, role: row.role }));
  await audit.record(tx, {
    actor: actor.audit,
    action: 'store.members_changed',
    target: { type: 'store', id: storeId },
    before: { members: before },
    after: { assigned: change.assigned, unassigned: change.unassigned },
    ...origin,
  });
  await emit(tx, { type: 'store.members_changed', tenantId: actor.tenantId, payload: { storeId, assigned: change.assigned, unassigned: change.unassigned } });
}

/**
 * `POST /stores/:id/users`: assigns active members of the tenant to a live store. New assignments get
 * `role` (default `store_staff`); people already assigned keep theirs unless `role` is given. Answers the
 * people named, as assigned now.
 */
export async function assignStorePeople(
  deps: OrganizationDeps,
  actor: StoreActor,
  origin: RequestOrigin,
  storeId: string,
  input: AssignStoreMembersInput,
): Promise<StoreMemberView[]> {
  if (input.roleId !== undefined) {
    throw new AppError('store.roles_unavailable', 'Store roles by id arrive with the authorization issue; until then name the role with `role` (store_manager or store_staff).', {
      errors: [{ in: 'body', field: '/roleId', message: 'is not supported yet; use role' }],
    });
  }
  return inTenant(deps, actor, async (tx) => {
    await assertLiveStore(tx, actor, storeId);
    const active = await findActiveMemberIds(tx, actor.tenantId, input.userIds);
    const errors: FieldError[] = input.userIds.flatMap((userId, index) =>
      active.has(userId) ? [] : [{ in: 'body' as const, field: `/userIds/${index}`, message: 'is not an active member of this tenant' }],
    );
    assertNoFieldErrors(errors);

    const before = await findStoreMembers(tx, actor.tenantId, storeId, input.userIds);
    const current = new Map(before.map((row) => [row.userId, row.role]));
    const role = input.role ?? 'store_staff';
    const assigned = input.userIds
      .filter((userId) => !current.has(userId) || (input.role !== undefined && current.get(userId) !== input.role))
      .map((userId) => ({ userId, role }));
    await upsertStoreMembers(tx, actor.tenantId, storeId, assigned, input.role !== undefined);
    await recordMembersChanged(tx, actor, origin, storeId, { before: before.filter((row) => assigned.some((a) => a.userId === row.userId)), assigned, unassigned: [] });
    return (await findStoreMembers(tx, actor.tenantId, storeId, input.userIds)).map(present);
  });
}

/** `DELETE /stores/:id/users/:userId`: unassigns one person (404 `store.member_not_found` if not assigned). */
export async function unassignStorePerson(deps: OrganizationDeps, actor: StoreActor, origin: RequestOrigin, storeId: string, userId: string): Promise<void> {
  await inTenant(deps, actor, async (tx) => {
    await assertLiveStore(tx, actor, storeId);
    const before = await findStoreMembers(tx, actor.tenantId, storeId, [userId]);
    const removed = await deleteStoreMembers(tx, actor.tenantId, storeId, [userId]);
    if (removed.length === 0) throw new AppError('store.member_not_found', 'This person is not assigned to this store.');
    await recordMembersChanged(tx, actor, origin, storeId, { before, assigned: [], unassigned: removed });
  });
}

/** `DELETE /stores/:id/users` `{ userIds }`: unassigns these people; those not assigned are skipped. */
export async function unassignStorePeople(deps: OrganizationDeps, actor: StoreActor, origin: RequestOrigin, storeId: string, userIds: string[]): Promise<void> {
  await inTenant(deps, actor, async (tx) => {
    await assertLiveStore(tx, actor, storeId);
    const before = await findStoreMembers(tx, actor.tenantId, storeId, userIds);
    const removed = await deleteStoreMembers(tx, actor.tenantId, storeId, userIds);
    await recordMembersChanged(tx, actor, origin, storeId, { before, assigned: [], unassigned: removed });
  });
}
