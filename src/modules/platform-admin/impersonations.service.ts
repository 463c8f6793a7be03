/**
 * Governed impersonation: a platform administrator acts as an active member of an active tenant, for a
 * stated reason and at most an hour.
 *
 * - Each impersonation is backed by a session of the member with `impersonator_id` set and no refresh
 *   token, so it cannot be refreshed; its session and its JWT (`exp`, and `act: { sub: <admin> }`) end at
 *   the same second. Ending it early revokes the session: the next request with the token answers 401.
 * - The session's `mfa_verified` is the administrator's own session state: an impersonation is never
 *   stronger than the sign-in behind it.
 * - Routes that change credentials, two-factor settings, sessions or ownership refuse the token
 *   (`notWhileImpersonating`, enforced centrally), and every audit row written through it carries
 *   `impersonator_id`.
 * - Start and end land in the platform's audit trail and in the tenant's (audit row with actor type
 *   `platform_admin`, and an outbox event), in the same transaction as the change.
 */
import { and, desc, eq, gt, isNotNull, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import { audit, platformAudit, type RequestOrigin } from '../../core/audit/audit.js';
import type { Database, Tx } from '../../core/db/database.js';
import { AppError } from '../../core/http/errors.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, toPage, type Page } from '../../core/http/pagination.js';
import { memberships, tenants, users } from '../../core/tenancy/tenancy.table.js';
import { createImpersonationSession, revokeSession, sessions, type AccessTokens } from '../identity/index.js';
import { resolveTenantSettings } from '../organization/index.js';
import { IMPERSONATION_DEFAULT_MINUTES, type ImpersonationView, type ListImpersonationsFilter, type StartImpersonationInput } from './impersonations.schemas.js';
import { impersonations } from './platform-admin.table.js';

export interface ImpersonationDeps {
  db: Database;
  accessTokens: AccessTokens;
}

/** The administrator starting or ending an impersonation (from their own, non-impersonated session). */
export interface ImpersonatingAdmin {
  userId: string;
  /** Whether the administrator's own sign-in presented a second factor. */
  mfaVerified: boolean;
}

export interface StartedImpersonation {
  impersonation: ImpersonationView;
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

type ImpersonationRow = typeof impersonations.$inferSelect;

/** The session behind an impersonation, as far as its state matters here. */
interface BackingSession {
  revokedAt: Date | null;
}

/**
 * An early end is DELETE (`ended_at`), or the backing session revoked before the impersonation expired
 * (the member's password reset or logout-all from their own session, …).
 */
function present(row: ImpersonationRow, session: BackingSession | null, now: Date): ImpersonationView {
  const revokedEarly = session?.revokedAt && session.revokedAt < row.expiresAt ? session.revokedAt : null;
  const endedAt = row.endedAt ?? revokedEarly;
  return {
    id: row.id,
    tenantId: row.targetTenantId,
    userId: row.userId,
    adminId: row.adminId,
    reason: row.reason,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    endedAt: endedAt ? endedAt.toISOString() : null,
    endedBy: row.endedBy,
    active: endedAt === null && row.expiresAt > now && session !== null && session.revokedAt === null,
  };
}

/** Refusals about the target, in the order an administrator can act on them. Runs in the tenant's context. */
async function assertImpersonable(tx: Tx, tenantId: string, userId: string): Promise<void> {
  const [tenant] = await tx.select({ status: tenants.status, settings: tenants.settings }).from(tenants).where(eq(tenants.id, tenantId));
  if (!tenant || tenant.status !== 'active') throw new AppError('tenant.not_found', 'No active tenant has this id.');
  if (!resolveTenantSettings(tenant.settings).security.allowImpersonation) {
    throw new AppError('impersonation.forbidden_by_tenant', 'This tenant does not allow impersonation (its security.allowImpersonation setting).');
  }
  const [member] = await tx
    .select({ platformRole: users.platformRole, userStatus: users.status })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId), eq(memberships.status, 'active')));
  if (!member) throw new AppError('member.not_found', 'No active member of this tenant has this id.');
  if (member.platformRole !== null) throw new AppError('impersonation.target_not_allowed', 'People who hold a platform role cannot be impersonated.');
  if (member.userStatus !== 'active') throw new AppError('impersonation.target_not_allowed', 'This person’s account is disabled platform-wide.');
}

/**
 * Starts an impersonation and hands out its only token. 404 `tenant.not_found` / `member.not_found` when
 * the target is not an active member of an active tenant; 403 `impersonation.target_not_allowed` for
 * oneself, a platform role holder or a disabled account; 403 `impersonation.forbidden_by_tenant` when
 * the tenant's `security.allowImpersonation` is false.
 */
export async function startImpersonation(deps: ImpersonationDeps, admin: ImpersonatingAdmin, origin: RequestOrigin, input: StartImpersonationInput): Promise<StartedImpersonation> {
  const { tenantId, userId, reason } = input;
  const minutes = input.minutes ?? IMPERSONATION_DEFAULT_MINUTES;
  if (userId === admin.userId) throw new AppError('impersonation.target_not_allowed', 'You cannot impersonate yourself.');

  return deps.db.withTenant(tenantId, async (tx) => {
    await assertImpersonable(tx, tenantId, userId);
    // Whole seconds: the session and the JWT `exp` end at the same instant.
    const expiresAt = new Date(Math.floor(Date.now() / 1000) * 1000 + minutes * 60_000);
    const sessionId = await createImpersonationSession(tx, {
      userId,
      tenantId,
      impersonatorId: admin.userId,
      mfaVerified: admin.mfaVerified,
      expiresAt,
      ip: origin.ip,
      userAgent: origin.userAgent,
    });
    const [row] = await tx.insert(impersonations).values({ adminId: admin.userId, userId, targetTenantId: tenantId, sessionId, reason, expiresAt }).returning();
    const impersonation = present(row!, { revokedAt: null }, new Date());

    const target = { type: 'user', id: userId };
    await platformAudit.record(tx, { actorId: admin.userId, action: 'impersonation.started', target, tenantId, details: { reason, minutes, impersonationId: row!.id }, ...origin });
    await audit.recordWithEvent(
      tx,
      { actor: { type: 'platform_admin', id: admin.userId }, action: 'impersonation.started', target, after: { impersonationId: row!.id, reason, minutes, expiresAt: impersonation.expiresAt }, ...origin },
      { type: 'impersonation.started', tenantId, payload: { impersonation } },
    );

    const access = await deps.accessTokens.issue({ userId, tenantId, sessionId, actorId: admin.userId, expiresAt });
    return { impersonation, accessToken: access.token, tokenType: 'Bearer' as const, expiresIn: access.expiresIn };
  });
}

/**
 * Ends an impersonation early: revokes its session (the token answers 401 from its next request) and
 * writes `impersonation.ended` to both audit trails. Any platform administrator may end any
 * impersonation. Idempotent: one that is already over (ended, or expired) answers the same and changes
 * nothing. 404 `impersonation.not_found`.
 */
export async function endImpersonation(deps: ImpersonationDeps, admin: ImpersonatingAdmin, origin: RequestOrigin, id: string): Promise<void> {
  const [found] = await deps.db.transaction({}, (tx) => tx.select().from(impersonations).where(eq(impersonations.id, id)));
  if (!found) throw new AppError('impersonation.not_found', 'No impersonation has this id.');
  if (found.endedAt !== null || found.expiresAt <= new Date()) return;

  await deps.db.withTenant(found.targetTenantId, async (tx) => {
    // Claimed by this update: of two concurrent ends, only one writes the audit rows.
    const [ended] = await tx
      .update(impersonations)
      .set({ endedAt: sql`now()`, endedBy: admin.userId })
      .where(and(eq(impersonations.id, id), isNull(impersonations.endedAt)))
      .returning();
    if (!ended) return;
    if (ended.sessionId) await revokeSession(tx, ended.userId, ended.sessionId, 'impersonation_ended');

    const target = { type: 'user', id: ended.userId };
    const details = { impersonationId: id, startedBy: ended.adminId, endedAt: ended.endedAt!.toISOString() };
    await platformAudit.record(tx, { actorId: admin.userId, action: 'impersonation.ended', target, tenantId: ended.targetTenantId, details, ...origin });
    await audit.recordWithEvent(
      tx,
      { actor: { type: 'platform_admin', id: admin.userId }, action: 'impersonation.ended', target, after: details, ...origin },
      { type: 'impersonation.ended', tenantId: ended.targetTenantId, payload: { impersonation: present(ended, { revokedAt: ended.endedAt }, new Date()) } },
    );
  });
}

const isIdCursor = (value: unknown): value is { id: string } =>
  typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string' && /^[0-9a-f-]{36}$/.test((value as { id: string }).id);

/** Running: not ended, not expired, its session live. */
const runningNow = () => and(isNull(impersonations.endedAt), gt(impersonations.expiresAt, sql`now()`), isNotNull(sessions.id), isNull(sessions.revokedAt));

/**
 * Impersonations, newest first (ids are UUIDv7, so id order is start order), filtered by state, tenant,
 * person or administrator. A global table: no tenant context needed.
 */
export async function listImpersonations(deps: ImpersonationDeps, filter: ListImpersonationsFilter): Promise<Page<ImpersonationView>> {
  const limit = filter.limit ?? DEFAULT_PAGE_SIZE;
  const after = decodeCursor(filter.cursor, isIdCursor);
  const conditions: Array<SQL | undefined> = [
    filter.tenantId ? eq(impersonations.targetTenantId, filter.tenantId) : undefined,
    filter.userId ? eq(impersonations.userId, filter.userId) : undefined,
    filter.adminId ? eq(impersonations.adminId, filter.adminId) : undefined,
    after ? lt(impersonations.id, after.id) : undefined,
  ];
  if (filter.active === true) conditions.push(runningNow());
  // `or(…)` with the negation spelled out: NOT over a NULL-valued comparison would drop rows.
  if (filter.active === false) conditions.push(or(isNotNull(impersonations.endedAt), sql`${impersonations.expiresAt} <= now()`, isNull(sessions.id), isNotNull(sessions.revokedAt)));

  const rows = await deps.db.transaction({}, (tx) =>
    tx
      .select({ impersonation: impersonations, session: { id: sessions.id, revokedAt: sessions.revokedAt } })
      .from(impersonations)
      .leftJoin(sessions, eq(sessions.id, impersonations.sessionId))
      .where(and(...conditions))
      .orderBy(desc(impersonations.id))
      .limit(limit + 1),
  );
  const now = new Date();
  return toPage(
    rows,
    limit,
    (row) => present(row.impersonation, row.session?.id ? { revokedAt: row.session.revokedAt } : null, now),
    (row) => ({ id: row.impersonation.id }),
  );
}
