/**
 * The platform's people: search them across tenants with their memberships, read one with their sign-in
 * standing, and disable or enable them platform-wide.
 *
 * Reads run in a platform unit of work (`db.transaction({ platform: true }, …)`: the read-only role that
 * sees every tenant's memberships). Changes touch only global tables (users, sessions, the platform audit
 * trail), so they run as the app role in no tenant, with the platform audit row in the same transaction.
 *
 * Disabling ends every live session of the person (authentication refuses a disabled person anyway, but
 * a revoked session stays revoked, so enabling them again does not bring old tokens back) and every
 * impersonation they run. Nobody disables themselves (409 `platform.self_protected`), and the last active
 * platform administrator is never disabled (409 `platform.last_admin`), under a lock shared with the
 * platform-role changes so two administrators cannot remove each other at once.
 */
import { platformAudit, type RequestOrigin } from '../../core/audit/audit.js';
import type { Database, Tx } from '../../core/db/database.js';
import { isUuid } from '../../core/db/ids.js';
import { AppError } from '../../core/http/errors.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, toPage, type Page } from '../../core/http/pagination.js';
import type { Actor } from '../../core/http/request-context.js';
import {
  countOtherActiveAdmins,
  findSignInStanding,
  findUser,
  listMembershipsOf,
  listUsers,
  lockPlatformStaff,
  revokeSessionsOf,
  setUserStatus,
  type AdminMembershipRow,
  type AdminUserRow,
  type UserListKey,
} from './users.admin.repository.js';
import type { AdminMembershipView, AdminUserDetailView, AdminUserView, DisableUserInput, ListAdminUsersInput } from './users.admin.schemas.js';

/** The platform administrator (or operator) acting: always a signed-in person (the route guard ran). */
export interface PlatformActor {
  userId: string;
}

/** The acting person of a platform route. */
export function platformActorOf(actor: Actor | undefined): PlatformActor {
  if (actor?.kind !== 'user' || !actor.userId) throw new AppError('auth.forbidden', 'Platform administration needs a person’s access token.');
  return { userId: actor.userId };
}

export const userNotFound = () => new AppError('platform.user_not_found', 'No person has this id.');

/** Why a session ends when platform administration disables its person. */
export const DISABLED_BY_PLATFORM = 'disabled_by_platform';

/**
 * Refuses a change that would take `target` away as a platform administrator (disable, revoke, demote):
 * never the last active one (checked first: a sole administrator removing themselves learns the real
 * reason), never oneself. Call under `lockPlatformStaff`.
 */
export async function assertMayRemoveAdmin(tx: Tx, actor: PlatformActor, target: AdminUserRow): Promise<void> {
  if (target.platformRole === 'platform_admin' && target.status === 'active' && (await countOtherActiveAdmins(tx, target.id)) === 0) {
    throw new AppError('platform.last_admin', 'This is the last active platform administrator: make someone else a platform administrator first.');
  }
  if (target.id === actor.userId) throw new AppError('platform.self_protected', 'You cannot do this to your own account; ask another platform administrator.');
}

function presentMembership(row: AdminMembershipRow): AdminMembershipView {
  return { tenantId: row.tenantId, tenantName: row.tenantName, tenantSlug: row.tenantSlug, tenantStatus: row.tenantStatus, role: row.role, status: row.status };
}

function presentUser(row: AdminUserRow, memberships: AdminMembershipRow[]): AdminUserView {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    status: row.status,
    platformRole: row.platformRole,
    createdAt: row.createdAt.toISOString(),
    memberships: memberships.map(presentMembership),
  };
}

/** Groups membership rows by person, keeping their order. */
function byPerson(rows: AdminMembershipRow[]): Map<string, AdminMembershipRow[]> {
  const grouped = new Map<string, AdminMembershipRow[]>();
  for (const row of rows) {
    const list = grouped.get(row.userId);
    if (list) list.push(row);
    else grouped.set(row.userId, [row]);
  }
  return grouped;
}

function isUserListKey(value: unknown): value is UserListKey {
  const key = value as UserListKey | null;
  return typeof key === 'object' && key !== null && isUuid(key.id);
}

/** `GET /admin/users`: one page of people, newest first, each with every membership (one batched read). */
export async function listAdminUsers(db: Database, query: ListAdminUsersInput): Promise<Page<AdminUserView>> {
  const after = decodeCursor(query.cursor, isUserListKey);
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  const { rows, memberships } = await db.transaction({ platform: true }, async (tx) => {
    const rows = await listUsers(tx, { search: query.search, status: query.status, platformRole: query.platformRole, after, limit });
    return { rows, memberships: byPerson(await listMembershipsOf(tx, rows.slice(0, limit).map((row) => row.id))) };
  });
  return toPage(rows, limit, (row) => presentUser(row, memberships.get(row.id) ?? []), (row) => ({ id: row.id }));
}

/** A person with their memberships, read across tenants; null when nobody has this id. */
async function loadAdminUser(tx: Tx, userId: string): Promise<AdminUserView | null> {
  const row = await findUser(tx, userId);
  return row ? presentUser(row, await listMembershipsOf(tx, [row.id])) : null;
}

/** `GET /admin/users/:id`: the person, their memberships and sign-in standing; 404 when unknown. */
export async function getAdminUser(db: Database, userId: string): Promise<AdminUserDetailView> {
  const found = await db.transaction({ platform: true }, async (tx) => {
    const user = await loadAdminUser(tx, userId);
    return user ? { user, standing: (await findSignInStanding(tx, userId))! } : null;
  });
  if (!found) throw userNotFound();
  const { user, standing } = found;
  return { ...user, ...standing, lastSignInAt: standing.lastSignInAt?.toISOString() ?? null };
}

/** The person as they are now, with their memberships (after a change). */
async function readBack(db: Database, userId: string): Promise<AdminUserView> {
  const user = await db.transaction({ platform: true }, (tx) => loadAdminUser(tx, userId));
  if (!user) throw userNotFound();
  return user;
}

/**
 * `POST /admin/users/:id/disable`: blocks the person's sign-in everywhere and ends their sessions. Disabling
 * someone already disabled changes nothing (and writes no audit row) but still ends any session left.
 */
export async function disableUser(db: Database, actor: PlatformActor, origin: RequestOrigin, userId: string, input: DisableUserInput): Promise<AdminUserView> {
  await db.transaction({}, async (tx) => {
    await lockPlatformStaff(tx);
    const target = await findUser(tx, userId, { forUpdate: true });
    if (!target) throw userNotFound();
    await assertMayRemoveAdmin(tx, actor, target);
    const sessionsEnded = await revokeSessionsOf(tx, userId, DISABLED_BY_PLATFORM, { own: true, asImpersonator: true });
    if (target.status === 'disabled') return;
    await setUserStatus(tx, userId, 'disabled');
    await platformAudit.record(tx, {
      actorId: actor.userId,
      action: 'platform.user_disabled',
      target: { type: 'user', id: userId },
      details: { reason: input.reason ?? null, sessionsEnded },
      ...origin,
    });
  });
  return readBack(db, userId);
}

/** `POST /admin/users/:id/enable`: the person may sign in again (their old sessions stay ended). */
export async function enableUser(db: Database, actor: PlatformActor, origin: RequestOrigin, userId: string): Promise<AdminUserView> {
  await db.transaction({}, async (tx) => {
    const target = await findUser(tx, userId, { forUpdate: true });
    if (!target) throw userNotFound();
    if (target.status === 'active') return;
    await setUserStatus(tx, userId, 'active');
    await platformAudit.record(tx, { actorId: actor.userId, action: 'platform.user_enabled', target: { type: 'user', id: userId }, ...origin });
  });
  return readBack(db, userId);
}
