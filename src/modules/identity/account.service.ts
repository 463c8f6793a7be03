/**
 * Account use-cases of a signed-in person — change the password, change the email address — and what the
 * email flows share: finding a person by address, the per-address mail quota, checking the current
 * password through the brute-force guard, retiring outstanding one-time tokens.
 *
 * The flows that start from an email live beside this file: password-reset.ts (forgot / reset) and
 * email-verification.ts (verify, resend, and completing an email change).
 */
import { and, eq, inArray, isNull, ne, sql } from 'drizzle-orm';
import type { RateCounter } from '../../core/cache/rate-counter.js';
import type { Tx } from '../../core/db/database.js';
import { AppError } from '../../core/http/errors.js';
import { users } from '../../core/tenancy/tenancy.table.js';
import { authLink, mailTimestamp, queueAuthMail } from './auth-mails.js';
import { normalizeEmail } from './auth.schemas.js';
import type { SignedInPerson } from './authenticate.js';
import type { IdentityDeps } from './deps.js';
import { oneTimeTokens, type OneTimeTokenPurpose } from './identity.table.js';
import { issueOneTimeToken } from './one-time-tokens.js';
import { assertPasswordAcceptable } from './passwords.js';
import { revokeUserSessions } from './sessions.js';

export type UserRow = typeof users.$inferSelect;

/** Mails of one kind one address may receive per window, whoever asks: nobody can mail-bomb an inbox. */
export const ADDRESS_MAIL_CAP = 5;
export const ADDRESS_MAIL_WINDOW_MS = 60 * 60 * 1000;

export type AddressMailKind = 'reset' | 'verify' | 'change_email';

/** What a mail request did; the route never tells the caller (same 202 either way), the log does. */
export type MailRequestOutcome = 'queued' | 'no_account' | 'capped';

/**
 * Counts one mail of `kind` to `email` and says whether it may be sent. Counted whether or not the
 * address belongs to an account, so the cap itself tells nothing about which addresses exist.
 */
export async function claimAddressMailQuota(counters: RateCounter, kind: AddressMailKind, email: string): Promise<{ allowed: boolean; resetAt: number }> {
  const { count, resetAt } = await counters.hit(`identity:mail:${kind}:${normalizeEmail(email)}`, ADDRESS_MAIL_WINDOW_MS);
  return { allowed: count <= ADDRESS_MAIL_CAP, resetAt };
}

/** The person with this address (case-insensitive), or null. */
export async function findUserByEmail(tx: Tx, email: string): Promise<UserRow | null> {
  const [user] = await tx
    .select()
    .from(users)
    .where(sql`lower(${users.email}) = lower(${email})`);
  return user ?? null;
}

/** Whether another person than `exceptUserId` already has this address. */
export async function isEmailTaken(tx: Tx, email: string, exceptUserId: string): Promise<boolean> {
  const [other] = await tx
    .select({ id: users.id })
    .from(users)
    .where(and(sql`lower(${users.email}) = lower(${email})`, ne(users.id, exceptUserId)));
  return other !== undefined;
}

/** Makes the user's unused tokens of these purposes unusable (their premise — password, address — changed). */
export async function retireOneTimeTokens(tx: Tx, userId: string, purposes: OneTimeTokenPurpose[]): Promise<void> {
  await tx
    .update(oneTimeTokens)
    .set({ usedAt: sql`now()` })
    .where(and(eq(oneTimeTokens.userId, userId), inArray(oneTimeTokens.purpose, purposes), isNull(oneTimeTokens.usedAt)));
}

async function getActiveUser(deps: IdentityDeps, userId: string): Promise<UserRow> {
  const [user] = await deps.platform.db.transaction({ userId }, (tx) => tx.select().from(users).where(eq(users.id, userId)));
  // Authentication already refused disabled people and ended sessions; this guards the gap in between.
  if (!user || user.status !== 'active') throw new AppError('auth.unauthenticated', 'A valid credential is required.');
  return user;
}

/**
 * Checks the caller's current password through the brute-force guard (account `password:<userId>`, so
 * these checks have a budget of their own beside sign-in's). Wrong → 401 `auth.invalid_credentials`.
 * A person without a password costs the same argon2 work and fails the same way.
 */
export async function assertCurrentPassword(
  deps: Pick<IdentityDeps, 'attempts' | 'passwords'>,
  user: Pick<UserRow, 'id' | 'passwordHash'>,
  password: string,
  ip: string,
): Promise<void> {
  const ticket = await deps.attempts.begin(`password:${user.id}`, ip);
  const matches = user.passwordHash ? await deps.passwords.verify(user.passwordHash, password) : await deps.passwords.verifyDummy(password);
  if (!matches) {
    await ticket.failed();
    throw new AppError('auth.invalid_credentials', 'The current password is wrong.');
  }
  await ticket.succeeded();
}

export interface ChangePasswordInput {
  currentPassword: string;
  newPassword: string;
}

/**
 * `POST /change-password`: checks the current password, applies the policy to the new one, stores it,
 * ends every other session of the person (the caller's stays signed in), retires outstanding reset links
 * and pending MFA sign-in steps (both were reached with the old password), and mails the person.
 */
export async function changePassword(deps: IdentityDeps, actor: SignedInPerson, input: ChangePasswordInput, ip: string): Promise<void> {
  const user = await getActiveUser(deps, actor.userId);
  // The policy first: it is cheap, tells nothing about the current password, and spends no attempt.
  assertPasswordAcceptable(input.newPassword, { email: user.email, field: '/newPassword' });
  await assertCurrentPassword(deps, user, input.currentPassword, ip);
  const passwordHash = await deps.passwords.hash(input.newPassword);

  await deps.platform.db.transaction({ userId: user.id }, async (tx, executor) => {
    // Conditional on the hash just verified: a concurrent change or reset wins, and this one is refused
    // rather than silently overwriting it.
    const changed = await tx
      .update(users)
      .set({ passwordHash, passwordChangedAt: sql`now()` })
      .where(and(eq(users.id, user.id), eq(users.status, 'active'), user.passwordHash === null ? isNull(users.passwordHash) : eq(users.passwordHash, user.passwordHash)))
      .returning({ email: users.email, name: users.name });
    if (changed.length === 0) throw new AppError('auth.invalid_credentials', 'The password was changed meanwhile; sign in again.');
    await revokeUserSessions(tx, user.id, 'password_changed', actor.sessionId);
    await retireOneTimeTokens(tx, user.id, ['reset_password', 'mfa_login']);
    const { email, name } = changed[0]!;
    await queueAuthMail(deps.platform, executor, 'passwordChanged', email, {
      name,
      email,
      when: mailTimestamp(),
      signedOut: 'Your other sessions were signed out; the device that made the change stays signed in.',
    });
  });
}

export interface ChangeEmailInput {
  newEmail: string;
  password: string;
}

/**
 * `POST /change-email`: after the password, mails a confirmation link (24 h) to the new address and a
 * notice to the current one. Nothing changes until the link is used (POST /verify-email), so the new
 * address is verified by construction. The address is checked for being free only after the password
 * (it is an existence oracle otherwise) and again when the change completes.
 */
export async function requestEmailChange(deps: IdentityDeps, actor: SignedInPerson, input: ChangeEmailInput, ip: string): Promise<void> {
  const user = await getActiveUser(deps, actor.userId);
  if (normalizeEmail(input.newEmail) === normalizeEmail(user.email)) {
    throw new AppError('auth.email_unchanged', 'The new address is the address the account already has.', {
      errors: [{ in: 'body', field: '/newEmail', message: 'is the current address' }],
    });
  }
  await assertCurrentPassword(deps, user, input.password, ip);

  await deps.platform.db.transaction({ userId: user.id }, async (tx, executor) => {
    if (await isEmailTaken(tx, input.newEmail, user.id)) throw new AppError('auth.email_taken', 'Another account already uses that address.');
    const quota = await claimAddressMailQuota(deps.platform.counters, 'change_email', input.newEmail);
    if (!quota.allowed) {
      const retryAfter = Math.max(1, Math.ceil((quota.resetAt - Date.now()) / 1000));
      throw new AppError('rate_limit.exceeded', `Too many confirmation mails were sent to that address recently; try again in ${retryAfter} s.`, {
        headers: { 'retry-after': String(retryAfter) },
      });
    }
    // Remembers the requesting session: completing the change signs out the person's other sessions.
    const token = await issueOneTimeToken(tx, { userId: user.id, purpose: 'change_email', email: input.newEmail, data: { sessionId: actor.sessionId } });
    await queueAuthMail(deps.platform, executor, 'confirmNewEmail', input.newEmail, {
      name: user.name,
      email: input.newEmail,
      link: authLink(deps.config.http.publicUrl, 'confirm-email', token),
    });
    await queueAuthMail(deps.platform, executor, 'emailChangeRequested', user.email, { name: user.name, email: user.email, newEmail: input.newEmail });
  });
}
