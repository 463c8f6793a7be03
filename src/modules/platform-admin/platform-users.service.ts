/**
 * The platform's staff: who holds a platform role (`users.platform_role`), granting, changing and
 * revoking it. Only global tables change (users, sessions, the platform audit trail), as the app role in
 * no tenant, each change with its platform audit row in the same transaction.
 *
 * Every change that can take a platform administrator away (revoke, or demotion to operator) runs under
 * the platform-staff lock and refuses the last active administrator (409 `platform.last_admin`) and the
 * caller's own account (409 `platform.self_protected`). A person who loses `platform.impersonate` loses
 * the impersonations they run at the same moment.
 */
import { platformAudit, type RequestOrigin } from '../../core/audit/audit.js';
import type { Database } from '../../core/db/database.js';
import { isUuid } from '../../core/db/ids.js';
import { AppError } from '../../core/http/errors.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, toPage, type Page } from '../../core/http/pagination.js';
import type { PlatformRole } from '../../core/tenancy/tenancy.table.js';
import { findUser, findUserByEmail, listPlatformStaff, lockPlatformStaff, revokeSessionsOf, setPlatformRole, type AdminUserRow, type UserListKey } from './users.admin.repository.js';
import type { GrantPlatformRoleInput, PlatformUserView } from './users.admin.schemas.js';
import { assertMayRemoveAdmin, type PlatformActor } from './users.admin.service.js';

/** Why impersonation sessions end when their administrator loses the platform role that allowed them. */
const PLATFORM_ROLE_REVOKED = 'platform_role_revoked';

function presentPlatformUser(row: AdminUserRow & { platformRole: PlatformRole }): PlatformUserView {
  return { id: row.id, email: row.email, name: row.name, status: row.status, platformRole: row.platformRole, createdAt: row.createdAt.toISOString() };
}

function isUserListKey(value: unknown): value is UserListKey {
  const key = value as UserListKey | null;
  return typeof key === 'object' && key !== null && isUuid(key.id);
}

/** `GET /admin/platform-users`: the holders of a platform role, newest first. */
export async function listPlatformUsers(db: Database, query: { limit?: number; cursor?: string }): Promise<Page<PlatformUserView>> {
  const after = decodeCursor(query.cursor, isUserListKey);
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  const rows = await db.transaction({ platform: true }, (tx) => listPlatformStaff(tx, { after, limit }));
  return toPage(rows, limit, presentPlatformUser, (row) => ({ id: row.id }));
}

/** Exactly one of `email` and `userId`; 400 naming the fields otherwise. */
function personReference(input: GrantPlatformRoleInput): { email: string } | { userId: string } {
  if ((input.email === undefined) === (input.userId === undefined)) {
    const message = 'give exactly one of email and userId';
    throw new AppError('request.validation_failed', 'Name the person by email address or by user id (exactly one).', {
      errors: [
        { in: 'body', field: '/email', message },
        { in: 'body', field: '/userId', message },
      ],
    });
  }
  return input.email !== undefined ? { email: input.email.trim() } : { userId: input.userId! };
}

/**
 * `POST /admin/platform-users`: gives the person `role`. `created` is true when they held no platform
 * role before (201); changing a holder's role, or giving the role they hold, is not a creation (200).
 */
export async function grantPlatformRole(
  db: Database,
  actor: PlatformActor,
  origin: RequestOrigin,
  input: GrantPlatformRoleInput,
): Promise<{ user: PlatformUserView; created: boolean }> {
  const reference = personReference(input);
  return db.transaction({}, async (tx) => {
    await lockPlatformStaff(tx);
    const target = 'email' in reference ? await findUserByEmail(tx, reference.email, { forUpdate: true }) : await findUser(tx, reference.userId, { forUpdate: true });
    if (!target) throw new AppError('platform.user_not_found', 'Nobody has this email address or id; the person must have an account first.');
    const previousRole = target.platformRole;
    if (previousRole === 'platform_admin' && input.role !== 'platform_admin') await assertMayRemoveAdmin(tx, actor, target);
    else if (target.id === actor.userId) throw new AppError('platform.self_protected', 'You cannot change your own platform role; ask another platform administrator.');
    if (previousRole === input.role) return { user: presentPlatformUser({ ...target, platformRole: input.role }), created: false };

    const changed = (await setPlatformRole(tx, target.id, input.role))!;
    // An operator may not impersonate: a demoted administrator's running impersonations end now.
    if (previousRole === 'platform_admin') await revokeSessionsOf(tx, target.id, PLATFORM_ROLE_REVOKED, { own: false, asImpersonator: true });
    await platformAudit.record(tx, {
      actorId: actor.userId,
      action: 'platform.role_granted',
      target: { type: 'user', id: target.id },
      details: { role: input.role, previousRole },
      ...origin,
    });
    return { user: presentPlatformUser({ ...changed, platformRole: input.role }), created: previousRole === null };
  });
}

/** `DELETE /admin/platform-users/:userId`: the person holds no platform role any more. */
export async function revokePlatformRole(db: Database, actor: PlatformActor, origin: RequestOrigin, userId: string): Promise<void> {
  await db.transaction({}, async (tx) => {
    await lockPlatformStaff(tx);
    const target = await findUser(tx, userId, { forUpdate: true });
    if (!target?.platformRole) throw new AppError('platform.user_not_found', 'Nobody with this id holds a platform role.');
    await assertMayRemoveAdmin(tx, actor, target);
    await setPlatformRole(tx, userId, null);
    await revokeSessionsOf(tx, userId, PLATFORM_ROLE_REVOKED, { own: false, asImpersonator: true });
    await platformAudit.record(tx, {
      actorId: actor.userId,
      action: 'platform.role_revoked',
      target: { type: 'user', id: userId },
      details: { previousRole: target.platformRole },
      ...origin,
    });
  });
}
