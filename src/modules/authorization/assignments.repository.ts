/**
 * Queries on who holds which role: a member's built-in tenant role (`memberships.role`), their built-in
 * store roles (`store_members.role`) and their custom roles (`role_assignments`). `tenantId` is always the
 * first argument and leads every WHERE clause (DESIGN §5); row-level security is the backstop behind it.
 */
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Tx } from '../../core/db/database.js';
import { memberships, type MembershipRole } from '../../core/tenancy/tenancy.table.js';
import { storeMembers, stores, type StoreRole } from '../organization/organization.table.js';
import { roleAssignments, type BuiltinRoleKey, type RoleScope } from './authorization.table.js';

/** Where a member's role comes from: their membership, a store they are assigned to, or an assignment. */
export type RoleSource = 'membership' | 'store' | 'assignment';

export interface HeldRoleRow {
  source: RoleSource;
  roleId: string;
  key: BuiltinRoleKey | null;
  name: string;
  scope: RoleScope;
  storeId: string | null;
  /** ISO-8601 UTC (formatted by the database, identically on both drivers). */
  assignedAt: string;
}

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/**
 * Every role the member holds, in one statement: the built-in tenant role first, then their custom
 * tenant roles, then per store (by id) the built-in store role and the custom roles there. Stores that
 * are deleted (restorable) are left out: nobody acts in them. No rows: not a member of this tenant.
 * `assignedAt` is when the membership last changed (for the tenant role), when the person was assigned
 * to the store (store role), or when the assignment was made.
 */
export async function listHeldRoles(tx: Tx, tenantId: string, userId: string): Promise<HeldRoleRow[]> {
  const result = await tx.execute<{
    source: RoleSource;
    role_id: string;
    key: BuiltinRoleKey | null;
    name: string;
    scope: RoleScope;
    store_id: string | null;
    assigned_at: string;
  }>(sql`
    SELECT h.source, r.id AS role_id, r.key, r.name, r.scope, h.store_id,
           to_char(h.assigned_at AT TIME ZONE 'UTC', ${sql.raw(ISO)}) AS assigned_at
      FROM (
        SELECT 0 AS rank, 'membership' AS source, NULL::uuid AS role_id, m.role AS key, NULL::uuid AS store_id, m.updated_at AS assigned_at
          FROM memberships m
         WHERE m.tenant_id = ${tenantId} AND m.user_id = ${userId}
        UNION ALL
        SELECT 1, 'store', NULL::uuid, sm.role, sm.store_id, sm.created_at
          FROM store_members sm
          JOIN stores s ON s.tenant_id = sm.tenant_id AND s.id = sm.store_id AND s.deleted_at IS NULL
         WHERE sm.tenant_id = ${tenantId} AND sm.user_id = ${userId}
        UNION ALL
        SELECT 2, 'assignment', a.role_id, NULL, a.store_id, a.created_at
          FROM role_assignments a
          LEFT JOIN stores s ON s.tenant_id = a.tenant_id AND s.id = a.store_id
         WHERE a.tenant_id = ${tenantId} AND a.user_id = ${userId} AND (a.store_id IS NULL OR s.deleted_at IS NULL)
      ) h
      JOIN roles r ON r.tenant_id = ${tenantId} AND (r.id = h.role_id OR (h.role_id IS NULL AND r.key = h.key))
     ORDER BY h.store_id IS NOT NULL, h.store_id, h.rank, h.assigned_at, r.id`);
  return result.rows.map((row) => ({
    source: row.source,
    roleId: row.role_id,
    key: row.key,
    name: row.name,
    scope: row.scope,
    storeId: row.store_id,
    assignedAt: row.assigned_at,
  }));
}

export interface MembershipStanding {
  role: MembershipRole;
  status: 'active' | 'deactivated';
}

/** The membership, locked until the transaction ends (role changes of one member serialise), or null. */
export async function lockMembership(tx: Tx, tenantId: string, userId: string): Promise<MembershipStanding | null> {
  const [row] = await tx
    .select({ role: memberships.role, status: memberships.status })
    .from(memberships)
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)))
    .for('update');
  return row ?? null;
}

/** Sets the member's built-in tenant role (the one they hold is replaced). */
export async function updateBaseRole(tx: Tx, tenantId: string, userId: string, role: MembershipRole): Promise<void> {
  await tx
    .update(memberships)
    .set({ role, updatedAt: sql`now()` })
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)));
}

/** Whether `storeId` is a live store of the tenant (another tenant's id is simply not one). */
export async function isLiveStore(tx: Tx, tenantId: string, storeId: string): Promise<boolean> {
  const [row] = await tx
    .select({ id: stores.id })
    .from(stores)
    .where(and(eq(stores.tenantId, tenantId), eq(stores.id, storeId), isNull(stores.deletedAt)));
  return row !== undefined;
}

/** The person's built-in role in the store, or null when they are not assigned to it. */
export async function findStoreRole(tx: Tx, tenantId: string, storeId: string, userId: string): Promise<StoreRole | null> {
  const [row] = await tx
    .select({ role: storeMembers.role })
    .from(storeMembers)
    .where(and(eq(storeMembers.tenantId, tenantId), eq(storeMembers.storeId, storeId), eq(storeMembers.userId, userId)));
  return row?.role ?? null;
}

/** Assigns the person to the store with `role`, or sets `role` if they are assigned already. */
export async function upsertStoreRole(tx: Tx, tenantId: string, storeId: string, userId: string, role: StoreRole): Promise<void> {
  await tx
    .insert(storeMembers)
    .values({ tenantId, storeId, userId, role })
    .onConflictDoUpdate({ target: [storeMembers.tenantId, storeMembers.storeId, storeMembers.userId], set: { role } });
}

/** Assigns the person to the store as `store_staff` unless they are assigned already (whatever their role). */
export async function ensureInStore(tx: Tx, tenantId: string, storeId: string, userId: string): Promise<void> {
  await tx.insert(storeMembers).values({ tenantId, storeId, userId, role: 'store_staff' }).onConflictDoNothing();
}

/**
 * Removes the person from the store if `role` is their role there; their custom roles in that store go
 * with the row (FK cascade). Whether a row was removed.
 */
export async function deleteStoreRole(tx: Tx, tenantId: string, storeId: string, userId: string, role: StoreRole): Promise<boolean> {
  const rows = await tx
    .delete(storeMembers)
    .where(and(eq(storeMembers.tenantId, tenantId), eq(storeMembers.storeId, storeId), eq(storeMembers.userId, userId), eq(storeMembers.role, role)))
    .returning({ userId: storeMembers.userId });
  return rows.length > 0;
}

/** The custom roles the person holds in the store (they leave with the person's store role). */
export async function findStoreAssignmentRoleIds(tx: Tx, tenantId: string, storeId: string, userId: string): Promise<string[]> {
  const rows = await tx
    .select({ roleId: roleAssignments.roleId })
    .from(roleAssignments)
    .where(and(eq(roleAssignments.tenantId, tenantId), eq(roleAssignments.storeId, storeId), eq(roleAssignments.userId, userId)));
  return rows.map((row) => row.roleId);
}

const sameHolding = (tenantId: string, userId: string, roleId: string, storeId: string | null) =>
  and(
    eq(roleAssignments.tenantId, tenantId),
    eq(roleAssignments.userId, userId),
    eq(roleAssignments.roleId, roleId),
    storeId === null ? isNull(roleAssignments.storeId) : eq(roleAssignments.storeId, storeId),
  );

/** Gives the member a custom role (tenant-wide when `storeId` is null); false when they hold it already. */
export async function insertAssignment(tx: Tx, tenantId: string, assignment: { userId: string; roleId: string; storeId: string | null; assignedBy: string }): Promise<boolean> {
  const rows = await tx
    .insert(roleAssignments)
    .values({ tenantId, ...assignment })
    // The only possible conflict is role_assignments_holder_key (nulls not distinct): already held.
    .onConflictDoNothing()
    .returning({ id: roleAssignments.id });
  return rows.length > 0;
}

/** Takes a custom role from the member (there, or tenant-wide when `storeId` is null); whether one was held. */
export async function deleteAssignment(tx: Tx, tenantId: string, userId: string, roleId: string, storeId: string | null): Promise<boolean> {
  const rows = await tx.delete(roleAssignments).where(sameHolding(tenantId, userId, roleId, storeId)).returning({ id: roleAssignments.id });
  return rows.length > 0;
}
