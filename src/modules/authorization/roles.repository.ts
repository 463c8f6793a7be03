/**
 * Queries on roles and who holds them. `tenantId` is always the first argument and always in the WHERE
 * clause (DESIGN §5, layer 2); row-level security is the backstop behind it.
 */
import { and, eq, getTableColumns, isNull, sql, type SQL } from 'drizzle-orm';
import type { Tx } from '../../core/db/database.js';
import { memberships } from '../../core/tenancy/tenancy.table.js';
import { storeMembers, stores } from '../organization/organization.table.js';
import { roleAssignments, roles, type RoleScope } from './authorization.table.js';
import type { RoleRow } from './role-grants.js';

export type RoleChanges = Partial<Pick<RoleRow, 'name' | 'description' | 'permissions'>>;

/** A role with how many people hold it, and where it sorts in the list. */
export type RoleWithHolders = RoleRow & { holders: number; rank: number; sortName: string };

/** Built-ins first, in this order; custom roles after them (rank 5), by name. */
const rank = sql<number>`coalesce(array_position(array['owner', 'admin', 'member', 'store_manager', 'store_staff']::text[], ${roles.key}), 6) - 1`;

/**
 * People holding the role: custom roles through role_assignments (tenant-wide or in any store, deleted
 * stores included, since those assignments still block the deletion), owner/admin/member through the
 * membership's role, the built-in store roles through store_members of live stores. Correlated counts:
 * each reads one role's rows through an index that leads with tenant_id. (Columns qualified by hand:
 * drizzle leaves them bare in a one-table select, which the subqueries would make ambiguous.)
 */
const holders = sql<number>`(case
  when roles.key is null then (select count(distinct a.user_id) from ${roleAssignments} a where a.tenant_id = roles.tenant_id and a.role_id = roles.id)
  when roles.scope = 'tenant' then (select count(*) from ${memberships} m where m.tenant_id = roles.tenant_id and m.role = roles.key)
  else (select count(distinct sm.user_id) from ${storeMembers} sm join ${stores} s on s.tenant_id = sm.tenant_id and s.id = sm.store_id
        where sm.tenant_id = roles.tenant_id and sm.role = roles.key and s.deleted_at is null)
end)::int`;

const withHolders = { ...getTableColumns(roles), holders, rank, sortName: sql<string>`lower(${roles.name})` };

export interface RoleListKey {
  /** Rank of the last row served (0–4 built-ins, 5 custom). */
  r: number;
  /** Its lower(name). */
  n: string;
  id: string;
}

/**
 * One page of the tenant's roles — built-ins in their fixed order, then custom roles by name
 * (case-insensitively, then id) — `limit + 1` rows so the caller can tell whether more follow.
 */
export async function listRoles(tx: Tx, tenantId: string, options: { scope?: RoleScope; after: RoleListKey | null; limit: number }): Promise<RoleWithHolders[]> {
  const filters: Array<SQL | undefined> = [eq(roles.tenantId, tenantId)];
  if (options.scope) filters.push(eq(roles.scope, options.scope));
  if (options.after) filters.push(sql`(${rank}, lower(${roles.name}), ${roles.id}) > (${options.after.r}::int, ${options.after.n}::text, ${options.after.id}::uuid)`);
  return tx
    .select(withHolders)
    .from(roles)
    .where(and(...filters))
    .orderBy(rank, sql`lower(${roles.name})`, roles.id)
    .limit(options.limit + 1);
}

/** The tenant's role with this id and its holder count, or null. */
export async function findRoleWithHolders(tx: Tx, tenantId: string, roleId: string): Promise<RoleWithHolders | null> {
  const [row] = await tx
    .select(withHolders)
    .from(roles)
    .where(and(eq(roles.tenantId, tenantId), eq(roles.id, roleId)));
  return row ?? null;
}

/**
 * The tenant's role with this id, locked against concurrent changes until the transaction ends, with
 * how many assignments it has (and people holding them) and whether `userId` holds it (anywhere); null
 * when there is no such role.
 */
export async function findRoleForChange(tx: Tx, tenantId: string, roleId: string, userId: string): Promise<(RoleRow & { assignments: number; holders: number; heldByUser: boolean }) | null> {
  const [row] = await tx
    .select({
      ...getTableColumns(roles),
      assignments: sql<number>`(select count(*) from ${roleAssignments} a where a.tenant_id = roles.tenant_id and a.role_id = roles.id)::int`,
      holders: sql<number>`(select count(distinct a.user_id) from ${roleAssignments} a where a.tenant_id = roles.tenant_id and a.role_id = roles.id)::int`,
      heldByUser: sql<boolean>`exists (select 1 from ${roleAssignments} a where a.tenant_id = roles.tenant_id and a.role_id = roles.id and a.user_id = ${userId})`,
    })
    .from(roles)
    .where(and(eq(roles.tenantId, tenantId), eq(roles.id, roleId)))
    .for('update');
  return row ?? null;
}

/**
 * Serialises the creation of custom roles in one tenant (transaction-scoped advisory lock), so the cap
 * on their number holds under concurrent requests; nothing else waits on it.
 */
export async function lockTenantRoleCreation(tx: Tx, tenantId: string): Promise<void> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`roles:${tenantId}`}, 0))`);
}

/** How many custom roles the tenant has. */
export async function countCustomRoles(tx: Tx, tenantId: string): Promise<number> {
  const [row] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(roles)
    .where(and(eq(roles.tenantId, tenantId), isNull(roles.key)));
  return row?.n ?? 0;
}

export async function insertRole(tx: Tx, tenantId: string, role: { name: string; description: string; scope: RoleScope; permissions: string[] }): Promise<RoleRow> {
  const [row] = await tx
    .insert(roles)
    .values({ ...role, tenantId })
    .returning();
  return row!;
}

/** Applies `changes` to a custom role; the row after. */
export async function updateRole(tx: Tx, tenantId: string, roleId: string, changes: RoleChanges): Promise<RoleRow> {
  const [row] = await tx
    .update(roles)
    .set({ ...changes, updatedAt: sql`now()` })
    .where(and(eq(roles.tenantId, tenantId), eq(roles.id, roleId), isNull(roles.key)))
    .returning();
  return row!;
}

/**
 * Moves every assignment of `fromRoleId` to `toRoleId` (same person, same store), dropping those whose
 * holder already has the target role there; answers how many assignments the deleted role had.
 */
export async function reassignRole(tx: Tx, tenantId: string, fromRoleId: string, toRoleId: string, assignedBy: string): Promise<number> {
  const dropped = await tx
    .delete(roleAssignments)
    .where(
      and(
        eq(roleAssignments.tenantId, tenantId),
        eq(roleAssignments.roleId, fromRoleId),
        sql`exists (select 1 from ${roleAssignments} b where b.tenant_id = ${tenantId} and b.role_id = ${toRoleId}
          and b.user_id = role_assignments.user_id and b.store_id is not distinct from role_assignments.store_id)`,
      ),
    )
    .returning({ id: roleAssignments.id });
  const moved = await tx
    .update(roleAssignments)
    .set({ roleId: toRoleId, assignedBy })
    .where(and(eq(roleAssignments.tenantId, tenantId), eq(roleAssignments.roleId, fromRoleId)))
    .returning({ id: roleAssignments.id });
  return dropped.length + moved.length;
}

/** Deletes a custom role (its assignments must be gone: the foreign key refuses otherwise). */
export async function deleteRole(tx: Tx, tenantId: string, roleId: string): Promise<void> {
  await tx.delete(roles).where(and(eq(roles.tenantId, tenantId), eq(roles.id, roleId), isNull(roles.key)));
}
