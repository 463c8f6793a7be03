/**
 * MFA management for the signed-in person: TOTP setup → enable (which hands out recovery codes) →
 * disable, and a new set of recovery codes.
 *
 * - Setup stores a fresh secret (sealed) with `totp_enabled_at` null: a pending secret that nothing
 *   accepts at sign-in until a code from it has been shown at enable. Setting up again replaces it.
 * - Every secret a caller presents (password, TOTP code, recovery code) goes through the brute-force
 *   guard first: passwords under `password:<userId>` (the budget login and change-password share), codes
 *   under `mfa:<userId>` (the budget of the sign-in MFA step).
 * - Turning MFA on or off ends the person's other sessions (reason `mfa_changed`): sessions opened without
 *   the second factor should not outlive its arrival, and whoever turns it off may be an intruder on this
 *   device whom the others should not keep company. The current session stays; enabling marks it as
 *   having presented the factor.
 *
 * Argon2 verification runs outside any transaction (it takes tens of milliseconds, and PGlite has one
 * connection); the state is then re-read under `FOR UPDATE` in the transaction that changes it.
 */
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Tx } from '../../core/db/database.js';
import { AppError } from '../../core/http/errors.js';
import { users } from '../../core/tenancy/tenancy.table.js';
import { assertCurrentPassword } from './account.service.js';
import type { IdentityDeps } from './deps.js';
import { recoveryCodes, sessions } from './identity.table.js';
import { checkTotpCode, replaceRecoveryCodes, sealTotpSecret, useRecoveryCode } from './second-factor.js';
import { revokeUserSessions } from './sessions.js';
import { generateTotpSecret, otpauthUrl } from './totp.js';

type MfaDeps = Pick<IdentityDeps, 'config' | 'platform' | 'passwords' | 'attempts' | 'secretKey'>;

/** Who is asking: the signed-in person, the session they use, and where they call from. */
export interface MfaCaller {
  userId: string;
  sessionId?: string;
  ip: string;
}

export interface TotpSetup {
  /** Base32, for typing into an authenticator app by hand. */
  secret: string;
  /** The `otpauth://` Key URI to show as a QR code. */
  otpauthUrl: string;
}

/** The attempt-guard account key of second-factor checks (shared with the sign-in MFA step). */
export const mfaAttemptKey = (userId: string) => `mfa:${userId}`;

/** Product name shown by authenticator apps when PUBLIC_URL names no usable host. */
export const DEFAULT_TOTP_ISSUER = 'Atrium';

/**
 * The issuer shown in authenticator apps: the public host (`api.example.com`), which tells one deployment
 * (or staging from production) from another. An IPv6 literal cannot be used: the Key URI's label
 * separator is a colon.
 */
export function totpIssuer(publicUrl: string): string {
  const host = new URL(publicUrl).hostname;
  return host && !host.includes(':') && !host.startsWith('[') ? host : DEFAULT_TOTP_ISSUER;
}

/** A second factor as typed: six digits (spaces allowed) is a TOTP code, anything else a recovery code. */
export function isTotpShaped(code: string): boolean {
  return /^[0-9]{6}$/.test(code.replace(/\s+/g, ''));
}

async function lockUser(tx: Tx, userId: string) {
  const [user] = await tx.select().from(users).where(eq(users.id, userId)).for('update');
  // The caller's session is live (authentication checked it), so the person exists.
  if (!user) throw new Error(`user ${userId} does not exist`);
  return user;
}

async function findUser(deps: MfaDeps, userId: string) {
  const [user] = await deps.platform.db.transaction({ userId }, (tx) => tx.select().from(users).where(eq(users.id, userId)));
  if (!user) throw new Error(`user ${userId} does not exist`);
  return user;
}

const notEnabled = () => new AppError('auth.mfa_not_enabled', 'Two-factor authentication is not enabled for this account.');
const alreadyEnabled = () => new AppError('auth.mfa_already_enabled', 'Two-factor authentication is already enabled; disable it first to set up a new authenticator.');
const invalidCode = () => new AppError('auth.invalid_mfa_code', 'The code is wrong, expired or already used.');

/** Starts (or restarts) TOTP setup: a new pending secret and its Key URI. 409 when MFA is already on. */
export async function startTotpSetup(deps: MfaDeps, caller: MfaCaller): Promise<TotpSetup> {
  const secret = generateTotpSecret();
  const sealed = sealTotpSecret(deps.secretKey, caller.userId, secret);
  const [user] = await deps.platform.db.transaction({ userId: caller.userId }, (tx) =>
    tx
      .update(users)
      .set({ totpSecret: sealed, totpLastStep: null })
      // Conditional: a concurrent enable wins, and an enabled secret is never replaced.
      .where(and(eq(users.id, caller.userId), isNull(users.totpEnabledAt)))
      .returning({ email: users.email }),
  );
  if (!user) throw alreadyEnabled();
  return { secret, otpauthUrl: otpauthUrl({ secret, accountName: user.email, issuer: totpIssuer(deps.config.http.publicUrl) }) };
}

/**
 * Turns TOTP on with a code from the pending secret, and returns the first set of recovery codes (shown
 * once; stored hashed). 409 `auth.mfa_already_enabled` / `auth.mfa_setup_required`; a wrong, stale or
 * replayed code → 401 `auth.invalid_mfa_code`.
 */
export async function enableTotp(deps: MfaDeps, caller: MfaCaller, code: string): Promise<{ recoveryCodes: string[] }> {
  const ticket = await deps.attempts.begin(mfaAttemptKey(caller.userId), caller.ip);
  const outcome = await deps.platform.db.transaction({ userId: caller.userId }, async (tx) => {
    const user = await lockUser(tx, caller.userId);
    if (user.totpEnabledAt) return { kind: 'already_enabled' as const };
    if (!user.totpSecret) return { kind: 'setup_required' as const };
    if (!(await checkTotpCode(tx, deps.secretKey, user, code, { requireEnabled: false }))) return { kind: 'invalid_code' as const };
    await tx.update(users).set({ totpEnabledAt: sql`now()` }).where(eq(users.id, caller.userId));
    const codes = await replaceRecoveryCodes(tx, caller.userId);
    await revokeUserSessions(tx, caller.userId, 'mfa_changed', caller.sessionId);
    if (caller.sessionId) await tx.update(sessions).set({ mfaVerified: true }).where(eq(sessions.id, caller.sessionId));
    return { kind: 'enabled' as const, codes };
  });
  switch (outcome.kind) {
    case 'already_enabled':
      throw alreadyEnabled();
    case 'setup_required':
      throw new AppError('auth.mfa_setup_required', 'Start with POST /api/v1/auth/mfa/totp/setup, then confirm a code from the authenticator app here.');
    case 'invalid_code':
      await ticket.failed();
      throw invalidCode();
    case 'enabled':
      await ticket.succeeded();
      return { recoveryCodes: outcome.codes };
  }
}

/**
 * Turns TOTP off. Needs the password and a second factor: a current TOTP code or one unused recovery code
 * (so a person who lost the authenticator can still switch it off). Clears the secret, its last step and
 * the recovery codes, and ends the other sessions.
 */
export async function disableTotp(deps: MfaDeps, caller: MfaCaller, input: { password: string; code: string }): Promise<void> {
  const user = await findUser(deps, caller.userId);
  if (!user.totpEnabledAt) throw notEnabled();
  await assertCurrentPassword(deps, user, input.password, caller.ip);

  const ticket = await deps.attempts.begin(mfaAttemptKey(caller.userId), caller.ip);
  const outcome = await deps.platform.db.transaction({ userId: caller.userId }, async (tx) => {
    const current = await lockUser(tx, caller.userId);
    if (!current.totpEnabledAt) return 'not_enabled' as const;
    const ok = isTotpShaped(input.code) ? await checkTotpCode(tx, deps.secretKey, current, input.code) : await useRecoveryCode(tx, caller.userId, input.code);
    if (!ok) return 'invalid_code' as const;
    await tx.update(users).set({ totpSecret: null, totpEnabledAt: null, totpLastStep: null }).where(eq(users.id, caller.userId));
    await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, caller.userId));
    await revokeUserSessions(tx, caller.userId, 'mfa_changed', caller.sessionId);
    return 'disabled' as const;
  });
  if (outcome === 'not_enabled') throw notEnabled();
  if (outcome === 'invalid_code') {
    await ticket.failed();
    throw invalidCode();
  }
  await ticket.succeeded();
}

/** Replaces the recovery codes with a new set (the old ones stop working). Needs the password. */
export async function regenerateRecoveryCodes(deps: MfaDeps, caller: MfaCaller, input: { password: string }): Promise<{ recoveryCodes: string[] }> {
  const user = await findUser(deps, caller.userId);
  if (!user.totpEnabledAt) throw notEnabled();
  await assertCurrentPassword(deps, user, input.password, caller.ip);
  const codes = await deps.platform.db.transaction({ userId: caller.userId }, async (tx) => {
    const current = await lockUser(tx, caller.userId);
    return current.totpEnabledAt ? replaceRecoveryCodes(tx, caller.userId) : null;
  });
  if (!codes) throw notEnabled();
  return { recoveryCodes: codes };
}
