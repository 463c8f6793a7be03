/**
 * Queries on the members of a tenant: memberships joined to the global users, with their store
 * assignments. tenantId is always the first argument and leads every WHERE clause (DESIGN §5); the unit of
 * work carries the same tenant as its RLS context.
 */
import { and, eq, sql, type SQL } from 'drizzle-orm';
import type { Tx } from '../../core/db/database.js';
import { memberships, tenants, users, type MembershipRole } from '../../core/tenancy/tenancy.table.js';
import { roles, type BuiltinRoleKey } from '../authorization/index.js';
import { storeMembers } from './organization.table.js';

export interface MemberRow {
  id: string;
  email: string;
  name: string;
  role: MembershipRole;
  status: 'active' | 'deactivated';
  title: string | null;
  /** When the membership was created, `YYYY-MM-DDTHH:MM:SS.ffffffZ`: full precision, for the keyset. */
  joinedAt: string;
  storeIds: string[];
}

export interface MemberFilter {
  search?: string;
  status?: 'active' | 'deactivated';
  role?: MembershipRole;
  storeId?: string;
  /** Only holders of this role (the `roleId` filter, its kind read first: findHeldRole). */
  heldRole?: HeldRoleFilter;
}

/** A role of the tenant as the member filter needs it: its id, and its key when it is built in. */
export interface HeldRoleFilter {
  id: string;
  key: BuiltinRoleKey | null;
}

/** The role `roleId` names in this tenant, or null (unknown, or another tenant's). */
export async function findHeldRole(tx: Tx, tenantId: string, roleId: string): Promise<HeldRoleFilter | null> {
  const [row] = await tx
    .select({ id: roles.id, key: roles.key })
    .from(roles)
    .where(and(eq(roles.tenantId, tenantId), eq(roles.id, roleId)));
  return row ?? null;
}

/** Live stores only: an assignment to a soft-deleted store is kept for a restore, but grants nothing. */
const LIVE_STORE = (tenantId: string, storeId: SQL) =>
  sql`EXISTS (SELECT 1 FROM stores s WHERE s.tenant_id = ${tenantId} AND s.id = ${storeId} AND s.deleted_at IS NULL)`;

/** The condition on membership `m` of holding `role`: by membership role, store assignment or role assignment. */
function holdsRole(tenantId: string, role: HeldRoleFilter): SQL {
  if (role.key === 'owner' || role.key === 'admin' || role.key === 'member') return sql`m.role = ${role.key}`;
  if (role.key !== null) {
    return sql`EXISTS (SELECT 1 FROM store_members sm
                        WHERE sm.tenant_id = ${tenantId} AND sm.user_id = m.user_id AND sm.role = ${role.key} AND ${LIVE_STORE(tenantId, sql`sm.store_id`)})`;
  }
  return sql`EXISTS (SELECT 1 FROM role_assignments a
                      WHERE a.tenant_id = ${tenantId} AND a.role_id = ${role.id} AND a.user_id = m.user_id
                        AND (a.store_id IS NULL OR ${LIVE_STORE(tenantId, sql`a.store_id`)}))`;
}

/** The position after which a page starts: the sort key (joinedAt, id) of the last row served. */
export interface MemberKey {
  joinedAt: string;
  id: string;
}

/** `ILIKE` pattern matching `text` anywhere, with the pattern characters in it taken literally. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

/**
 * One page of members (or the one member of `where`), in one statement. The inner query picks the page
 * from the tenant's memberships alone — through an index that leads with tenant_id (memberships_pkey,
 * memberships_tenant_status_idx), filtered, sorted by (created_at, user_id), cut to `limit` — so only the
 * rows served are joined to users and given their store ids (a correlated array over
 * store_members_user_idx per served row: no N+1, and no join of every member before the sort). Measured
 * on PostgreSQL with 1,000 members among 10,000 tenants: half the time of joining users before the sort.
 * Assignments to soft-deleted stores are kept for a restore but not shown.
 */
async function selectMembers(tx: Tx, tenantId: string, where: SQL[], limit: number): Promise<MemberRow[]> {
  const result = await tx.execute<{
    id: string;
    email: string;
    name: string;
    role: MembershipRole;
    status: 'active' | 'deactivated';
    title: string | null;
    joined_at: string;
    store_ids: string[];
  }>(sql`
    SELECT p.id, u.email, u.name, p.role, p.status, p.title,
           to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS joined_at,
           ARRAY(SELECT sm.store_id::text
                   FROM store_members sm
                   JOIN stores s ON s.tenant_id = sm.tenant_id AND s.id = sm.store_id AND s.deleted_at IS NULL
                  WHERE sm.tenant_id = ${tenantId} AND sm.user_id = p.id
                  ORDER BY sm.store_id) AS store_ids
      FROM (SELECT m.user_id AS id, m.role, m.status, m.title, m.created_at
              FROM memberships m
             WHERE m.tenant_id = ${tenantId} AND ${sql.join(where, sql` AND `)}
             ORDER BY m.created_at, m.user_id
             LIMIT ${limit}) p
      JOIN users u ON u.id = p.id
     ORDER BY p.created_at, p.id`);
  return result.rows.map((row) => ({
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    status: row.status,
    title: row.title,
    joinedAt: row.joined_at,
    storeIds: row.store_ids,
  }));
}

/** Up to `limit` members matching `filter`, strictly after `after` in (joinedAt, id) order. */
export function listMembers(tx: Tx, tenantId: string, filter: MemberFilter, after: MemberKey | null, limit: number): Promise<MemberRow[]> {
  const where: SQL[] = [sql`true`];
  if (filter.status) where.push(sql`m.status = ${filter.status}`);
  if (filter.role) where.push(sql`m.role = ${filter.role}`);
  if (filter.search) {
    const pattern = containsPattern(filter.search);
    where.push(sql`EXISTS (SELECT 1 FROM users u WHERE u.id = m.user_id AND (u.name ILIKE ${pattern} OR u.email ILIKE ${pattern}))`);
  }
  if (filter.storeId) {
    // Another tenant's store id matches nothing: the assignment is looked up inside this tenant.
    where.push(sql`EXISTS (SELECT 1 FROM store_members sm
                             JOIN stores s ON s.tenant_id = sm.tenant_id AND s.id = sm.store_id AND s.deleted_at IS NULL
                            WHERE sm.tenant_id = ${tenantId} AND sm.store_id = ${filter.storeId} AND sm.user_id = m.user_id)`);
  }
  if (filter.heldRole) where.push(holdsRole(tenantId, filter.heldRole));
  if (after) where.push(sql`(m.created_at, m.user_id) > (${after.joinedAt}::timestamptz, ${after.id}::uuid)`);
  return selectMembers(tx, tenantId, where, limit);
}

/** The member `userId` of the tenant, or null (unknown, or a member of another tenant only). */
export async function findMember(tx: Tx, tenantId: string, userId: string): Promise<MemberRow | null> {
  const [row] = await selectMembers(tx, tenantId, [sql`m.user_id = ${userId}`], 1);
  return row ?? null;
}

export interface MembershipRecord {
  role: MembershipRole;
  status: 'active' | 'deactivated';
  title: string | null;
}

/** The membership, locked until the transaction ends (concurrent changes of one member serialise), or null. */
export async function lockMembership(tx: Tx, tenantId: string, userId: string): Promise<MembershipRecord | null> {
  const [row] = await tx
    .select({ role: memberships.role, status: memberships.status, title: memberships.title })
    .from(memberships)
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)))
    .for('update');
  return row ?? null;
}

export async function updateMembership(tx: Tx, tenantId: string, userId: string, changes: Partial<MembershipRecord>): Promise<void> {
  await tx
    .update(memberships)
    .set({ ...changes, updatedAt: sql`now()` })
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)));
}

/** Removes the membership; its store assignments go with it (composite FK, on delete cascade). */
export async function deleteMembership(tx: Tx, tenantId: string, userId: string): Promise<boolean> {
  const deleted = await tx
    .delete(memberships)
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)))
    .returning({ userId: memberships.userId });
  return deleted.length > 0;
}

/** The tenant's name (for mails), or null. Needs the tenant as the unit of work's context. */
export async function findTenantName(tx: Tx, tenantId: string): Promise<string | null> {
  const [row] = await tx.select({ name: tenants.name }).from(tenants).where(eq(tenants.id, tenantId));
  return row?.name ?? null;
}

/** Whether any person (in any tenant) has this address, in any capitalisation. */
export async function isEmailRegistered(tx: Tx, email: string): Promise<boolean> {
  const [row] = await tx
    .select({ id: users.id })
    .from(users)
    .where(sql`lower(${users.email}) = lower(${email})`);
  return row !== undefined;
}

export interface NewMember {
  userId: string;
  email: string;
  name: string;
  passwordHash: string | null;
  role: Exclude<MembershipRole, 'owner'>;
  storeIds: string[];
}

/**
 * Creates the person, their membership in the tenant and their store assignments. Returns false when the
 * address was registered meanwhile (the unique index on lower(email) settles the race; nothing is written).
 */
export async function insertMember(tx: Tx, tenantId: string, member: NewMember): Promise<boolean> {
  const [user] = await tx
    .insert(users)
    .values({
      id: member.userId,
      email: member.email,
      name: member.name,
      passwordHash: member.passwordHash,
      passwordChangedAt: member.passwordHash ? sql`now()` : null,
    })
    .onConflictDoNothing()
    .returning({ id: users.id });
  if (!user) return false;
  await tx.insert(memberships).values({ tenantId, userId: member.userId, role: member.role });
  if (member.storeIds.length > 0) {
    await tx.insert(storeMembers).values(member.storeIds.map((storeId) => ({ tenantId, storeId, userId: member.userId })));
  }
  return true;
}
