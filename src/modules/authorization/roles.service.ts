/**
 * Role use-cases: the permission catalog, and the tenant's roles — list, read, create, change, delete
 * (with reassignment).
 *
 * Rules kept here:
 * - Built-in roles (owner, admin, member, store_manager, store_staff) are read-only (403
 *   `role.builtin_readonly`); their permissions come from the catalog in code.
 * - A role's permissions are catalog keys, each once, and a store-scope role holds only store-scope
 *   permissions (400 `role.invalid_permissions`, one entry per bad key).
 * - Names are unique in the tenant case-insensitively, built-in names included (409 `role.name_taken`,
 *   decided by the `roles_name_key` index); at most MAX_CUSTOM_ROLES custom roles (409 `role.limit_reached`).
 * - No privilege escalation: whoever creates or changes a role holds every permission it will grant
 *   and, to change or delete it, every permission it grants now (403 `role.privilege_escalation`); nobody
 *   changes or deletes a custom role they hold themselves (403 `role.self_assignment`).
 * - A role still assigned is deleted only with `reassignTo` (409 `role.in_use`), naming another custom
 *   role of the same scope whose permissions the caller holds; its assignments move there.
 * Each change writes its audit row and its event (`role.created`, `role.updated`, `role.deleted`) in the
 * same transaction; the database gives every holder's membership a new authz_version in it too, so their
 * cached permissions are re-read at their next request.
 */
import { audit, type RequestOrigin } from '../../core/audit/audit.js';
import type { Database, Tx } from '../../core/db/database.js';
import { PG, pgConstraint, pgErrorCode } from '../../core/db/errors.js';
import { isUuid } from '../../core/db/ids.js';
import { AppError, type FieldError } from '../../core/http/errors.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, toPage, type Page } from '../../core/http/pagination.js';
import type { Actor } from '../../core/http/request-context.js';
import type { RoleScope } from './authorization.table.js';
import type { CustomGrants } from './grants.js';
import { ALL_PERMISSIONS, isPermission, PERMISSIONS } from './permissions.js';
import { assertCanGrant, findRoles, rolePermissions, type RoleRow } from './role-grants.js';
import {
  countCustomRoles,
  deleteRole,
  findRoleForChange,
  findRoleWithHolders,
  insertRole,
  listRoles,
  lockTenantRoleCreation,
  reassignRole,
  updateRole,
  type RoleChanges,
  type RoleListKey,
} from './roles.repository.js';
import { MAX_CUSTOM_ROLES, type CreateRoleInput, type ListRolesInput, type PermissionView, type RoleView, type UpdateRoleInput } from './roles.schemas.js';

/** Who acts on roles: a member of the tenant, with the grants the permission check read for the request. */
export interface RoleCaller {
  tenantId: string;
  userId: string;
  actor: Actor;
  grants: CustomGrants;
  origin: RequestOrigin;
}

export const roleNotFound = () => new AppError('role.not_found', 'No role of this tenant has this id.');

/** `GET /permissions`: the catalog, in its own order. */
export function listPermissions(): { data: PermissionView[] } {
  return { data: ALL_PERMISSIONS.map((key) => ({ key, ...PERMISSIONS[key] })) };
}

const CATALOG_ORDER = new Map<string, number>(ALL_PERMISSIONS.map((key, index) => [key, index]));
const inCatalogOrder = (permissions: Iterable<string>) => [...permissions].sort((a, b) => (CATALOG_ORDER.get(a) ?? Infinity) - (CATALOG_ORDER.get(b) ?? Infinity));

export function presentRole(row: RoleRow, holders: number): RoleView {
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    description: row.description,
    scope: row.scope,
    permissions: inCatalogOrder([...rolePermissions(row)].filter(isPermission)),
    builtIn: row.key !== null,
    holders,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** What events and audit rows say about a role. */
export const rolePayload = (row: RoleRow) => ({ roleId: row.id, name: row.name, scope: row.scope, permissions: inCatalogOrder(rolePermissions(row)) });

/** Writes the audit row and the event of a role change, in the change's transaction. */
export async function recordRoleChange(
  tx: Tx,
  caller: RoleCaller,
  action: 'role.created' | 'role.updated' | 'role.deleted',
  role: RoleRow,
  change: { before: unknown; after: unknown; event?: Record<string, unknown> },
): Promise<void> {
  await audit.recordWithEvent(
    tx,
    { actor: { type: 'user', id: caller.userId }, action, target: { type: 'role', id: role.id }, before: change.before, after: change.after, ...caller.origin },
    { type: action, tenantId: caller.tenantId, payload: { ...rolePayload(role), ...change.event } },
  );
}

/**
 * The permission list of a role of `scope`, in catalog order; 400 `role.invalid_permissions` naming
 * every key that is unknown, repeated, or tenant-only in a store role.
 */
export function checkRolePermissions(permissions: readonly string[], scope: RoleScope): string[] {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  permissions.forEach((key, index) => {
    const field = `/permissions/${index}`;
    if (!isPermission(key)) errors.push({ in: 'body', field, message: `"${key}" is not a permission of the catalog (GET /api/v1/permissions)` });
    else if (seen.has(key)) errors.push({ in: 'body', field, message: `"${key}" is listed more than once` });
    else if (scope === 'store' && PERMISSIONS[key].scope === 'tenant') errors.push({ in: 'body', field, message: `"${key}" can only be granted tenant-wide, not in a store role` });
    seen.add(key);
  });
  if (errors.length > 0) throw new AppError('role.invalid_permissions', 'Some permissions cannot be in this role.', { errors });
  return inCatalogOrder(seen);
}

function normalizeName(name: string): string {
  const trimmed = name.trim();
  if (trimmed === '') throw new AppError('request.validation_failed', 'The role name must not be blank.', { errors: [{ in: 'body', field: '/name', message: 'must not be blank' }] });
  return trimmed;
}

/**
 * Runs a unit of work that writes roles in the caller's tenant, answering a lost race on the name index
 * as `role.name_taken` and a role that gained an assignment meanwhile as `role.in_use`.
 */
export async function writeRoles<T>(db: Database, caller: RoleCaller, work: (tx: Tx) => Promise<T>, name?: string): Promise<T> {
  try {
    return await db.transaction({ tenantId: caller.tenantId, userId: caller.userId }, work);
  } catch (error) {
    const code = pgErrorCode(error);
    const constraint = pgConstraint(error) ?? String((error as Error).message);
    if (code === PG.uniqueViolation && constraint.includes('roles_name_key')) {
      throw new AppError('role.name_taken', `Another role of this tenant is already called ${name === undefined ? 'that' : `"${name}"`} (names compare case-insensitively, built-in roles included).`);
    }
    if (code === PG.foreignKeyViolation && constraint.includes('role_assignments_role_fk')) {
      throw new AppError('role.in_use', 'The role was assigned to someone meanwhile; retry.');
    }
    if (code === PG.uniqueViolation && constraint.includes('role_assignments_holder_key')) {
      throw new AppError('resource.conflict', 'The assignments changed at the same time; retry.');
    }
    throw error;
  }
}

/** `GET /roles`: one page of the tenant's roles, built-ins first, then custom ones by name. */
export async function listTenantRoles(db: Database, caller: RoleCaller, query: ListRolesInput): Promise<Page<RoleView>> {
  const after = decodeCursor(query.cursor, isRoleListKey);
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  const rows = await db.transaction({ tenantId: caller.tenantId, userId: caller.userId }, (tx) => listRoles(tx, caller.tenantId, { scope: query.scope, after, limit }));
  return toPage(rows, limit, (row) => presentRole(row, row.holders), (row) => ({ r: row.rank, n: row.sortName, id: row.id }));
}

function isRoleListKey(value: unknown): value is RoleListKey {
  const key = value as RoleListKey | null;
  return typeof key === 'object' && key !== null && Number.isInteger(key.r) && key.r >= 0 && key.r <= 5 && typeof key.n === 'string' && isUuid(key.id);
}

/** `GET /roles/:id`: one role of the tenant (another tenant's → 404). */
export async function getRole(db: Database, caller: RoleCaller, roleId: string): Promise<RoleView> {
  const row = await db.transaction({ tenantId: caller.tenantId, userId: caller.userId }, (tx) => findRoleWithHolders(tx, caller.tenantId, roleId));
  if (!row) throw roleNotFound();
  return presentRole(row, row.holders);
}

/** `POST /roles`: a new custom role with permissions the caller holds. */
export async function createRole(db: Database, caller: RoleCaller, input: CreateRoleInput): Promise<RoleView> {
  const name = normalizeName(input.name);
  const permissions = checkRolePermissions(input.permissions, input.scope);
  assertCanGrant(caller.actor, caller.grants, permissions);
  return writeRoles(
    db,
    caller,
    async (tx) => {
      await lockTenantRoleCreation(tx, caller.tenantId);
      if ((await countCustomRoles(tx, caller.tenantId)) >= MAX_CUSTOM_ROLES) {
        throw new AppError('role.limit_reached', `A tenant has at most ${MAX_CUSTOM_ROLES} custom roles: delete one it no longer uses first.`);
      }
      const row = await insertRole(tx, caller.tenantId, { name, description: input.description ?? '', scope: input.scope, permissions });
      const view = presentRole(row, 0);
      await recordRoleChange(tx, caller, 'role.created', row, { before: null, after: view });
      return view;
    },
    name,
  );
}

/**
 * The custom role `roleId` about to be changed or deleted by the caller, locked until the transaction
 * ends: 404 if not the tenant's, 403 if built-in, held by the caller, or granting what the caller lacks.
 */
export async function getRoleForChange(tx: Tx, caller: RoleCaller, roleId: string, verb: 'change' | 'delete') {
  const role = await findRoleForChange(tx, caller.tenantId, roleId, caller.userId);
  if (!role) throw roleNotFound();
  if (role.key !== null) {
    throw new AppError('role.builtin_readonly', `Built-in roles cannot be ${verb === 'change' ? 'changed' : 'deleted'}: create a custom role instead.`);
  }
  if (role.heldByUser) {
    throw new AppError('role.self_assignment', `You hold this role yourself, and nobody may ${verb} their own roles: ask another member who can manage roles.`);
  }
  // A key since removed from the catalog grants nothing, so it asks nothing of the caller.
  assertCanGrant(caller.actor, caller.grants, role.permissions.filter(isPermission));
  return role;
}

/** `PATCH /roles/:id`: changes a custom role's name, description or permissions. */
export async function updateRoleDetails(db: Database, caller: RoleCaller, roleId: string, input: UpdateRoleInput): Promise<RoleView> {
  const name = input.name === undefined ? undefined : normalizeName(input.name);
  return writeRoles(
    db,
    caller,
    async (tx) => {
      const role = await getRoleForChange(tx, caller, roleId, 'change');
      const changes: RoleChanges = {};
      if (name !== undefined && name !== role.name) changes.name = name;
      if (input.description !== undefined && input.description !== role.description) changes.description = input.description;
      if (input.permissions !== undefined) {
        const permissions = checkRolePermissions(input.permissions, role.scope);
        assertCanGrant(caller.actor, caller.grants, permissions);
        if (permissions.join() !== inCatalogOrder(role.permissions).join()) changes.permissions = permissions;
      }
      // Nothing differs: no write, no audit row, no event, no new version for the holders.
      if (Object.keys(changes).length === 0) return presentRole(role, role.holders);
      const updated = await updateRole(tx, caller.tenantId, role.id, changes);
      const before = Object.fromEntries(Object.keys(changes).map((field) => [field, role[field as keyof RoleChanges]]));
      await recordRoleChange(tx, caller, 'role.updated', updated, { before, after: changes, event: { changed: Object.keys(changes) } });
      return presentRole(updated, role.holders);
    },
    name,
  );
}

/**
 * `DELETE /roles/:id`: deletes a custom role. While it is assigned, `reassignTo` must name another
 * custom role of the same scope (whose permissions the caller holds): every assignment moves there in
 * the same transaction, holders who already have it there keep theirs once. Otherwise 409 `role.in_use`.
 */
export async function deleteCustomRole(db: Database, caller: RoleCaller, roleId: string, reassignTo: string | undefined): Promise<void> {
  if (reassignTo !== undefined && reassignTo.toLowerCase() === roleId.toLowerCase()) {
    throw new AppError('request.validation_failed', 'A role cannot be reassigned to itself: name another custom role of the same scope.', {
      errors: [{ in: 'querystring', field: '/reassignTo', message: 'must be another role than the one deleted' }],
    });
  }
  await writeRoles(db, caller, async (tx) => {
    const role = await getRoleForChange(tx, caller, roleId, 'delete');
    const target = reassignTo === undefined ? null : await getReassignmentTarget(tx, caller, role, reassignTo);
    if (role.assignments > 0 && target === null) {
      throw new AppError(
        'role.in_use',
        `The role is still held by ${role.holders} ${role.holders === 1 ? 'person' : 'people'} (${role.assignments} assignment${role.assignments === 1 ? '' : 's'}): ` +
          'remove them first, or pass ?reassignTo= another custom role of the same scope to move them there.',
        { holders: role.holders, assignments: role.assignments },
      );
    }
    const moved = target === null ? 0 : await reassignRole(tx, caller.tenantId, role.id, target.id, caller.userId);
    await deleteRole(tx, caller.tenantId, role.id);
    await recordRoleChange(tx, caller, 'role.deleted', role, {
      before: presentRole(role, role.holders),
      after: target === null ? null : { reassignTo: target.id, moved },
      event: { reassignTo: target?.id ?? null },
    });
  });
}

/** The role the deleted role's assignments move to: another custom role of its scope the caller may grant. */
async function getReassignmentTarget(tx: Tx, caller: RoleCaller, role: RoleRow, targetId: string): Promise<RoleRow> {
  const [target] = await findRoles(tx, caller.tenantId, [targetId]);
  if (!target) throw new AppError('role.not_found', 'No role of this tenant has the id given in reassignTo.');
  if (target.key !== null) {
    throw new AppError(
      'role.scope_mismatch',
      'Assignments can only move to a custom role: built-in roles are held differently (owner/admin/member through the membership, store roles through the store assignment).',
    );
  }
  if (target.scope !== role.scope) {
    throw new AppError('role.scope_mismatch', `reassignTo names a ${target.scope}-scope role, and this role is ${role.scope}-scope: assignments move only between roles of the same scope.`);
  }
  assertCanGrant(caller.actor, caller.grants, target.permissions.filter(isPermission));
  return target;
}
