/**
 * POST /change-password and POST /change-email through the real app, with mail delivered to a real SMTP
 * server: the other sessions signed out (this one kept), the notices, the email change confirmed through
 * the link mailed to the new address (then sign-in with it), every error, the brute-force guard on the
 * current password, and the security matrix of both routes.
 */
import { describe, expect, it } from 'vitest';
import { baseCases, securityMatrix } from '../../../test/security-matrix.js';
import { bearer, createPerson, createTenantFor, signInAs, TEST_PASSWORD, type Person } from '../../../test/auth.js';
import { CHANGE_EMAIL_MESSAGE } from './account.routes.js';
import { ADDRESS_MAIL_CAP } from './account.service.js';
import { clientIp, linkToken, MAX_FAILED_ATTEMPTS, problemOf, uniqueEmail, useAccountTestApp } from '../../../test/account-flows.js';

const kit = useAccountTestApp();
const { post, login, whoamiStatus, mailTo, mailsTo, user } = kit;
const app = () => kit.context.t.app;

const NEW_PASSWORD = 'Copper-harbour-41-meadow';

/** A person with a tenant and two signed-in sessions: `current` makes the calls, `other` is elsewhere. */
async function personWithTwoSessions(options: Parameters<typeof createPerson>[1] = {}) {
  const person = await createPerson(app(), options);
  await createTenantFor(app(), person);
  const current = await signInAs(app(), person);
  const other = await signInAs(app(), person);
  return { person, current, other };
}

const asUser = (accessToken: string) => ({ headers: bearer(accessToken) });

describe('POST /change-password', () => {
  it('changes the password, signs out the other sessions but not this one, and mails the person', async () => {
    const { person, current, other } = await personWithTwoSessions({ name: 'Ann <i>Admin</i>' });

    const changed = await post('/change-password', { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD }, asUser(current.accessToken));
    expect(changed.statusCode).toBe(204);
    expect(changed.body).toBe('');

    expect(await whoamiStatus(current.accessToken)).toBe(200);
    expect(await whoamiStatus(other.accessToken)).toBe(401);
    expect(problemOf(await login(person.email, TEST_PASSWORD)).code).toBe('auth.invalid_credentials');
    expect((await login(person.email, NEW_PASSWORD)).statusCode).toBe(200);

    const notice = await mailTo(person.email, 'Your password was changed');
    expect(notice.text).toContain('Hello Ann <i>Admin</i>,');
    expect(notice.text).toContain('Your other sessions were signed out');
    expect(notice.html).toContain('Hello Ann &lt;i&gt;Admin&lt;/i&gt;,');
    expect(notice.html).toContain(`<strong>${person.email}</strong>`);
  });

  it('refuses a wrong current password with 401 and changes nothing', async () => {
    const { person, current, other } = await personWithTwoSessions();
    const hashBefore = (await user(person.id)).password_hash;

    const refused = await post('/change-password', { currentPassword: 'Not-the-password-42', newPassword: NEW_PASSWORD }, asUser(current.accessToken));
    expect(refused.statusCode).toBe(401);
    expect(problemOf(refused).code).toBe('auth.invalid_credentials');

    expect((await user(person.id)).password_hash).toBe(hashBefore);
    expect(await whoamiStatus(other.accessToken)).toBe(200);
    expect((await login(person.email, TEST_PASSWORD)).statusCode).toBe(200);
  });

  it('applies the password policy to the new password', async () => {
    const { current } = await personWithTwoSessions();
    for (const newPassword of ['password1', 'tiny']) {
      const refused = await post('/change-password', { currentPassword: TEST_PASSWORD, newPassword }, asUser(current.accessToken));
      expect(refused.statusCode).toBe(400);
      const problem = problemOf(refused);
      expect(problem.code).toBe('auth.weak_password');
      expect(problem.errors).toEqual([expect.objectContaining({ field: '/newPassword' })]);
    }
    const invalid = await post('/change-password', { newPassword: NEW_PASSWORD }, asUser(current.accessToken));
    expect(problemOf(invalid).errors).toEqual([expect.objectContaining({ field: '/currentPassword' })]);
  });

  it('locks the account’s password checks after too many wrong current passwords, even for the right one', async () => {
    const { current } = await personWithTwoSessions();
    const wrong = { currentPassword: 'Not-the-password-42', newPassword: NEW_PASSWORD };
    for (let attempt = 1; attempt <= MAX_FAILED_ATTEMPTS; attempt++) {
      expect((await post('/change-password', wrong, asUser(current.accessToken))).statusCode).toBe(401);
    }
    // From another address too: the budget is the account's.
    const locked = await post('/change-password', { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD }, { ...asUser(current.accessToken), remoteAddress: clientIp() });
    expect(locked.statusCode).toBe(429);
    expect(problemOf(locked).code).toBe('auth.too_many_attempts');
    expect(locked.headers['retry-after']).toBeDefined();
  });

  it('retires an outstanding reset link (it was mailed for the old password)', async () => {
    const { person, current } = await personWithTwoSessions();
    await post('/forgot-password', { email: person.email });
    const resetToken = linkToken(await mailTo(person.email, 'Reset your password'), 'reset-password');

    expect((await post('/change-password', { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD }, asUser(current.accessToken))).statusCode).toBe(204);
    expect(problemOf(await post('/reset-password', { token: resetToken, password: 'Another-fresh-passphrase-9' })).code).toBe('auth.invalid_token');
    expect((await login(person.email, NEW_PASSWORD)).statusCode).toBe(200);
  });

  describe('security matrix', () => {
    securityMatrix(() => ({ app: app(), admin: kit.context.t.admin }), { method: 'POST', url: '/api/v1/auth/change-password', payload: { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD } }, [
      ...baseCases,
      {
        name: 'revoked session',
        headers: async () => {
          const { person, current } = await personWithTwoSessions();
          await kit.context.t.admin.query(`UPDATE sessions SET revoked_at = now(), revoked_reason = 'logout' WHERE user_id = $1`, [person.id]);
          return bearer(current.accessToken);
        },
        status: 401,
        code: 'auth.unauthenticated',
      },
      {
        name: 'disabled person',
        headers: async () => {
          const { person, current } = await personWithTwoSessions();
          await kit.context.t.admin.query(`UPDATE users SET status = 'disabled' WHERE id = $1`, [person.id]);
          return bearer(current.accessToken);
        },
        status: 401,
        code: 'auth.unauthenticated',
      },
    ]);
  });
});

describe('POST /change-email', () => {
  /** Asks to move `person` to `newEmail` from the `current` session; returns the confirmation token. */
  async function requestChange(person: Person, accessToken: string, newEmail: string): Promise<string> {
    const accepted = await post('/change-email', { newEmail, password: person.password }, asUser(accessToken));
    expect(accepted.statusCode).toBe(202);
    expect(accepted.json()).toEqual({ message: CHANGE_EMAIL_MESSAGE });
    return linkToken(await mailTo(newEmail, 'Confirm your new email address'), 'confirm-email');
  }

  it('confirms the new address through the mailed link, tells the old one, and signs in with the new one', async () => {
    const { person, current, other } = await personWithTwoSessions({ name: '<script>x</script>' });
    const newEmail = uniqueEmail('moved');

    const token = await requestChange(person, current.accessToken, newEmail);
    const confirmation = mailsTo(newEmail, 'Confirm your new email address')[0]!;
    expect(confirmation.text).toContain(newEmail);
    expect(confirmation.html).toContain('Hello &lt;script&gt;x&lt;/script&gt;,');
    expect(confirmation.html).not.toContain('<script>');
    const warning = await mailTo(person.email, 'Your email address is being changed');
    expect(warning.text).toContain(`from ${person.email} to ${newEmail}`);
    expect(warning.html).toContain(`<strong>${newEmail}</strong>`);

    // Nothing changes until the new address is proven.
    expect((await user(person.id)).email).toBe(person.email);
    expect((await login(newEmail, TEST_PASSWORD)).statusCode).toBe(401);

    expect((await post('/verify-email', { token })).statusCode).toBe(204);

    const after = await user(person.id);
    expect(after.email).toBe(newEmail);
    expect(after.email_verified_at).not.toBeNull();
    const done = await mailTo(person.email, 'Your email address was changed');
    expect(done.text).toContain(`from ${person.email} to ${newEmail}`);
    expect(done.html).toContain(`<strong>${newEmail}</strong>`);
    expect(mailsTo(newEmail, 'Your email address was changed')).toHaveLength(0);

    expect(await whoamiStatus(current.accessToken)).toBe(200);
    expect(await whoamiStatus(other.accessToken)).toBe(401);
    expect(problemOf(await login(person.email, TEST_PASSWORD)).code).toBe('auth.invalid_credentials');
    expect((await login(newEmail, TEST_PASSWORD)).statusCode).toBe(200);

    expect(problemOf(await post('/verify-email', { token })).code).toBe('auth.invalid_token');
  });

  it('retires links mailed to the old address once the change is done', async () => {
    const { person, current } = await personWithTwoSessions({ verified: false });
    await post('/forgot-password', { email: person.email });
    const resetToken = linkToken(await mailTo(person.email, 'Reset your password'), 'reset-password');
    await post('/resend-verification', { email: person.email });
    const verifyToken = linkToken(await mailTo(person.email, 'Verify your email address'), 'verify-email');

    const token = await requestChange(person, current.accessToken, uniqueEmail('moved'));
    expect((await post('/verify-email', { token })).statusCode).toBe(204);

    expect(problemOf(await post('/reset-password', { token: resetToken, password: NEW_PASSWORD })).code).toBe('auth.invalid_token');
    expect(problemOf(await post('/verify-email', { token: verifyToken })).code).toBe('auth.invalid_token');
  });

  it('refuses the current address, in any case', async () => {
    const { person, current } = await personWithTwoSessions();
    const refused = await post('/change-email', { newEmail: person.email.toUpperCase(), password: TEST_PASSWORD }, asUser(current.accessToken));
    expect(refused.statusCode).toBe(400);
    const problem = problemOf(refused);
    expect(problem.code).toBe('auth.email_unchanged');
    expect(problem.errors).toEqual([expect.objectContaining({ field: '/newEmail' })]);
  });

  it('refuses a wrong password with 401 and mails nothing', async () => {
    const { person, current } = await personWithTwoSessions();
    const refused = await post('/change-email', { newEmail: uniqueEmail('moved'), password: 'Not-the-password-42' }, asUser(current.accessToken));
    expect(refused.statusCode).toBe(401);
    expect(problemOf(refused).code).toBe('auth.invalid_credentials');
    const tokens = await kit.context.t.admin.query(`SELECT 1 FROM one_time_tokens WHERE user_id = $1 AND purpose = 'change_email'`, [person.id]);
    expect(tokens).toHaveLength(0);
  });

  it('refuses an address another account uses (409), checked case-insensitively', async () => {
    const { current } = await personWithTwoSessions();
    const owner = await createPerson(app());
    const taken = await post('/change-email', { newEmail: owner.email.toUpperCase(), password: TEST_PASSWORD }, asUser(current.accessToken));
    expect(taken.statusCode).toBe(409);
    expect(problemOf(taken).code).toBe('auth.email_taken');
  });

  it('answers 409 at confirmation when another account took the address meanwhile, and changes nothing', async () => {
    const { person, current } = await personWithTwoSessions();
    const newEmail = uniqueEmail('contested');
    const token = await requestChange(person, current.accessToken, newEmail);
    await createPerson(app(), { email: newEmail });

    const conflict = await post('/verify-email', { token });
    expect(conflict.statusCode).toBe(409);
    expect(problemOf(conflict).code).toBe('auth.email_taken');
    expect((await user(person.id)).email).toBe(person.email);
  });

  it(`sends at most ${ADDRESS_MAIL_CAP} confirmations per hour to one new address`, async () => {
    const { person, current } = await personWithTwoSessions();
    const newEmail = uniqueEmail('bombed');
    for (let i = 0; i < ADDRESS_MAIL_CAP; i++) {
      expect((await post('/change-email', { newEmail, password: person.password }, asUser(current.accessToken))).statusCode).toBe(202);
    }
    const capped = await post('/change-email', { newEmail, password: person.password }, asUser(current.accessToken));
    expect(capped.statusCode).toBe(429);
    expect(problemOf(capped).code).toBe('rate_limit.exceeded');
    expect(Number(capped.headers['retry-after'])).toBeGreaterThan(0);
  });

  describe('security matrix', () => {
    securityMatrix(() => ({ app: app(), admin: kit.context.t.admin }), { method: 'POST', url: '/api/v1/auth/change-email', payload: { newEmail: uniqueEmail(), password: TEST_PASSWORD } });
  });
});
