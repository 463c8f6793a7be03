/**
 * Proving an address: the verification mail (sent at sign-up, again by `POST /resend-verification`) and
 * `POST /verify-email`, which accepts two kinds of mailed token:
 *
 * - `verify_email` — marks the account's address verified, if the token was mailed to the address the
 *   account still has;
 * - `change_email` (the link of `POST /change-email`) — switches the account to the new address, verified
 *   by this very use; 409 `auth.email_taken` if another account took the address meanwhile. It retires the
 *   person's outstanding links (they were mailed to the old address), signs out every session but the one
 *   that asked for the change, and tells the old address.
 */
import { eq, sql } from 'drizzle-orm';
import { pgErrorCode, PG } from '../../core/db/errors.js';
import type { SqlExecutor, Tx } from '../../core/db/database.js';
import { AppError } from '../../core/http/errors.js';
import { users } from '../../core/tenancy/tenancy.table.js';
import { claimAddressMailQuota, findUserByEmail, isEmailTaken, retireOneTimeTokens, type MailRequestOutcome } from './account.service.js';
import { authLink, mailTimestamp, queueAuthMail } from './auth-mails.js';
import type { IdentityDeps } from './deps.js';
import { consumeOneTimeToken, issueOneTimeToken, type OneTimeTokenRow } from './one-time-tokens.js';
import { revokeUserSessions } from './sessions.js';

/**
 * Issues a verification token for the person's current address and queues the mail, in the caller's
 * transaction (sign-up calls this beside creating the account; earlier verification links stop working).
 */
export async function queueVerificationMail(
  tx: Tx,
  executor: SqlExecutor,
  deps: Pick<IdentityDeps, 'platform' | 'config'>,
  user: { id: string; name: string; email: string },
): Promise<void> {
  const token = await issueOneTimeToken(tx, { userId: user.id, purpose: 'verify_email', email: user.email });
  await queueAuthMail(deps.platform, executor, 'verifyEmail', user.email, { name: user.name, email: user.email, link: authLink(deps.config.http.publicUrl, 'verify-email', token) });
}

/**
 * Mails a new verification link to the active, still unverified account with this address, if there is
 * one and the address's mail quota allows. The caller learns nothing of which happened.
 */
export async function resendVerificationEmail(deps: IdentityDeps, email: string): Promise<MailRequestOutcome> {
  if (!(await claimAddressMailQuota(deps.platform.counters, 'verify', email)).allowed) return 'capped';
  return deps.platform.db.transaction({}, async (tx, executor) => {
    const user = await findUserByEmail(tx, email);
    if (!user || user.status !== 'active' || user.emailVerifiedAt !== null) return 'no_account';
    await queueVerificationMail(tx, executor, deps, user);
    return 'queued';
  });
}

type VerifyOutcome = 'verified' | 'email_changed' | 'invalid' | 'taken';

async function confirmAddress(tx: Tx, token: OneTimeTokenRow): Promise<VerifyOutcome> {
  // Stale when the account's address moved on after the mail was sent.
  const [verified] = await tx
    .update(users)
    .set({ emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, now())` })
    .where(sql`${users.id} = ${token.userId} and ${users.status} = 'active' and lower(${users.email}) = lower(${token.email ?? ''})`)
    .returning({ id: users.id });
  return verified ? 'verified' : 'invalid';
}

async function completeEmailChange(tx: Tx, executor: SqlExecutor, deps: IdentityDeps, token: OneTimeTokenRow): Promise<VerifyOutcome> {
  const newEmail = token.email;
  const [user] = await tx.select().from(users).where(eq(users.id, token.userId));
  if (!newEmail || !user || user.status !== 'active') return 'invalid';
  if (await isEmailTaken(tx, newEmail, user.id)) return 'taken';

  await tx.update(users).set({ email: newEmail, emailVerifiedAt: sql`now()` }).where(eq(users.id, user.id));
  await retireOneTimeTokens(tx, user.id, ['verify_email', 'reset_password', 'change_email']);
  const requestingSession = typeof token.data.sessionId === 'string' ? token.data.sessionId : undefined;
  await revokeUserSessions(tx, user.id, 'email_changed', requestingSession);
  await queueAuthMail(deps.platform, executor, 'emailChanged', user.email, { name: user.name, email: user.email, newEmail, when: mailTimestamp() });
  return 'email_changed';
}

const emailTaken = () => new AppError('auth.email_taken', 'Another account took that address meanwhile; the address was not changed.');

/**
 * Spends a `verify_email` or `change_email` token (see the file comment). Unknown, used, expired or
 * stale → 400 `auth.invalid_token`, counted against the client address by the brute-force guard.
 */
export async function verifyEmail(deps: IdentityDeps, rawToken: string, ip: string): Promise<'verified' | 'email_changed'> {
  const ticket = await deps.attempts.begin(`verify:${ip}`, ip);
  let outcome: VerifyOutcome;
  try {
    outcome = await deps.platform.db.transaction({}, async (tx, executor) => {
      const verification = await consumeOneTimeToken(tx, rawToken, 'verify_email');
      if (verification) return confirmAddress(tx, verification);
      const change = await consumeOneTimeToken(tx, rawToken, 'change_email');
      if (change) return completeEmailChange(tx, executor, deps, change);
      return 'invalid';
    });
  } catch (error) {
    // Two changes to one address racing: the unique index decides, and the loser changes nothing.
    if (pgErrorCode(error) !== PG.uniqueViolation) throw error;
    outcome = 'taken';
  }
  if (outcome === 'invalid') {
    await ticket.failed();
    throw new AppError('auth.invalid_token', 'The link is invalid, expired or already used; ask for a new one.');
  }
  await ticket.succeeded();
  if (outcome === 'taken') throw emailTaken();
  return outcome;
}
