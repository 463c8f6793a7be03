/**
 * Forgotten passwords: `POST /forgot-password` mails a single-use link (1 h) and `POST /reset-password`
 * spends it on a new password.
 *
 * A reset signs every session out (the person may be locking an intruder out) and leaves MFA as it is: a
 * reset proves control of the mailbox, not of the second factor, so the next sign-in still asks for it.
 * Because the link was mailed to the account's address, using it also proves that address (it is marked
 * verified if it was not).
 */
import { and, eq, sql } from 'drizzle-orm';
import { AppError } from '../../core/http/errors.js';
import { users } from '../../core/tenancy/tenancy.table.js';
import { claimAddressMailQuota, findUserByEmail, retireOneTimeTokens, type MailRequestOutcome, type UserRow } from './account.service.js';
import { authLink, mailTimestamp, queueAuthMail } from './auth-mails.js';
import { normalizeEmail } from './auth.schemas.js';
import type { IdentityDeps } from './deps.js';
import { consumeOneTimeToken, findOneTimeToken, issueOneTimeToken } from './one-time-tokens.js';
import { assertPasswordAcceptable } from './passwords.js';
import { revokeUserSessions } from './sessions.js';

/**
 * Mails a reset link to the active account with this address, if there is one and the address's mail
 * quota allows. Never tells the caller which happened (the route answers the same 202 regardless); the
 * outcome is for the log.
 */
export async function requestPasswordReset(deps: IdentityDeps, email: string): Promise<MailRequestOutcome> {
  if (!(await claimAddressMailQuota(deps.platform.counters, 'reset', email)).allowed) return 'capped';
  return deps.platform.db.transaction({}, async (tx, executor) => {
    const user = await findUserByEmail(tx, email);
    if (!user || user.status !== 'active') return 'no_account';
    // Issuing retires the person's earlier reset links: only the newest works.
    const token = await issueOneTimeToken(tx, { userId: user.id, purpose: 'reset_password', email: user.email });
    await queueAuthMail(deps.platform, executor, 'resetPassword', user.email, { name: user.name, link: authLink(deps.config.http.publicUrl, 'reset-password', token) });
    return 'queued';
  });
}

const invalidToken = () => new AppError('auth.invalid_token', 'The reset link is invalid, expired or already used; ask for a new one.');

export interface ResetPasswordInput {
  token: string;
  password: string;
}

/**
 * Sets a new password with a reset token. The token is looked at first and spent only with the change
 * (a refused weak password leaves the link usable); spending it is a conditional UPDATE, so two
 * concurrent uses cannot both succeed. Failed token checks count against the client address through the
 * brute-force guard.
 */
export async function resetPassword(deps: IdentityDeps, input: ResetPasswordInput, ip: string): Promise<void> {
  const { db } = deps.platform;
  const ticket = await deps.attempts.begin(`reset:${ip}`, ip);
  const user = await db.transaction({}, async (tx): Promise<UserRow | null> => {
    const token = await findOneTimeToken(tx, input.token, 'reset_password');
    if (!token) return null;
    const [owner] = await tx.select().from(users).where(eq(users.id, token.userId));
    return owner && owner.status === 'active' ? owner : null;
  });
  if (!user) {
    await ticket.failed();
    throw invalidToken();
  }
  await ticket.succeeded();

  assertPasswordAcceptable(input.password, { email: user.email });
  const passwordHash = await deps.passwords.hash(input.password);

  await db.transaction({ userId: user.id }, async (tx, executor) => {
    const token = await consumeOneTimeToken(tx, input.token, 'reset_password');
    if (!token || token.userId !== user.id) throw invalidToken();
    const [changed] = await tx
      .update(users)
      .set({
        passwordHash,
        passwordChangedAt: sql`now()`,
        // Proof of the address only while the link was mailed to the account's current address.
        emailVerifiedAt: sql`case when lower(${users.email}) = lower(${token.email ?? ''}) then coalesce(${users.emailVerifiedAt}, now()) else ${users.emailVerifiedAt} end`,
      })
      .where(and(eq(users.id, user.id), eq(users.status, 'active')))
      .returning({ email: users.email, name: users.name });
    if (!changed) throw invalidToken();
    await revokeUserSessions(tx, user.id, 'password_reset');
    // A pending MFA step was reached with the old password; it must not survive the reset.
    await retireOneTimeTokens(tx, user.id, ['mfa_login']);
    await queueAuthMail(deps.platform, executor, 'passwordChanged', changed.email, {
      name: changed.name,
      email: changed.email,
      when: mailTimestamp(),
      signedOut: 'It was reset with a link sent to this address, and every session was signed out.',
    });
  });
  // The reset proves the person: failed sign-ins (perhaps why they reset) no longer lock them out.
  await deps.attempts.forgive(`login:${normalizeEmail(user.email)}`);
}
