/**
 * Queries behind invitations and their acceptance. Every function takes the tenant first and names it in
 * the WHERE clause (RLS is the backstop, not the filter). `users` is a global table: the two look-ups on
 * it take no tenant.
 */
import { and, desc, eq, isNotNull, isNull, lt, lte, gt, sql, type SQL } from 'drizzle-orm';
import type { Tx } from '../../core/db/database.js';
import { memberships, tenants, users, type MembershipRole } from '../../core/tenancy/tenancy.table.js';
import { roleAssignments } from '../authorization/index.js';
import { invitations, storeMembers } from './organization.table.js';

export type InvitationRow = typeof invitations.$inferSelect;
export type InvitationStatus = 'pending' | 'accepted' | 'revoked' | 'expired';
export type UserRow = typeof users.$inferSelect;

/** An invitation not yet accepted nor revoked (expired or not): the one the pending-address index counts. */
const isOpen = and(isNull(invitations.acceptedAt), isNull(invitations.revokedAt));

/** SQL for each status; `pending` and `expired` are read against the database clock, like acceptance. */
const STATUS_CONDITIONS: Record<InvitationStatus, SQL> = {
  pending: and(isOpen, gt(invitations.expiresAt, sql`now()`))!,
  expired: and(isOpen, lte(invitations.expiresAt, sql`now()`))!,
  accepted: isNotNull(invitations.acceptedAt),
  revoked: and(isNull(invitations.acceptedAt), isNotNull(invitations.revokedAt))!,
};

/** The status of a row at `now`. */
export function invitationStatus(row: Pick<InvitationRow, 'acceptedAt' | 'revokedAt' | 'expiresAt'>, now: Date = new Date()): InvitationStatus {
  if (row.acceptedAt) return 'accepted';
  if (row.revokedAt) return 'revoked';
  return row.expiresAt.getTime() <= now.getTime() ? 'expired' : 'pending';
}

/** One invitation; `forUpdate` holds off a concurrent acceptance, resend or revocation until commit. */
export async function findInvitation(tx: Tx, tenantId: string, id: string, options: { forUpdate?: boolean } = {}): Promise<InvitationRow | null> {
  const query = tx
    .select()
    .from(invitations)
    .where(and(eq(invitations.tenantId, tenantId), eq(invitations.id, id)));
  const [row] = options.forUpdate ? await query.for('update') : await query;
  return row ?? null;
}

/** The invitation an emailed token names (through the unique `(tenant_id, token_hash)` index). */
export async function findInvitationByTokenHash(tx: Tx, tenantId: string, tokenHash: string): Promise<InvitationRow | null> {
  const [row] = await tx
    .select()
    .from(invitations)
    .where(and(eq(invitations.tenantId, tenantId), eq(invitations.tokenHash, tokenHash)));
  return row ?? null;
}

/** The open (not accepted, not revoked) invitation for an address, locked for the caller's transaction. */
export async function findOpenInvitationByEmail(tx: Tx, tenantId: string, email: string): Promise<InvitationRow | null> {
  const [row] = await tx
    .select()
    .from(invitations)
    .where(and(eq(invitations.tenantId, tenantId), sql`lower(${invitations.email}) = lower(${email})`, isOpen))
    .for('update');
  return row ?? null;
}

export interface NewInvitation {
  email: string;
  /** `owner` only for the first owner of a tenant created by platform administration. */
  role: MembershipRole;
  storeIds: string[];
  /** Custom tenant-scope roles given on acceptance (default none). */
  roleIds?: string[];
  message: string | null;
  tokenHash: string;
  invitedBy: string;
  expiresAt: Date;
}

/** Inserts an invitation; null when another open invitation for the address won a race (unique index). */
export async function insertInvitation(tx: Tx, tenantId: string, values: NewInvitation): Promise<InvitationRow | null> {
  const [row] = await tx
    .insert(invitations)
    .values({ tenantId, ...values })
    .onConflictDoNothing()
    .returning();
  return row ?? null;
}

/** Revokes an open invitation; null when it is not open (accepted or already revoked). */
export async function revokeInvitation(tx: Tx, tenantId: string, id: string): Promise<InvitationRow | null> {
  const [row] = await tx
    .update(invitations)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(invitations.tenantId, tenantId), eq(invitations.id, id), isOpen))
    .returning();
  return row ?? null;
}

/** Gives an open invitation a new token and expiry (the old token stops matching); null when not open. */
export async function renewInvitationToken(tx: Tx, tenantId: string, id: string, tokenHash: string, expiresAt: Date): Promise<InvitationRow | null> {
  const [row] = await tx
    .update(invitations)
    .set({ tokenHash, expiresAt })
    .where(and(eq(invitations.tenantId, tenantId), eq(invitations.id, id), isOpen))
    .returning();
  return row ?? null;
}

/**
 * Marks the invitation accepted by `userId` if it is still pending under this very token: a concurrent
 * acceptance, a revocation, a resend (new token) or the expiry in between make it return null.
 */
export async function markInvitationAccepted(tx: Tx, tenantId: string, id: string, tokenHash: string, userId: string): Promise<InvitationRow | null> {
  const [row] = await tx
    .update(invitations)
    .set({ acceptedAt: sql`now()`, acceptedBy: userId })
    .where(and(eq(invitations.tenantId, tenantId), eq(invitations.id, id), eq(invitations.tokenHash, tokenHash), STATUS_CONDITIONS.pending))
    .returning();
  return row ?? null;
}

export interface InvitationListFilter {
  status?: InvitationStatus;
  limit: number;
  /** Keyset: the id of the last row of the previous page (newest first, ids are UUIDv7). */
  beforeId?: string;
}

/** One page (plus one row, to tell whether another page exists), newest first. */
export async function listInvitations(tx: Tx, tenantId: string, filter: InvitationListFilter): Promise<InvitationRow[]> {
  const conditions = [eq(invitations.tenantId, tenantId)];
  if (filter.status) conditions.push(STATUS_CONDITIONS[filter.status]);
  if (filter.beforeId) conditions.push(lt(invitations.id, filter.beforeId));
  return tx
    .select()
    .from(invitations)
    .where(and(...conditions))
    .orderBy(desc(invitations.id))
    .limit(filter.limit + 1);
}

export interface TenantFacts {
  id: string;
  name: string;
  status: string;
  settings: Record<string, unknown>;
}

/** The tenant's name, status and settings; `forShare` keeps a concurrent suspension or closure out until commit. */
export async function findTenant(tx: Tx, tenantId: string, options: { forShare?: boolean } = {}): Promise<TenantFacts | null> {
  const query = tx.select({ id: tenants.id, name: tenants.name, status: tenants.status, settings: tenants.settings }).from(tenants).where(eq(tenants.id, tenantId));
  const [row] = options.forShare ? await query.for('share') : await query;
  return row ?? null;
}

/** The membership (any status) of the person with this address in the tenant, or null. */
export async function findMembershipByEmail(tx: Tx, tenantId: string, email: string): Promise<{ userId: string; status: string } | null> {
  const [row] = await tx
    .select({ userId: memberships.userId, status: memberships.status })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.tenantId, tenantId), sql`lower(${users.email}) = lower(${email})`));
  return row ?? null;
}

export async function hasMembership(tx: Tx, tenantId: string, userId: string): Promise<boolean> {
  const [row] = await tx
    .select({ userId: memberships.userId })
    .from(memberships)
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)));
  return row !== undefined;
}

export async function insertMembership(tx: Tx, tenantId: string, userId: string, role: MembershipRole): Promise<void> {
  await tx.insert(memberships).values({ tenantId, userId, role });
}

export async function insertStoreAssignments(tx: Tx, tenantId: string, userId: string, storeIds: string[]): Promise<void> {
  if (storeIds.length === 0) return;
  await tx.insert(storeMembers).values(storeIds.map((storeId) => ({ tenantId, storeId, userId })));
}

/**
 * Gives custom roles — tenant-wide, or in `storeId` (where each person must be assigned) — skipping those
 * held already there; answers the holdings given now.
 */
export async function insertRoleAssignments(
  tx: Tx,
  tenantId: string,
  holdings: Array<{ userId: string; roleId: string }>,
  where: { storeId: string | null; assignedBy: string | null },
): Promise<Array<{ userId: string; roleId: string }>> {
  if (holdings.length === 0) return [];
  return (
    tx
      .insert(roleAssignments)
      .values(holdings.map((holding) => ({ tenantId, ...holding, ...where })))
      // The only possible conflict is role_assignments_holder_key (nulls not distinct): held already.
      .onConflictDoNothing()
      .returning({ userId: roleAssignments.userId, roleId: roleAssignments.roleId })
  );
}

/** The person with this address (case-insensitive, through the `lower(email)` unique index), or null. */
export async function findUserByEmail(tx: Tx, email: string): Promise<UserRow | null> {
  const [row] = await tx
    .select()
    .from(users)
    .where(sql`lower(${users.email}) = lower(${email})`);
  return row ?? null;
}

/** The person, locked when `forUpdate` (acceptance re-reads them inside its transaction). */
export async function findUserById(tx: Tx, userId: string, options: { forUpdate?: boolean } = {}): Promise<UserRow | null> {
  const query = tx.select().from(users).where(eq(users.id, userId));
  const [row] = options.forUpdate ? await query.for('update') : await query;
  return row ?? null;
}

/** Inserts a person; null when the address was registered meanwhile (the `lower(email)` unique index). */
export async function insertUser(tx: Tx, values: { id: string; email: string; name: string; passwordHash: string }): Promise<{ id: string } | null> {
  const [row] = await tx
    .insert(users)
    .values({ ...values, passwordChangedAt: sql`now()`, emailVerifiedAt: sql`now()` })
    .onConflictDoNothing()
    .returning({ id: users.id });
  return row ?? null;
}

/** Records that the person proved the address (the invitation reached it). */
export async function markEmailVerified(tx: Tx, userId: string): Promise<void> {
  await tx
    .update(users)
    .set({ emailVerifiedAt: sql`now()` })
    .where(and(eq(users.id, userId), isNull(users.emailVerifiedAt)));
}
