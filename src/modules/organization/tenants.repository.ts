/**
 * Queries on the tenant row and the memberships that make up its ownership. `tenantId` is always the
 * first argument and in every WHERE clause (DESIGN §5); the unit of work's RLS context is the backstop.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Tx } from '../../core/db/database.js';
import { memberships, tenants, users, type MembershipRole } from '../../core/tenancy/tenancy.table.js';

export type TenantRow = typeof tenants.$inferSelect;
export type MembershipRow = typeof memberships.$inferSelect;

export async function findTenant(tx: Tx, tenantId: string): Promise<TenantRow | null> {
  const [row] = await tx.select().from(tenants).where(eq(tenants.id, tenantId));
  return row ?? null;
}

/**
 * The tenant row, locked until the transaction ends, so changes of its status, slug and ownership are
 * serialised. NO KEY UPDATE rather than UPDATE: inserts into the tenant's other tables take KEY SHARE on
 * this row (their foreign key), and must not queue behind it.
 */
export async function lockTenant(tx: Tx, tenantId: string): Promise<TenantRow | null> {
  const [row] = await tx.select().from(tenants).where(eq(tenants.id, tenantId)).for('no key update');
  return row ?? null;
}

/** Inserts a tenant under the first of `slugs` nobody holds (the unique index decides, whatever RLS hides). */
export async function insertTenantWithFreeSlug(tx: Tx, tenantId: string, name: string, slugs: readonly string[]): Promise<TenantRow | null> {
  for (const slug of slugs) {
    const [row] = await tx.insert(tenants).values({ id: tenantId, name, slug }).onConflictDoNothing().returning();
    if (row) return row;
  }
  return null;
}

export async function updateTenantProfile(tx: Tx, tenantId: string, changes: { name?: string; slug?: string }): Promise<TenantRow> {
  const [row] = await tx
    .update(tenants)
    .set(changes)
    .where(eq(tenants.id, tenantId))
    .returning();
  return row!;
}

export async function updateTenantSettings(tx: Tx, tenantId: string, settings: Record<string, unknown>): Promise<TenantRow> {
  const [row] = await tx.update(tenants).set({ settings }).where(eq(tenants.id, tenantId)).returning();
  return row!;
}

export async function markTenantClosed(tx: Tx, tenantId: string): Promise<TenantRow> {
  const [row] = await tx
    .update(tenants)
    .set({ status: 'closed', closedAt: sql`now()` })
    .where(eq(tenants.id, tenantId))
    .returning();
  return row!;
}

export async function markTenantRestored(tx: Tx, tenantId: string): Promise<TenantRow> {
  const [row] = await tx
    .update(tenants)
    .set({ status: 'active', closedAt: null })
    .where(eq(tenants.id, tenantId))
    .returning();
  return row!;
}

/** Deletes the tenant row; every tenant table's foreign key cascades from it. Returns whether it existed. */
export async function deleteTenant(tx: Tx, tenantId: string): Promise<boolean> {
  const deleted = await tx.delete(tenants).where(eq(tenants.id, tenantId)).returning({ id: tenants.id });
  return deleted.length > 0;
}

export async function insertMembership(tx: Tx, tenantId: string, userId: string, role: MembershipRole): Promise<void> {
  await tx.insert(memberships).values({ tenantId, userId, role });
}

/** The owner's membership, locked: ownership changes of one tenant queue behind each other. */
export async function lockOwnerMembership(tx: Tx, tenantId: string): Promise<MembershipRow | null> {
  const [row] = await tx
    .select()
    .from(memberships)
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.role, 'owner')))
    .for('update');
  return row ?? null;
}

/** A membership with its person's account status, locked. */
export async function lockMembership(tx: Tx, tenantId: string, userId: string): Promise<(MembershipRow & { userStatus: string }) | null> {
  const [row] = await tx
    .select({ membership: memberships, userStatus: users.status })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)))
    .for('update', { of: memberships });
  return row ? { ...row.membership, userStatus: row.userStatus } : null;
}

export async function setMembershipRole(tx: Tx, tenantId: string, userId: string, role: MembershipRole): Promise<void> {
  await tx
    .update(memberships)
    .set({ role })
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)));
}

/** Removes a membership; the person's store assignments in the tenant cascade from it. */
export async function deleteMembership(tx: Tx, tenantId: string, userId: string): Promise<void> {
  await tx.delete(memberships).where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)));
}

/** What a password check needs about a person (users is a global table: no tenant in the key). */
export async function findPasswordHolder(tx: Tx, userId: string): Promise<{ id: string; passwordHash: string | null; status: string } | null> {
  const [row] = await tx.select({ id: users.id, passwordHash: users.passwordHash, status: users.status }).from(users).where(eq(users.id, userId));
  return row ?? null;
}
