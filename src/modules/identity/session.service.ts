/**
 * Use-cases of a signed-in session: refresh, logout (one or all), the person's session list and its
 * revocation, and switching tenant (the person's own view, GET /users/me, lives in the organization
 * module). Revoking a session cuts its access tokens off at once: authentication checks the session on
 * every request (see authenticate.ts); forgetting the caller's own token here only keeps the
 * verified-token cache from holding a dead entry.
 */
import { eq } from 'drizzle-orm';
import { audit, type RequestOrigin } from '../../core/audit/audit.js';
import type { Tx } from '../../core/db/database.js';
import { AppError } from '../../core/http/errors.js';
import { users } from '../../core/tenancy/tenancy.table.js';
import type { LoginResponse, TokenPair } from './auth.schemas.js';
import type { SignedInPerson } from './authenticate.js';
import type { IdentityDeps } from './deps.js';
import { listSessions, moveSessionToTenant, revokeSession, revokeUserSessions, rotateRefreshToken } from './sessions.js';
import { listOwnMemberships, presentUser } from './sign-in.js';
import { InvalidTokenError } from './tokens.js';

type SessionDeps = Pick<IdentityDeps, 'platform' | 'accessTokens' | 'lifetimes'>;


export interface SessionView {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  ip: string | null;
  userAgent: string | null;
  current: boolean;
}


/** Audit rows live in a tenant: a session event is recorded in the tenant the person acts in, if any. */
async function recordSessionEvent(tx: Tx, person: SignedInPerson, origin: RequestOrigin, action: string, target: { type: string; id: string }, after?: unknown) {
  if (!person.tenantId) return;
  await audit.record(tx, { actor: { type: 'user', id: person.userId }, action, target, after, ...origin });
}

const unitOfWork = (person: SignedInPerson) => ({ userId: person.userId, tenantId: person.tenantId ?? null });

/**
 * Spends a refresh token for a new pair. The access token acts in the session's current tenant (the one
 * switch-tenant last moved it to) and names the session, so revoking the session ends it too.
 */
export async function refreshSession(deps: SessionDeps, refreshToken: string): Promise<TokenPair> {
  const rotated = await rotateRefreshToken(deps.platform.db, refreshToken, deps.lifetimes);
  const access = await deps.accessTokens.issue({ userId: rotated.userId, tenantId: rotated.tenantId, sessionId: rotated.sessionId });
  return { accessToken: access.token, refreshToken: rotated.refreshToken, tokenType: 'Bearer', expiresIn: access.expiresIn };
}

/** Ends the caller's session. Idempotent: a session that ended meanwhile is not an error. */
export async function logout(deps: SessionDeps, person: SignedInPerson, origin: RequestOrigin): Promise<void> {
  await deps.platform.db.transaction(unitOfWork(person), async (tx) => {
    if (await revokeSession(tx, person.userId, person.sessionId, 'logout')) {
      await recordSessionEvent(tx, person, origin, 'session.logged_out', { type: 'session', id: person.sessionId });
    }
  });
  if (person.tokenId) deps.accessTokens.forget(person.tokenId);
}

/** Ends every session of the caller, the current one included (e.g. "sign out everywhere" after a loss). */
export async function logoutEverywhere(deps: SessionDeps, person: SignedInPerson, origin: RequestOrigin): Promise<void> {
  await deps.platform.db.transaction(unitOfWork(person), async (tx) => {
    const ended = await revokeUserSessions(tx, person.userId, 'logout_all');
    await recordSessionEvent(tx, person, origin, 'session.logged_out_everywhere', { type: 'user', id: person.userId }, { sessionsEnded: ended });
  });
  if (person.tokenId) deps.accessTokens.forget(person.tokenId);
}

/** The caller's live sessions, most recently used first, the current one flagged. */
export async function listOwnSessions(deps: SessionDeps, person: SignedInPerson): Promise<SessionView[]> {
  const rows = await deps.platform.db.transaction({ userId: person.userId }, (tx) => listSessions(tx, person.userId));
  return rows.map((row) => ({
    id: row.id,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt.toISOString(),
    ip: row.ip,
    userAgent: row.userAgent,
    current: row.id === person.sessionId,
  }));
}

/**
 * Ends one of the caller's sessions. Another person's session, an ended one and an unknown id all answer
 * the same 404, so session ids reveal nothing.
 */
export async function revokeOwnSession(deps: SessionDeps, person: SignedInPerson, sessionId: string, origin: RequestOrigin): Promise<void> {
  await deps.platform.db.transaction(unitOfWork(person), async (tx) => {
    if (!(await revokeSession(tx, person.userId, sessionId, 'revoked'))) throw new AppError('resource.not_found', 'No such session.');
    await recordSessionEvent(tx, person, origin, 'session.revoked', { type: 'session', id: sessionId });
  });
  if (sessionId === person.sessionId && person.tokenId) deps.accessTokens.forget(person.tokenId);
}

/**
 * Moves the caller's session to another of their tenants and hands out a pair acting there. The unit of
 * work carries the target tenant as its context only so the audit row lands there; nothing is read or
 * written in it before the membership check (every read is filtered by the caller's own user id).
 * The previous refresh token stops working; the previous access token keeps acting in the previous
 * tenant until it expires, which grants nothing the person does not still hold.
 */
export async function switchTenant(deps: SessionDeps, person: SignedInPerson, tenantId: string, origin: RequestOrigin): Promise<LoginResponse> {
  return deps.platform.db.transaction({ userId: person.userId, tenantId }, async (tx) => {
    const owned = await listOwnMemberships(tx, person.userId);
    const chosen = owned.find((membership) => membership.tenantId === tenantId && membership.status === 'active' && membership.tenant.status === 'active');
    if (!chosen) throw new AppError('tenant.not_found', 'You are not an active member of that tenant.');

    const refreshToken = await moveSessionToTenant(tx, person.sessionId, tenantId);
    // The session ended between authentication and now (a concurrent logout): treat the token as dead.
    if (refreshToken === null) throw new InvalidTokenError('session ended');
    const [user] = await tx.update(users).set({ lastTenantId: tenantId }).where(eq(users.id, person.userId)).returning();
    await audit.record(tx, {
      actor: { type: 'user', id: person.userId },
      action: 'session.tenant_switched',
      target: { type: 'session', id: person.sessionId },
      ...origin,
    });
    const access = await deps.accessTokens.issue({ userId: person.userId, tenantId, sessionId: person.sessionId });
    return {
      user: presentUser(user!),
      tenant: chosen.tenant,
      memberships: owned.map(({ tenant: _tenant, ...membership }) => membership),
      accessToken: access.token,
      refreshToken,
      tokenType: 'Bearer',
      expiresIn: access.expiresIn,
    };
  });
}
