/**
 * Use-cases of the signed-in person about themselves (`/api/v1/users/me`): their view (profile, current
 * tenant, membership, roles, MFA state), profile changes, their tenants, and deleting their account.
 *
 * GET /me costs no query of its own: authentication already read everything in its one statement
 * (session_actor, see identity's authenticate.ts) and hands it over as `request.signedIn`.
 */
import { audit, type RequestOrigin } from '../../core/audit/audit.js';
import type { Actor } from '../../core/http/request-context.js';
import { isUuid } from '../../core/db/ids.js';
import { emit } from '../../core/events/events.js';
import { AppError } from '../../core/http/errors.js';
import { decodeCursor, toPage, type Page } from '../../core/http/pagination.js';
import { assertCurrentPassword, type SignedInPerson, type SignedInView, type UserView } from '../identity/index.js';
import type { OrganizationDeps } from './deps.js';
import { normaliseProfileChange, type MeView, type OwnTenantsQuery, type OwnTenantView, type ProfileChange } from './members.schemas.js';
import { restorableUntil, scheduleTenantPurge } from './tenant-closure.js';
import { markTenantClosed } from './tenants.repository.js';
import {
  actInTenant,
  deleteUser,
  findUser,
  hasOtherMembers,
  listAllOwnMemberships,
  listOwnTenants,
  lockUser,
  updateProfile,
  type UserRow,
} from './profile.repository.js';

const unauthenticated = () => new AppError('auth.unauthenticated', 'A valid credential is required.');

/** The person as authentication read them, with the session's MFA standing. */
export function describeMe(signedIn: SignedInView | undefined, actor: Actor | undefined): MeView {
  // Only a person's session sets it; `signedInPerson` has already refused anything else.
  if (!signedIn) throw new AppError('auth.forbidden', 'Only a signed-in person has a profile.');
  const { user, profile, tenant, membership } = signedIn;
  return {
    user: { ...user, ...profile },
    tenant,
    membership,
    // What authentication read, at no cost: the built-in tenant role. Store and custom roles, and the
    // effective permissions, would cost queries here; they are at GET /users/me/permissions.
    roles: membership ? [membership.role] : [],
    mfa: { enabled: user.mfaEnabled, required: signedIn.mfaRequired, verifiedThisSession: actor?.mfaVerified === true },
  };
}

function presentUser(row: UserRow): UserView {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    emailVerified: row.emailVerifiedAt !== null,
    mfaEnabled: row.totpEnabledAt !== null,
    platformRole: row.platformRole ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}

/**
 * Changes the caller's profile (name, locale, timezone, phone; null clears the last three) and answers
 * their view as it now is. Audited in the tenant the person acts in, if any (audit rows live in tenants).
 */
export async function updateOwnProfile(
  deps: OrganizationDeps,
  person: SignedInPerson,
  signedIn: SignedInView | undefined,
  actor: Actor | undefined,
  input: ProfileChange,
  origin: RequestOrigin,
): Promise<MeView> {
  const me = describeMe(signedIn, actor);
  const change = normaliseProfileChange(input);
  const current: Record<string, unknown> = { name: me.user.name, locale: me.user.locale, timezone: me.user.timezone, phone: me.user.phone };
  const changed = Object.fromEntries(Object.entries(change).filter(([field, value]) => value !== undefined && current[field] !== value));
  if (Object.keys(changed).length === 0) return me;

  const row = await deps.platform.db.transaction({ userId: person.userId, tenantId: person.tenantId ?? null }, async (tx) => {
    const updated = await updateProfile(tx, person.userId, changed);
    if (!updated) throw unauthenticated();
    if (person.tenantId) {
      const before = Object.fromEntries(Object.keys(changed).map((field) => [field, current[field]]));
      await audit.record(tx, { actor: { type: 'user', id: person.userId }, action: 'user.profile_updated', target: { type: 'user', id: person.userId }, before, after: changed, ...origin });
    }
    return updated;
  });
  return { ...me, user: { ...presentUser(row), locale: row.locale, timezone: row.timezone, phone: row.phone } };
}

const isOwnTenantKey = (value: unknown): value is { n: string; id: string } =>
  typeof value === 'object' && value !== null && typeof (value as { n?: unknown }).n === 'string' && isUuid((value as { id?: unknown }).id as string);

/** The caller's memberships across tenants, by tenant name, read through the own-membership policies. */
export async function listMyTenants(deps: OrganizationDeps, person: SignedInPerson, query: OwnTenantsQuery): Promise<Page<OwnTenantView>> {
  const limit = query.limit ?? 20;
  const cursor = decodeCursor(query.cursor, isOwnTenantKey);
  const rows = await deps.platform.db.transaction({ userId: person.userId }, (tx) => listOwnTenants(tx, person.userId, cursor ? { name: cursor.n, id: cursor.id } : null, limit + 1));
  return toPage(
    rows,
    limit,
    ({ sortName: _sortName, ...row }) => ({ ...row, current: row.tenantId === person.tenantId }),
    (row) => ({ n: row.sortName, id: row.tenantId }),
  );
}

/**
 * Deletes the caller's account after checking their password: the users row goes, and with it their
 * sessions, tokens, memberships and store assignments (foreign keys cascade). Refused (409
 * `member.sole_owner`, naming the tenants) while the person owns a tenant that has other members, whatever
 * its status: the ownership must be transferred (or those members removed) first, so no tenant is ever
 * left without an owner. A tenant they own alone is closed in the same transaction, exactly as its owner
 * would close it (restorable by a platform administrator until the scheduled purge). Each tenant gets its audit rows and
 * events (`member.removed`, and `tenant.closed` for the ones closed).
 */
export async function deleteOwnAccount(deps: OrganizationDeps, person: SignedInPerson, password: string, origin: RequestOrigin): Promise<void> {
  const { db } = deps.platform;
  const { userId } = person;
  const user = await db.transaction({ userId }, (tx) => findUser(tx, userId));
  if (!user || user.status !== 'active') throw unauthenticated();
  await assertCurrentPassword(deps.identity, user, password, origin.ip);

  await db.transaction({ userId }, async (tx, executor) => {
    // Serialises against a concurrent deletion or change of the same person.
    if (!(await lockUser(tx, userId))) throw unauthenticated();
    const owned = await listAllOwnMemberships(tx, userId);
    const alone = new Set<string>();
    const blocking: Array<{ id: string; name: string; slug: string }> = [];
    for (const membership of owned.filter((m) => m.role === 'owner')) {
      await actInTenant(tx, membership.tenantId);
      if (await hasOtherMembers(tx, membership.tenantId, userId)) blocking.push({ id: membership.tenantId, name: membership.tenantName, slug: membership.tenantSlug });
      else alone.add(membership.tenantId);
    }
    if (blocking.length > 0) {
      throw new AppError(
        'member.sole_owner',
        `You are the owner of ${blocking.map((tenant) => `"${tenant.name}"`).join(', ')}, which has other members: transfer the ownership or remove them first.`,
        { tenants: blocking },
      );
    }

    const actor = { type: 'user' as const, id: userId };
    for (const membership of owned) {
      const { tenantId } = membership;
      await actInTenant(tx, tenantId);
      await audit.record(tx, { actor, action: 'member.removed', target: { type: 'user', id: userId }, before: { role: membership.role }, after: { reason: 'account_deleted' }, ...origin });
      await emit(tx, { type: 'member.removed', tenantId, payload: { tenantId, userId, role: membership.role, removedBy: userId, reason: 'account_deleted' } });
      if (alone.has(tenantId) && membership.tenantStatus !== 'closed') {
        // As DELETE /tenants/current closes one (tenant-closure.ts): same audit, event and scheduled purge.
        const closed = await markTenantClosed(tx, tenantId);
        const closedAt = closed.closedAt!;
        const until = restorableUntil(closedAt, deps.config.tenants.restoreDays).toISOString();
        await audit.record(tx, {
          actor,
          action: 'tenant.closed',
          target: { type: 'tenant', id: tenantId },
          before: { status: membership.tenantStatus },
          after: { status: 'closed', closedAt: closedAt.toISOString(), restorableUntil: until, reason: 'owner_account_deleted' },
          ...origin,
        });
        await emit(tx, {
          type: 'tenant.closed',
          tenantId,
          payload: { tenantId, slug: membership.tenantSlug, closedBy: userId, reason: 'owner_account_deleted', closedAt: closedAt.toISOString(), restorableUntil: until },
        });
        await scheduleTenantPurge(deps, executor, tenantId, closedAt);
      }
    }
    await actInTenant(tx, null);
    await deleteUser(tx, userId);
  });
  if (person.tokenId) deps.identity.accessTokens.forget(person.tokenId);
}
