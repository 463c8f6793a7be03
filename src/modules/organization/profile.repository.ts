/**
 * Queries about one person across tenants: their profile (the global users row), their memberships
 * (read through the own-membership RLS policies, so the unit of work must carry them as `app.user_id`),
 * and what deleting the account touches in each of their tenants.
 */
import { and, eq, ne, sql } from 'drizzle-orm';
import type { Tx } from '../../core/db/database.js';
import { memberships, personMemberships, users, type MembershipRole, type TenantStatus } from '../../core/tenancy/tenancy.table.js';

export type UserRow = typeof users.$inferSelect;

export interface ProfileColumns {
  name?: string;
  locale?: string | null;
  timezone?: string | null;
  phone?: string | null;
}

export async function findUser(tx: Tx, userId: string): Promise<UserRow | null> {
  const [row] = await tx.select().from(users).where(eq(users.id, userId));
  return row ?? null;
}

/** Locks the person's row for the rest of the transaction (account deletion against concurrent changes). */
export async function lockUser(tx: Tx, userId: string): Promise<UserRow | null> {
  const [row] = await tx.select().from(users).where(eq(users.id, userId)).for('update');
  return row ?? null;
}

/** Applies profile changes to an active person; returns the row as it now is, or null. */
export async function updateProfile(tx: Tx, userId: string, changes: ProfileColumns): Promise<UserRow | null> {
  const [row] = await tx
    .update(users)
    .set({ ...changes, updatedAt: sql`now()` })
    .where(and(eq(users.id, userId), eq(users.status, 'active')))
    .returning();
  return row ?? null;
}

export interface OwnTenantRow {
  /** lower(name) as the database computes it: the sort key, so the cursor compares the way the ORDER BY does. */
  sortName: string;
  tenantId: string;
  tenantName: string;
  tenantSlug: string;
  tenantStatus: TenantStatus;
  role: MembershipRole;
  status: 'active' | 'deactivated';
}

/** The position after which a page of own tenants starts: (lower(name), id) of the last row served. */
export interface OwnTenantKey {
  name: string;
  id: string;
}

/**
 * Up to `limit` of the person's memberships with their tenants, by tenant name (then id: names are not
 * unique), strictly after `after`. Filtered by the person's id as well as by the RLS policies.
 */
export async function listOwnTenants(tx: Tx, userId: string, after: OwnTenantKey | null, limit: number): Promise<OwnTenantRow[]> {
  const where = [eq(personMemberships.userId, userId)];
  if (after) where.push(sql`(lower(${personMemberships.tenantName}), ${personMemberships.tenantId}) > (${after.name}, ${after.id}::uuid)`);
  return tx
    .select({
      sortName: sql<string>`lower(${personMemberships.tenantName})`,
      tenantId: personMemberships.tenantId,
      tenantName: personMemberships.tenantName,
      tenantSlug: personMemberships.tenantSlug,
      tenantStatus: personMemberships.tenantStatus,
      role: personMemberships.role,
      status: personMemberships.status,
    })
    .from(personMemberships)
    .where(and(...where))
    .orderBy(sql`lower(${personMemberships.tenantName})`, personMemberships.tenantId)
    .limit(limit);
}

/**
 * Every membership of the person with its tenant. Not locked: FOR UPDATE would apply the tenant policies,
 * which see only the context's tenant; the caller locks the person's row instead.
 */
export async function listAllOwnMemberships(tx: Tx, userId: string): Promise<Array<{ tenantId: string; role: MembershipRole; tenantStatus: TenantStatus; tenantName: string; tenantSlug: string }>> {
  return tx
    .select({
      tenantId: personMemberships.tenantId,
      role: personMemberships.role,
      tenantStatus: personMemberships.tenantStatus,
      tenantName: personMemberships.tenantName,
      tenantSlug: personMemberships.tenantSlug,
    })
    .from(personMemberships)
    .where(eq(personMemberships.userId, userId))
    .orderBy(personMemberships.tenantId);
}

/**
 * Moves the transaction's tenant context (RLS, audit rows, outbox events) to `tenantId`. Account deletion
 * touches every tenant of the person in one transaction, so it acts in each in turn; the setting stays
 * transaction-local, as the unit of work's own is (DESIGN §5).
 */
export async function actInTenant(tx: Tx, tenantId: string | null): Promise<void> {
  await tx.execute(sql`SELECT set_config('app.tenant_id', ${tenantId ?? ''}, true)`);
}

/** Whether anyone but `userId` is a member (active or deactivated) of the tenant. Needs its context. */
export async function hasOtherMembers(tx: Tx, tenantId: string, userId: string): Promise<boolean> {
  const [row] = await tx
    .select({ userId: memberships.userId })
    .from(memberships)
    .where(and(eq(memberships.tenantId, tenantId), ne(memberships.userId, userId)))
    .limit(1);
  return row !== undefined;
}

/** Deletes the person: sessions, one-time tokens, recovery codes, memberships and store assignments cascade. */
export async function deleteUser(tx: Tx, userId: string): Promise<void> {
  await tx.delete(users).where(eq(users.id, userId));
}
