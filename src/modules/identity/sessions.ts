/**
 * Sessions and refresh tokens. A session is one sign-in on one device; its refresh token is single-use
 * and rotates on every refresh. Presenting a token that was already used means two parties hold it (one
 * of them stole it), so the whole session is revoked. Lifetimes: sliding (`refreshTokenTtlSeconds`,
 * extended by each refresh) within an absolute maximum (`sessionMaxAgeSeconds`, fixed at sign-in).
 */
import { and, desc, eq, gt, isNull, ne, sql } from 'drizzle-orm';
import type { Database, Tx } from '../../core/db/database.js';
import { AppError } from '../../core/http/errors.js';
import { users } from '../../core/tenancy/tenancy.table.js';
import { refreshTokens, sessions } from './identity.table.js';
import { generateSecretToken, hashSecretToken } from './secrets.js';

export interface SessionLifetimes {
  refreshTokenTtlSeconds: number;
  sessionMaxAgeSeconds: number;
}

export interface NewSession {
  userId: string;
  tenantId: string | null;
  mfaVerified: boolean;
  ip?: string | null;
  userAgent?: string | null;
}

export interface RotatedSession {
  sessionId: string;
  userId: string;
  tenantId: string | null;
  refreshToken: string;
}

export type SessionRevocationReason =
  | 'logout'
  | 'logout_all'
  | 'revoked'
  | 'refresh_token_reused'
  | 'password_reset'
  | 'password_changed'
  | 'email_changed'
  | 'mfa_changed'
  | 'impersonation_ended';

/** A session a platform administrator opens to act as a member of one tenant (an impersonation). */
export interface NewImpersonationSession {
  userId: string;
  tenantId: string;
  impersonatorId: string;
  /** The administrator's own session state: an impersonation is never stronger than its sign-in. */
  mfaVerified: boolean;
  /** Its hard end: it never slides (there is no refresh token to slide it). */
  expiresAt: Date;
  ip?: string | null;
  userAgent?: string | null;
}

const USER_AGENT_MAX = 512;

async function addRefreshToken(tx: Tx, sessionId: string): Promise<string> {
  const refreshToken = generateSecretToken();
  await tx.insert(refreshTokens).values({ tokenHash: hashSecretToken(refreshToken), sessionId });
  return refreshToken;
}

/** Opens a session in `tx` and returns its id and first refresh token. */
export async function createSession(tx: Tx, input: NewSession, lifetimes: SessionLifetimes): Promise<{ sessionId: string; refreshToken: string }> {
  const now = Date.now();
  const expiresAt = new Date(now + lifetimes.sessionMaxAgeSeconds * 1000);
  const idleExpiresAt = new Date(Math.min(now + lifetimes.refreshTokenTtlSeconds * 1000, expiresAt.getTime()));
  const [session] = await tx
    .insert(sessions)
    .values({
      userId: input.userId,
      activeTenantId: input.tenantId,
      mfaVerified: input.mfaVerified,
      ip: input.ip ?? null,
      userAgent: input.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
      idleExpiresAt,
      expiresAt,
    })
    .returning({ id: sessions.id });
  return { sessionId: session!.id, refreshToken: await addRefreshToken(tx, session!.id) };
}

/**
 * Opens an impersonation session in `tx`: no refresh token ever exists for it, so it cannot be refreshed,
 * and it ends at `expiresAt` (idle and absolute end alike). Returns its id.
 */
export async function createImpersonationSession(tx: Tx, input: NewImpersonationSession): Promise<string> {
  const [session] = await tx
    .insert(sessions)
    .values({
      userId: input.userId,
      activeTenantId: input.tenantId,
      impersonatorId: input.impersonatorId,
      mfaVerified: input.mfaVerified,
      ip: input.ip ?? null,
      userAgent: input.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
      idleExpiresAt: input.expiresAt,
      expiresAt: input.expiresAt,
    })
    .returning({ id: sessions.id });
  return session!.id;
}

const isLive = () => and(isNull(sessions.revokedAt), gt(sessions.idleExpiresAt, sql`now()`), gt(sessions.expiresAt, sql`now()`));

/**
 * Exchanges a refresh token for a new one. Unknown, expired or revoked → 401 `auth.invalid_refresh_token`;
 * already used → the session is revoked (that revocation commits) and 401 `auth.refresh_token_reused`.
 * Two concurrent refreshes with one token serialise on the token's row: one rotates, the other is a reuse.
 */
export async function rotateRefreshToken(db: Database, refreshToken: string, lifetimes: SessionLifetimes): Promise<RotatedSession> {
  const tokenHash = hashSecretToken(refreshToken);
  const outcome = await db.transaction({}, async (tx) => {
    const [claimed] = await tx
      .update(refreshTokens)
      .set({ usedAt: sql`now()` })
      .where(and(eq(refreshTokens.tokenHash, tokenHash), isNull(refreshTokens.usedAt)))
      .returning({ sessionId: refreshTokens.sessionId });
    if (!claimed) {
      const [used] = await tx.select({ sessionId: refreshTokens.sessionId }).from(refreshTokens).where(eq(refreshTokens.tokenHash, tokenHash));
      if (!used) return { kind: 'invalid' as const };
      await tx
        .update(sessions)
        .set({ revokedAt: sql`now()`, revokedReason: 'refresh_token_reused' })
        .where(and(eq(sessions.id, used.sessionId), isNull(sessions.revokedAt)));
      return { kind: 'reused' as const };
    }
    const [session] = await tx
      .update(sessions)
      .set({
        lastUsedAt: sql`now()`,
        idleExpiresAt: sql`least(now() + make_interval(secs => ${lifetimes.refreshTokenTtlSeconds}), ${sessions.expiresAt})`,
      })
      .where(and(eq(sessions.id, claimed.sessionId), isLive(), sql`exists (select 1 from ${users} where ${users.id} = ${sessions.userId} and ${users.status} = 'active')`))
      .returning({ id: sessions.id, userId: sessions.userId, tenantId: sessions.activeTenantId });
    // A dead session's token stays marked used, so it can never be tried again.
    if (!session) return { kind: 'invalid' as const };
    return { kind: 'rotated' as const, session: { sessionId: session.id, userId: session.userId, tenantId: session.tenantId, refreshToken: await addRefreshToken(tx, session.id) } };
  });
  if (outcome.kind === 'reused') throw new AppError('auth.refresh_token_reused', 'This refresh token was already used; the session has been revoked. Sign in again.');
  if (outcome.kind === 'invalid') throw new AppError('auth.invalid_refresh_token', 'The refresh token is invalid or expired.');
  return outcome.session;
}

/** Ends one of the user's sessions; false when there is no such live session. */
export async function revokeSession(tx: Tx, userId: string, sessionId: string, reason: SessionRevocationReason): Promise<boolean> {
  const revoked = await tx
    .update(sessions)
    .set({ revokedAt: sql`now()`, revokedReason: reason })
    .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), isNull(sessions.revokedAt)))
    .returning({ id: sessions.id });
  return revoked.length > 0;
}

/** Ends every live session of the user, except `keepSessionId` when given; returns how many ended. */
export async function revokeUserSessions(tx: Tx, userId: string, reason: SessionRevocationReason, keepSessionId?: string): Promise<number> {
  const revoked = await tx
    .update(sessions)
    .set({ revokedAt: sql`now()`, revokedReason: reason })
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), keepSessionId ? ne(sessions.id, keepSessionId) : undefined))
    .returning({ id: sessions.id });
  return revoked.length;
}

/** The user's live sessions, most recently used first. */
export async function listSessions(tx: Tx, userId: string) {
  return tx
    .select({ id: sessions.id, createdAt: sessions.createdAt, lastUsedAt: sessions.lastUsedAt, ip: sessions.ip, userAgent: sessions.userAgent })
    .from(sessions)
    .where(and(eq(sessions.userId, userId), isLive()))
    .orderBy(desc(sessions.lastUsedAt), desc(sessions.id));
}

/** Moves a live session to another tenant (switch-tenant) and hands out a fresh refresh token for it. */
export async function moveSessionToTenant(tx: Tx, sessionId: string, tenantId: string): Promise<string | null> {
  const [moved] = await tx
    .update(sessions)
    .set({ activeTenantId: tenantId, lastUsedAt: sql`now()` })
    .where(and(eq(sessions.id, sessionId), isLive()))
    .returning({ id: sessions.id });
  if (!moved) return null;
  // Only the new pair stays usable. The old unused token is deleted rather than marked used: a stale tab
  // presenting it is not a theft, so it gets "invalid" instead of revoking the session as a reuse would.
  await tx.delete(refreshTokens).where(and(eq(refreshTokens.sessionId, sessionId), isNull(refreshTokens.usedAt)));
  return addRefreshToken(tx, sessionId);
}
