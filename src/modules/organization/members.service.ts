/**
 * Use-cases on the members of the current tenant: list, read, create a new person directly, change a
 * membership (status, title, role) and remove it. Every change writes its audit row and domain event
 * (`member.created`, `member.updated`, `member.removed`) in the same transaction.
 *
 * Rules beyond the permission (users.manage): ownership never changes here (it moves by transfer), so the
 * owner is never deactivated, demoted or removed (409 `member.owner_protected`); nobody deactivates,
 * re-roles or removes themselves (409 `member.self_protected`; leaving is POST /tenants/current/leave);
 * an administrator is changed only by the owner (403 `auth.forbidden`), so admins cannot lock each
 * other out — an admin may still promote a member to admin; and nobody deactivates, re-roles or removes
 * a member who holds a permission they lack (403 `role.privilege_escalation`: a custom role with
 * users.manage cannot act on someone more powerful).
 *
 * A deactivated or removed member loses access to this tenant at once: authentication reads the
 * membership with every request (session_actor), so nothing needs revoking here.
 */
import { audit, type RequestOrigin } from '../../core/audit/audit.js';
import type { Tx } from '../../core/db/database.js';
import { isUuid, uuidv7 } from '../../core/db/ids.js';
import { emit } from '../../core/events/events.js';
import { AppError, type FieldError } from '../../core/http/errors.js';
import { decodeCursor, toPage, type Page } from '../../core/http/pagination.js';
import type { MembershipRole } from '../../core/tenancy/tenancy.table.js';
import { assertCanGrant, assertHoldsEverythingOf, BUILTIN_ROLE_PERMISSIONS } from '../authorization/index.js';
import { assertPasswordAcceptable, authLink, issueOneTimeToken } from '../identity/index.js';
import type { OrganizationDeps } from './deps.js';
import { findLiveStoreIds } from './stores.repository.js';
import { roleInASentence } from './invitation-mails.js';
import { queueMemberMail } from './member-mails.js';
import { assertCanGrantNewMember, resolveNewMemberRoles, type Granter } from './member-roles.js';
import { insertRoleAssignments } from './invitations.repository.js';
import {
  deleteMembership,
  findHeldRole,
  findMember,
  findTenantName,
  insertMember,
  isEmailRegistered,
  listMembers,
  lockMembership,
  updateMembership,
  type MemberKey,
  type MemberRow,
  type MembershipRecord,
} from './members.repository.js';
import type { CreateMemberBody, MemberListQuery, MemberView, UpdateMemberBody } from './members.schemas.js';

/** Who is acting on the members: the caller's id, tenant and role there, and their name for mails. */
export interface MemberCaller {
  userId: string;
  tenantId: string;
  role?: MembershipRole;
  name?: string;
}

export function presentMember(row: MemberRow): MemberView {
  const { joinedAt, ...member } = row;
  return { ...member, createdAt: new Date(joinedAt).toISOString() };
}

const memberNotFound = () => new AppError('member.not_found', 'No such member in this tenant.');

const JOINED_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const isMemberKey = (value: unknown): value is { t: string; id: string } =>
  typeof value === 'object' && value !== null && typeof (value as { t?: unknown }).t === 'string' && JOINED_AT.test((value as { t: string }).t) && isUuid((value as { id?: unknown }).id as string);

/**
 * A page of the tenant's members, in the order they joined (then by id). The order is stable and new
 * members always sort last, so paging through while people join neither skips nor repeats anyone.
 */
export async function listTenantMembers(deps: OrganizationDeps, tenantId: string, query: MemberListQuery): Promise<Page<MemberView>> {
  const limit = query.limit ?? 20;
  const cursor = decodeCursor(query.cursor, isMemberKey);
  const after: MemberKey | null = cursor ? { joinedAt: cursor.t, id: cursor.id } : null;
  const rows = await deps.platform.db.withTenant(tenantId, async (tx) => {
    if (query.roleId === undefined) return listMembers(tx, tenantId, query, after, limit + 1);
    // `roleId`: what holding it means depends on the kind of role. No such role here: nobody holds it.
    const heldRole = await findHeldRole(tx, tenantId, query.roleId);
    return heldRole ? listMembers(tx, tenantId, { ...query, heldRole }, after, limit + 1) : [];
  });
  return toPage(rows, limit, presentMember, (row) => ({ t: row.joinedAt, id: row.id }));
}

export async function getTenantMember(deps: OrganizationDeps, tenantId: string, userId: string): Promise<MemberView> {
  const row = await deps.platform.db.withTenant(tenantId, (tx) => findMember(tx, tenantId, userId));
  if (!row) throw memberNotFound();
  return presentMember(row);
}

const emailHasAccount = () =>
  new AppError(
    'member.email_has_account',
    'A person with this email address already has an account. Invite them instead (POST /api/v1/users/invite): they join once they accept.',
  );

/** The field errors of `storeIds` entries that are not live stores of the tenant (by their index in the body). */
function unknownStoreErrors(storeIds: string[], live: Set<string>): FieldError[] {
  return storeIds.flatMap((id, index) => (live.has(id) ? [] : [{ in: 'body' as const, field: `/storeIds/${index}`, message: 'is not a store of this tenant' }]));
}

/**
 * Creates a new person as a member of the tenant: the user, the membership with its built-in role, the
 * custom roles, the store assignments, the audit row and event, and the welcome mail, in one transaction.
 * Roles follow member-roles.ts (as for invitations: none with a permission the caller lacks). The person
 * proves their address through the mailed link (a link to choose a password when none was given). An
 * address that already has an account answers 409: an existing person joins a tenant only by accepting
 * an invitation. The new member takes a seat of the plan's `maxUsers` (402 `plan.limit_reached`), counted
 * in the transaction of the insert under the limit's locks, so parallel creates cannot exceed it.
 */
export async function createMember(deps: OrganizationDeps, caller: MemberCaller, granter: Granter, input: CreateMemberBody, origin: RequestOrigin): Promise<MemberView> {
  const { db } = deps.platform;
  const { tenantId } = caller;
  const assertSeatFree = (tx: Tx) => deps.platform.entitlements.assertWithinLimit(tx, tenantId, 'maxUsers', 1);
  const name = input.name.trim();
  if (name === '') throw new AppError('request.validation_failed', 'The name must not be blank.', { errors: [{ in: 'body', field: '/name', message: 'must not be blank' }] });
  const requestedStores = input.storeIds ?? [];
  if (input.password !== undefined) assertPasswordAcceptable(input.password, { email: input.email, field: '/password' });
  const checkRolesAndStores = async (tx: Tx) => {
    const errors = unknownStoreErrors(requestedStores, await findLiveStoreIds(tx, tenantId, requestedStores));
    if (errors.length > 0) throw new AppError('request.validation_failed', 'Some stores are not live stores of this tenant.', { errors });
    const roles = await resolveNewMemberRoles(tx, tenantId, input);
    assertCanGrantNewMember(granter, roles, requestedStores.length > 0);
    return roles;
  };

  // Cheap checks first, so a refused request costs no argon2 work; the transaction checks them again.
  await db.withTenant(tenantId, async (tx) => {
    await checkRolesAndStores(tx);
    await assertSeatFree(tx);
    if (await isEmailRegistered(tx, input.email)) throw emailHasAccount();
  });
  const passwordHash = input.password === undefined ? null : await deps.identity.passwords.hash(input.password);

  const userId = uuidv7();
  return db.transaction({ tenantId, userId: caller.userId }, async (tx, executor) => {
    const storeIds = [...new Set(requestedStores)];
    const roles = await checkRolesAndStores(tx);
    await assertSeatFree(tx);
    const role = roles.base;
    if (!(await insertMember(tx, tenantId, { userId, email: input.email, name, passwordHash, role, storeIds }))) throw emailHasAccount();
    const roleIds = roles.custom.map((custom) => custom.id);
    await insertRoleAssignments(tx, tenantId, roleIds.map((roleId) => ({ userId, roleId })), { storeId: null, assignedBy: caller.userId });
    const member = presentMember((await findMember(tx, tenantId, userId))!);

    await audit.record(tx, {
      actor: { type: 'user', id: caller.userId },
      action: 'member.created',
      target: { type: 'user', id: userId },
      after: { email: member.email, name, role, roleIds, storeIds: member.storeIds, passwordSet: passwordHash !== null },
      ...origin,
    });
    await emit(tx, { type: 'member.created', tenantId, payload: { tenantId, userId, email: member.email, role, roleIds, storeIds: member.storeIds, createdBy: caller.userId } });

    const tenantName = (await findTenantName(tx, tenantId)) ?? 'your organisation';
    const variables = { name, email: member.email, actorName: caller.name ?? 'An administrator', tenantName, role: roleInASentence(role) };
    const { publicUrl } = deps.config.http;
    if (passwordHash === null) {
      const token = await issueOneTimeToken(tx, { userId, purpose: 'reset_password', email: member.email });
      await queueMemberMail(deps.platform, executor, 'memberCreatedChoosePassword', member.email, { ...variables, link: authLink(publicUrl, 'reset-password', token) });
    } else {
      const token = await issueOneTimeToken(tx, { userId, purpose: 'verify_email', email: member.email });
      await queueMemberMail(deps.platform, executor, 'memberCreatedVerifyEmail', member.email, { ...variables, link: authLink(publicUrl, 'verify-email', token) });
    }
    return member;
  });
}

/** The fields of `input` whose value differs from `current`: the change to apply (and to audit). */
function changedFields(current: MembershipRecord, input: UpdateMemberBody): Partial<MembershipRecord> {
  const changes: Partial<MembershipRecord> = {};
  if (input.status !== undefined && input.status !== current.status) changes.status = input.status;
  if (input.role !== undefined && input.role !== current.role) changes.role = input.role;
  if (input.title !== undefined && input.title !== current.title) changes.title = input.title;
  return changes;
}

/** Refuses what no permission allows on `target` (see the rules at the top of this file). */
function assertMayChange(caller: MemberCaller, targetId: string, target: MembershipRecord, touchesStanding: boolean): void {
  if (target.role === 'owner' && touchesStanding) {
    throw new AppError('member.owner_protected', 'The owner cannot be deactivated, re-roled or removed; ownership moves only by transfer (POST /api/v1/tenants/current/transfer-ownership).');
  }
  if (targetId === caller.userId && touchesStanding) {
    throw new AppError('member.self_protected', 'You cannot deactivate, re-role or remove yourself; to leave the tenant, use POST /api/v1/tenants/current/leave.');
  }
  if (target.role === 'admin' && targetId !== caller.userId && caller.role !== 'owner') {
    throw new AppError('auth.forbidden', 'Only the owner may change or remove an administrator.');
  }
}

/**
 * Changes a membership's status, title or role. Deactivating cuts the member's access to this tenant
 * at once (their other tenants are unaffected); a change that changes nothing writes nothing. A new role
 * holds no permission the caller lacks (403 `role.privilege_escalation`).
 */
export async function updateMember(deps: OrganizationDeps, caller: MemberCaller, granter: Granter, userId: string, input: UpdateMemberBody, origin: RequestOrigin): Promise<MemberView> {
  const { tenantId } = caller;
  return deps.platform.db.transaction({ tenantId, userId: caller.userId }, async (tx) => {
    const current = await lockMembership(tx, tenantId, userId);
    if (!current) throw memberNotFound();
    const changes = changedFields(current, input);
    if (Object.keys(changes).length > 0) {
      const touchesStanding = changes.status !== undefined || changes.role !== undefined;
      assertMayChange(caller, userId, current, touchesStanding);
      if (changes.role !== undefined) assertCanGrant(granter.actor, granter.grants, BUILTIN_ROLE_PERMISSIONS[changes.role]);
      if (touchesStanding) await assertHoldsEverythingOf(tx, granter.actor, granter.grants, { userId, role: current.role });
      await updateMembership(tx, tenantId, userId, changes);
      const before = Object.fromEntries(Object.keys(changes).map((field) => [field, current[field as keyof MembershipRecord]]));
      await audit.record(tx, { actor: { type: 'user', id: caller.userId }, action: 'member.updated', target: { type: 'user', id: userId }, before, after: changes, ...origin });
      await emit(tx, { type: 'member.updated', tenantId, payload: { tenantId, userId, before, after: changes, updatedBy: caller.userId } });
    }
    return presentMember((await findMember(tx, tenantId, userId))!);
  });
}

/**
 * Removes a membership (never the owner's, never the caller's own, never someone holding a permission the
 * caller lacks); store assignments go with it.
 */
export async function removeMember(deps: OrganizationDeps, caller: MemberCaller, granter: Granter, userId: string, origin: RequestOrigin): Promise<void> {
  const { tenantId } = caller;
  await deps.platform.db.transaction({ tenantId, userId: caller.userId }, async (tx) => {
    const current = await lockMembership(tx, tenantId, userId);
    if (!current) throw memberNotFound();
    assertMayChange(caller, userId, current, true);
    await assertHoldsEverythingOf(tx, granter.actor, granter.grants, { userId, role: current.role });
    await deleteMembership(tx, tenantId, userId);
    await audit.record(tx, { actor: { type: 'user', id: caller.userId }, action: 'member.removed', target: { type: 'user', id: userId }, before: current, ...origin });
    await emit(tx, { type: 'member.removed', tenantId, payload: { tenantId, userId, role: current.role, removedBy: caller.userId, reason: 'removed' } });
  });
}
