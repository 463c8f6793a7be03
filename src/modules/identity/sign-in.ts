/**
 * The last step of every way in (register, login, MFA verify, accept-invite, bootstrap, switch-tenant):
 * choose the tenant, open the session, issue the token pair, and present the person.
 */
import { asc, desc, eq } from 'drizzle-orm';
import type { Tx } from '../../core/db/database.js';
import { AppError } from '../../core/http/errors.js';
import { personMemberships, users } from '../../core/tenancy/tenancy.table.js';
import type { LoginResponse, MembershipView, TenantView, UserView } from './auth.schemas.js';
import { createSession, type SessionLifetimes } from './sessions.js';
import type { AccessTokens } from './tokens.js';

export interface SignInDeps {
  accessTokens: AccessTokens;
  lifetimes: SessionLifetimes;
}

export interface SignInInput {
  userId: string;
  /** The tenant asked for; it must be an active membership (else 404 `tenant.not_found`). */
  tenantId?: string;
  mfaVerified: boolean;
  ip?: string | null;
  userAgent?: string | null;
}

type UserRow = typeof users.$inferSelect;

export function presentUser(user: UserRow): UserView {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    emailVerified: user.emailVerifiedAt !== null,
    mfaEnabled: user.totpEnabledAt !== null,
    platformRole: user.platformRole ?? null,
    createdAt: user.createdAt.toISOString(),
  };
}

/**
 * The person's memberships across tenants with each tenant, most recent first. `tx` must carry the person
 * as `app.user_id`: the rows come through the `person_memberships` view (DESIGN §5).
 */
export async function listOwnMemberships(tx: Tx, userId: string): Promise<Array<MembershipView & { tenant: TenantView }>> {
  const rows = await tx
    .select()
    .from(personMemberships)
    .where(eq(personMemberships.userId, userId))
    .orderBy(desc(personMemberships.createdAt), asc(personMemberships.tenantId));
  return rows.map((row) => ({
    tenantId: row.tenantId,
    tenantName: row.tenantName,
    tenantSlug: row.tenantSlug,
    role: row.role,
    status: row.status,
    tenant: { id: row.tenantId, name: row.tenantName, slug: row.tenantSlug, status: row.tenantStatus },
  }));
}

/** Whether a membership lets the person act in its tenant now. */
const isUsable = (membership: { status: string; tenant: TenantView }) => membership.status === 'active' && membership.tenant.status === 'active';

/**
 * Opens a session for `input.userId` in `tx` (which must carry the person as `app.user_id`) and returns
 * the login response. The tenant is the one asked for, else the last used, else the newest usable
 * membership, else none.
 */
export async function signIn(tx: Tx, deps: SignInDeps, input: SignInInput): Promise<LoginResponse> {
  // FOR SHARE: a platform disable (which locks the row FOR UPDATE, then ends every session) waits for this
  // session to commit and ends it too, or has committed and is seen here.
  const [user] = await tx.select().from(users).where(eq(users.id, input.userId)).for('share');
  if (!user) throw new Error(`signIn: user ${input.userId} does not exist`);
  if (user.status !== 'active') throw new AppError('auth.invalid_credentials', 'The email address or the password is wrong.');
  const owned = await listOwnMemberships(tx, user.id);

  let chosen: (typeof owned)[number] | undefined;
  if (input.tenantId !== undefined) {
    chosen = owned.find((membership) => membership.tenantId === input.tenantId && isUsable(membership));
    if (!chosen) throw new AppError('tenant.not_found', 'You are not an active member of that tenant.');
  } else {
    chosen = owned.find((membership) => membership.tenantId === user.lastTenantId && isUsable(membership)) ?? owned.find(isUsable);
  }
  const tenantId = chosen?.tenantId ?? null;

  const { sessionId, refreshToken } = await createSession(tx, { userId: user.id, tenantId, mfaVerified: input.mfaVerified, ip: input.ip, userAgent: input.userAgent }, deps.lifetimes);
  if (tenantId !== user.lastTenantId) await tx.update(users).set({ lastTenantId: tenantId }).where(eq(users.id, user.id));
  const access = await deps.accessTokens.issue({ userId: user.id, tenantId, sessionId });

  return {
    user: presentUser(user),
    tenant: chosen?.tenant ?? null,
    memberships: owned.map(({ tenant: _tenant, ...membership }) => membership),
    accessToken: access.token,
    refreshToken,
    tokenType: 'Bearer',
    expiresIn: access.expiresIn,
  };
}
