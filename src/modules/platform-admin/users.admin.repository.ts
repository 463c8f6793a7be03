/**
 * Queries of the platform's people: the global `users` and `sessions` tables, and memberships with their
 * tenants (RLS tables: readable across tenants only in a platform unit of work,
 * `db.transaction({ platform: true }, …)`). None takes a tenant: these are platform-wide by design.
 */
import { and, asc, desc, eq, inArray, isNotNull, isNull, lt, ne, or, sql, type SQL } from 'drizzle-orm';
import type { Tx } from '../../core/db/database.js';
import { memberships, tenants, users, type PlatformRole } from '../../core/tenancy/tenancy.table.js';
import { sessions } from '../identity/index.js';

/** The columns platform administration shows of a person. */
const userColumns = {
  id: users.id,
  email: users.email,
  name: users.name,
  status: users.status,
  platformRole: users.platformRole,
  createdAt: users.createdAt,
};

export interface AdminUserRow {
  id: string;
  email: string;
  name: string;
  status: 'active' | 'disabled';
  platformRole: PlatformRole | null;
  createdAt: Date;
}

export interface AdminMembershipRow {
  userId: string;
  tenantId: string;
  tenantName: string;
  tenantSlug: string;
  tenantStatus: 'active' | 'suspended' | 'closed';
  role: 'owner' | 'admin' | 'member';
  status: 'active' | 'deactivated';
}

/** Keyset of the people lists: the id (UUIDv7, so newest first is id descending). */
export interface UserListKey {
  id: string;
}

/** `%`, `_` and the escape character itself match literally (LIKE's default escape is `\`). */
function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (match) => `\\${match}`);
}

/** One page of people, newest first, `limit + 1` rows so the caller can tell whether more follow. */
export async function listUsers(
  tx: Tx,
  options: { search?: string; status?: 'active' | 'disabled'; platformRole?: PlatformRole | 'none'; after: UserListKey | null; limit: number },
): Promise<AdminUserRow[]> {
  const filters: Array<SQL | undefined> = [];
  if (options.search) {
    const pattern = `%${escapeLike(options.search.toLowerCase())}%`;
    filters.push(sql`(lower(${users.email}) LIKE ${pattern} OR lower(${users.name}) LIKE ${pattern})`);
  }
  if (options.status) filters.push(eq(users.status, options.status));
  if (options.platformRole === 'none') filters.push(isNull(users.platformRole));
  else if (options.platformRole) filters.push(eq(users.platformRole, options.platformRole));
  if (options.after) filters.push(lt(users.id, options.after.id));
  return tx
    .select(userColumns)
    .from(users)
    .where(and(...filters))
    .orderBy(desc(users.id))
    .limit(options.limit + 1);
}

/** Every membership of these people with its tenant, in one statement (by tenant name within a person). */
export async function listMembershipsOf(tx: Tx, userIds: string[]): Promise<AdminMembershipRow[]> {
  if (userIds.length === 0) return [];
  return tx
    .select({
      userId: memberships.userId,
      tenantId: memberships.tenantId,
      tenantName: tenants.name,
      tenantSlug: tenants.slug,
      tenantStatus: tenants.status,
      role: memberships.role,
      status: memberships.status,
    })
    .from(memberships)
    .innerJoin(tenants, eq(tenants.id, memberships.tenantId))
    .where(inArray(memberships.userId, userIds))
    .orderBy(asc(memberships.userId), sql`lower(${tenants.name})`, asc(tenants.id));
}

/** One person, or null. `forUpdate` locks the row for the rest of the transaction. */
export async function findUser(tx: Tx, userId: string, options: { forUpdate?: boolean } = {}): Promise<AdminUserRow | null> {
  const query = tx.select(userColumns).from(users).where(eq(users.id, userId));
  const [row] = options.forUpdate ? await query.for('update') : await query;
  return row ?? null;
}

/** The person with this email address (case-insensitive), or null. */
export async function findUserByEmail(tx: Tx, email: string, options: { forUpdate?: boolean } = {}): Promise<AdminUserRow | null> {
  const query = tx.select(userColumns).from(users).where(sql`lower(${users.email}) = lower(${email})`);
  const [row] = options.forUpdate ? await query.for('update') : await query;
  return row ?? null;
}

/** What the detail view adds to a person: second factor, verified address, and their own sign-ins. */
export async function findSignInStanding(tx: Tx, userId: string): Promise<{ emailVerified: boolean; mfaEnabled: boolean; lastSignInAt: Date | null; activeSessions: number } | null> {
  // Impersonation sessions are the administrator's doing, not the person's sign-ins.
  const own = and(eq(sessions.userId, users.id), isNull(sessions.impersonatorId));
  const [row] = await tx
    .select({
      emailVerified: sql<boolean>`${users.emailVerifiedAt} IS NOT NULL`,
      mfaEnabled: sql<boolean>`${users.totpEnabledAt} IS NOT NULL`,
      lastSignInAt: sql<Date | string | null>`(SELECT max(${sessions.createdAt}) FROM ${sessions} WHERE ${own})`,
      activeSessions: sql<number | string>`(SELECT count(*) FROM ${sessions} WHERE ${own} AND ${sessions.revokedAt} IS NULL
        AND ${sessions.idleExpiresAt} > now() AND ${sessions.expiresAt} > now())`,
    })
    .from(users)
    .where(eq(users.id, userId));
  if (!row) return null;
  return {
    emailVerified: row.emailVerified,
    mfaEnabled: row.mfaEnabled,
    lastSignInAt: row.lastSignInAt === null ? null : new Date(row.lastSignInAt),
    activeSessions: Number(row.activeSessions),
  };
}

/**
 * Serialises every change that can take a platform administrator away (disable, revoke, demote), so
 * "is another active administrator left?" is answered on committed data and two administrators cannot
 * remove each other at the same time. Transaction-scoped: released at commit or rollback.
 */
export async function lockPlatformStaff(tx: Tx): Promise<void> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext('atrium:platform_admins'))`);
}

/** How many active platform administrators there are besides `userId`. */
export async function countOtherActiveAdmins(tx: Tx, userId: string): Promise<number> {
  const [row] = await tx
    .select({ count: sql<number | string>`count(*)` })
    .from(users)
    .where(and(eq(users.platformRole, 'platform_admin'), eq(users.status, 'active'), ne(users.id, userId)));
  return Number(row?.count ?? 0);
}

/** Sets the person's status; returns the row as changed. */
export async function setUserStatus(tx: Tx, userId: string, status: 'active' | 'disabled'): Promise<AdminUserRow | null> {
  const [row] = await tx.update(users).set({ status }).where(eq(users.id, userId)).returning(userColumns);
  return row ?? null;
}

/** Sets (or, with null, clears) the person's platform role; returns the row as changed. */
export async function setPlatformRole(tx: Tx, userId: string, role: PlatformRole | null): Promise<AdminUserRow | null> {
  const [row] = await tx.update(users).set({ platformRole: role }).where(eq(users.id, userId)).returning(userColumns);
  return row ?? null;
}

/**
 * Ends the live sessions of `userId` — their own and, with `asImpersonator`, the impersonations they run
 * as an administrator (those sessions belong to the impersonated person, so disabling the administrator
 * alone would not end them). Returns how many ended.
 */
export async function revokeSessionsOf(tx: Tx, userId: string, reason: string, options: { own: boolean; asImpersonator: boolean }): Promise<number> {
  const whose = [options.own ? eq(sessions.userId, userId) : undefined, options.asImpersonator ? eq(sessions.impersonatorId, userId) : undefined].filter(
    (condition): condition is SQL => condition !== undefined,
  );
  if (whose.length === 0) return 0;
  const revoked = await tx
    .update(sessions)
    .set({ revokedAt: sql`now()`, revokedReason: reason })
    .where(and(isNull(sessions.revokedAt), or(...whose)))
    .returning({ id: sessions.id });
  return revoked.length;
}

/** One page of the holders of a platform role, newest first (`limit + 1` rows). */
export async function listPlatformStaff(tx: Tx, options: { after: UserListKey | null; limit: number }): Promise<Array<AdminUserRow & { platformRole: PlatformRole }>> {
  const rows = await tx
    .select(userColumns)
    .from(users)
    .where(and(isNotNull(users.platformRole), options.after ? lt(users.id, options.after.id) : undefined))
    .orderBy(desc(users.id))
    .limit(options.limit + 1);
  return rows as Array<AdminUserRow & { platformRole: PlatformRole }>;
}

