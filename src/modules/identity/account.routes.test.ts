/**
 * The email flows that start without a session, end to end through a real SMTP server: forgot-password →
 * mail → link → reset-password, and resend-verification → mail → link → verify-email. Every error of
 * these routes, identical answers for addresses with and without an account, the per-address mail cap,
 * the per-IP limits and the brute-force guard on token checks. (Change-password and change-email are in
 * account-changes.routes.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createPerson, createTenantFor, signInAs, TEST_PASSWORD } from '../../../test/auth.js';
import { ADDRESS_MAIL_CAP } from './account.service.js';
import { clientIp, linkToken, MAX_FAILED_ATTEMPTS, problemOf, uniqueEmail, useAccountTestApp } from '../../../test/account-flows.js';
import { FORGOT_PASSWORD_MESSAGE, RESEND_VERIFICATION_MESSAGE } from './account.routes.js';

const kit = useAccountTestApp();
const { post, login, whoamiStatus, mailTo, mailsTo, settle, expire, user } = kit;
const app = () => kit.context.t.app;

const NEW_PASSWORD = 'Copper-harbour-41-meadow';
const RESET_SUBJECT = 'Reset your password';
const VERIFY_SUBJECT = 'Verify your email address';

// Work after a 202 must not leak into the next test's counts.
afterEach(() => settle());

/** Asks for a reset link for `email` and returns the token of the mail that arrives. */
async function resetTokenFor(email: string, earlierMails = 0): Promise<string> {
  expect((await post('/forgot-password', { email })).statusCode).toBe(202);
  await settle();
  await expect.poll(() => mailsTo(email, RESET_SUBJECT).length, { timeout: 15_000 }).toBe(earlierMails + 1);
  return linkToken(mailsTo(email, RESET_SUBJECT)[earlierMails]!, 'reset-password');
}

describe('POST /forgot-password and POST /reset-password', () => {
  it('mails a single-use link that sets a new password, signs out every session and verifies the address', async () => {
    const person = await createPerson(app(), { verified: false, name: '<script>alert(1)</script> Ann' });
    await createTenantFor(app(), person);
    const first = await signInAs(app(), person);
    const second = await signInAs(app(), person);
    expect(await whoamiStatus(first.accessToken)).toBe(200);

    const accepted = await post('/forgot-password', { email: person.email.toUpperCase() });
    expect(accepted.statusCode).toBe(202);
    expect(accepted.json()).toEqual({ message: FORGOT_PASSWORD_MESSAGE });

    const mail = await mailTo(person.email, RESET_SUBJECT);
    expect(mail.text).toContain('<script>alert(1)</script> Ann');
    expect(mail.html).toContain('Hello &lt;script&gt;alert(1)&lt;/script&gt; Ann,');
    expect(mail.html).not.toContain('<script>');
    const token = linkToken(mail, 'reset-password');

    expect((await post('/reset-password', { token, password: NEW_PASSWORD })).statusCode).toBe(204);

    // Every session ends at once, not when its access token expires.
    expect(await whoamiStatus(first.accessToken)).toBe(401);
    expect(await whoamiStatus(second.accessToken)).toBe(401);
    const sessions = await kit.context.t.admin.query<{ revoked_reason: string }>('SELECT revoked_reason FROM sessions WHERE user_id = $1', [person.id]);
    expect(sessions.map((row) => row.revoked_reason)).toEqual(['password_reset', 'password_reset']);

    expect(problemOf(await login(person.email, TEST_PASSWORD)).code).toBe('auth.invalid_credentials');
    const signedIn = await login(person.email, NEW_PASSWORD);
    expect(signedIn.statusCode).toBe(200);
    expect(await whoamiStatus(signedIn.json<{ accessToken: string }>().accessToken)).toBe(200);
    expect((await user(person.id)).email_verified_at).not.toBeNull();

    const notice = await mailTo(person.email, 'Your password was changed');
    expect(notice.text).toContain('every session was signed out');
    expect(notice.html).toContain(person.email);

    // Single use.
    const reused = await post('/reset-password', { token, password: 'Another-fresh-passphrase-9' });
    expect(reused.statusCode).toBe(400);
    expect(problemOf(reused).code).toBe('auth.invalid_token');
    expect((await login(person.email, NEW_PASSWORD)).statusCode).toBe(200);
  });

  it('answers the same 202 for an unknown, a disabled and a known address, and mails only the known one', async () => {
    const known = await createPerson(app());
    const disabled = await createPerson(app(), { status: 'disabled' });
    const unknown = uniqueEmail('nobody');

    const responses = await Promise.all([unknown, disabled.email, known.email].map((email) => post('/forgot-password', { email })));
    const shapes = responses.map((response) => ({ status: response.statusCode, type: response.headers['content-type'], body: response.body }));
    expect(shapes[0]).toEqual({ status: 202, type: 'application/json; charset=utf-8', body: JSON.stringify({ message: FORGOT_PASSWORD_MESSAGE }) });
    expect(shapes[1]).toEqual(shapes[0]);
    expect(shapes[2]).toEqual(shapes[0]);

    await settle();
    await mailTo(known.email, RESET_SUBJECT);
    const tokens = await kit.context.t.admin.query<{ user_id: string }>(`SELECT user_id FROM one_time_tokens WHERE purpose = 'reset_password' AND user_id = ANY($1)`, [
      [known.id, disabled.id],
    ]);
    expect(tokens.map((row) => row.user_id)).toEqual([known.id]);
    expect(kit.context.smtp.messagesTo(unknown)).toHaveLength(0);
    expect(kit.context.smtp.messagesTo(disabled.email)).toHaveLength(0);
  });

  it('refuses an expired link and an unknown token, and keeps the password', async () => {
    const person = await createPerson(app());
    const token = await resetTokenFor(person.email);
    await expire(token);

    const expired = await post('/reset-password', { token, password: NEW_PASSWORD });
    expect(expired.statusCode).toBe(400);
    expect(problemOf(expired).code).toBe('auth.invalid_token');
    const unknown = await post('/reset-password', { token: 'A'.repeat(43), password: NEW_PASSWORD });
    expect(problemOf(unknown).code).toBe('auth.invalid_token');

    expect((await login(person.email, TEST_PASSWORD)).statusCode).toBe(200);
  });

  it('honours only the newest link', async () => {
    const person = await createPerson(app());
    const older = await resetTokenFor(person.email);
    const newer = await resetTokenFor(person.email, 1);

    expect(problemOf(await post('/reset-password', { token: older, password: NEW_PASSWORD })).code).toBe('auth.invalid_token');
    expect((await post('/reset-password', { token: newer, password: NEW_PASSWORD })).statusCode).toBe(204);
  });

  it('lets only one of two concurrent uses of a link succeed', async () => {
    const person = await createPerson(app());
    const token = await resetTokenFor(person.email);
    const passwords = [NEW_PASSWORD, 'Another-fresh-passphrase-9'];

    const responses = await Promise.all(passwords.map((password) => post('/reset-password', { token, password })));
    expect(responses.map((response) => response.statusCode).sort()).toEqual([204, 400]);
    const loser = responses.find((response) => response.statusCode === 400)!;
    expect(problemOf(loser).code).toBe('auth.invalid_token');
    const winner = passwords[responses.findIndex((response) => response.statusCode === 204)]!;
    expect((await login(person.email, winner)).statusCode).toBe(200);
  });

  it('refuses a password the policy rejects and leaves the link usable', async () => {
    const person = await createPerson(app(), { email: uniqueEmail('marguerite') });
    const token = await resetTokenFor(person.email);

    for (const password of ['password1', 'short', `${person.email.split('@')[0]}-2024!`]) {
      const refused = await post('/reset-password', { token, password });
      expect(refused.statusCode).toBe(400);
      const problem = problemOf(refused);
      expect(problem.code).toBe('auth.weak_password');
      expect(problem.errors?.[0]?.field).toBe('/password');
    }
    expect((await post('/reset-password', { token, password: NEW_PASSWORD })).statusCode).toBe(204);
    expect((await login(person.email, NEW_PASSWORD)).statusCode).toBe(200);
  });

  it('leaves MFA enabled: the next sign-in still asks for the second factor', async () => {
    const person = await createPerson(app());
    await kit.context.t.admin.query('UPDATE users SET totp_secret = $2, totp_enabled_at = now() WHERE id = $1', [person.id, 'sealed-secret-placeholder']);
    const token = await resetTokenFor(person.email);

    expect((await post('/reset-password', { token, password: NEW_PASSWORD })).statusCode).toBe(204);

    expect((await user(person.id)).totp_enabled_at).not.toBeNull();
    const next = await login(person.email, NEW_PASSWORD);
    expect(next.statusCode).toBe(200);
    expect(next.json()).toEqual({ mfaRequired: true, mfaToken: expect.any(String) });
  });

  it('counts failed token checks per client address: 429 after the budget, other addresses unaffected', async () => {
    const ip = clientIp();
    for (let attempt = 1; attempt <= MAX_FAILED_ATTEMPTS; attempt++) {
      const response = await post('/reset-password', { token: `guess-${attempt}`, password: NEW_PASSWORD }, { remoteAddress: ip });
      expect(problemOf(response).code).toBe('auth.invalid_token');
    }
    const locked = await post('/reset-password', { token: 'guess-last', password: NEW_PASSWORD }, { remoteAddress: ip });
    expect(locked.statusCode).toBe(429);
    expect(problemOf(locked).code).toBe('auth.too_many_attempts');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);

    // A right token from the locked address is refused too; from elsewhere it works.
    const person = await createPerson(app());
    const token = await resetTokenFor(person.email);
    expect((await post('/reset-password', { token, password: NEW_PASSWORD }, { remoteAddress: ip })).statusCode).toBe(429);
    expect((await post('/reset-password', { token, password: NEW_PASSWORD })).statusCode).toBe(204);
  });

  it(`sends at most ${ADDRESS_MAIL_CAP} reset mails per hour to one address, whoever asks`, async () => {
    const person = await createPerson(app());
    const responses = [];
    for (let i = 0; i < ADDRESS_MAIL_CAP + 2; i++) responses.push(await post('/forgot-password', { email: person.email }));
    expect(responses.map((response) => response.statusCode)).toEqual(Array(ADDRESS_MAIL_CAP + 2).fill(202));
    expect(new Set(responses.map((response) => response.body)).size).toBe(1);

    await settle();
    const [{ count }] = (await kit.context.t.admin.query<{ count: number }>(`SELECT count(*)::int AS count FROM one_time_tokens WHERE purpose = 'reset_password' AND user_id = $1`, [
      person.id,
    ])) as [{ count: number }];
    expect(count).toBe(ADDRESS_MAIL_CAP);
    await expect.poll(() => mailsTo(person.email, RESET_SUBJECT).length, { timeout: 15_000 }).toBe(ADDRESS_MAIL_CAP);
  });

  it('limits requests per client address (429 rate_limit.exceeded) and validates the body', async () => {
    const ip = clientIp();
    for (let i = 0; i < 10; i++) expect((await post('/forgot-password', { email: uniqueEmail() }, { remoteAddress: ip })).statusCode).toBe(202);
    const limited = await post('/forgot-password', { email: uniqueEmail() }, { remoteAddress: ip });
    expect(limited.statusCode).toBe(429);
    expect(problemOf(limited).code).toBe('rate_limit.exceeded');
    expect(limited.headers['retry-after']).toBeDefined();
    expect((await post('/forgot-password', { email: uniqueEmail() })).statusCode).toBe(202);

    const invalid = await post('/forgot-password', { email: 'not an address' });
    expect(invalid.statusCode).toBe(400);
    expect(problemOf(invalid).code).toBe('request.validation_failed');
    expect(problemOf(await post('/reset-password', { password: NEW_PASSWORD })).errors).toEqual([expect.objectContaining({ field: '/token' })]);
    expect(problemOf(await post('/reset-password', { token: 'x', password: NEW_PASSWORD, extra: 1 })).code).toBe('request.validation_failed');
  });
});

describe('POST /resend-verification and POST /verify-email', () => {
  it('mails a new verification link that marks the address verified, once', async () => {
    const person = await createPerson(app(), { verified: false, name: 'Zoë "Z" <b>Ortiz</b>' });

    const accepted = await post('/resend-verification', { email: person.email });
    expect(accepted.statusCode).toBe(202);
    expect(accepted.json()).toEqual({ message: RESEND_VERIFICATION_MESSAGE });
    const mail = await mailTo(person.email, VERIFY_SUBJECT);
    expect(mail.text).toContain('Hello Zoë "Z" <b>Ortiz</b>,');
    expect(mail.html).toContain('Hello Zoë &quot;Z&quot; &lt;b&gt;Ortiz&lt;/b&gt;,');
    expect(mail.text).toContain(person.email);
    const token = linkToken(mail, 'verify-email');

    expect((await post('/verify-email', { token })).statusCode).toBe(204);
    expect((await user(person.id)).email_verified_at).not.toBeNull();

    const reused = await post('/verify-email', { token });
    expect(reused.statusCode).toBe(400);
    expect(problemOf(reused).code).toBe('auth.invalid_token');
  });

  it('answers the same 202 for unknown, verified and unverified addresses, and mails only the unverified one', async () => {
    const unverified = await createPerson(app(), { verified: false });
    const verified = await createPerson(app(), { verified: true });
    const unknown = uniqueEmail('nobody');

    const responses = await Promise.all([unknown, verified.email, unverified.email].map((email) => post('/resend-verification', { email })));
    expect(new Set(responses.map((response) => `${response.statusCode} ${response.headers['content-type']} ${response.body}`)).size).toBe(1);
    expect(responses[0]!.statusCode).toBe(202);

    await settle();
    await mailTo(unverified.email, VERIFY_SUBJECT);
    expect(kit.context.smtp.messagesTo(verified.email)).toHaveLength(0);
    expect(kit.context.smtp.messagesTo(unknown)).toHaveLength(0);
  });

  it('refuses expired and unknown tokens, and a link mailed to an address the account no longer has', async () => {
    const person = await createPerson(app(), { verified: false });
    await post('/resend-verification', { email: person.email });
    const token = linkToken(await mailTo(person.email, VERIFY_SUBJECT), 'verify-email');
    await kit.context.t.admin.query('UPDATE users SET email = $2 WHERE id = $1', [person.id, uniqueEmail('moved')]);
    expect(problemOf(await post('/verify-email', { token })).code).toBe('auth.invalid_token');
    expect((await user(person.id)).email_verified_at).toBeNull();

    const other = await createPerson(app(), { verified: false });
    await post('/resend-verification', { email: other.email });
    const expiring = linkToken(await mailTo(other.email, VERIFY_SUBJECT), 'verify-email');
    await expire(expiring);
    expect(problemOf(await post('/verify-email', { token: expiring })).code).toBe('auth.invalid_token');
    expect(problemOf(await post('/verify-email', { token: 'B'.repeat(43) })).code).toBe('auth.invalid_token');
    // A reset token is not a verification token.
    const resetToken = await resetTokenFor(other.email);
    expect(problemOf(await post('/verify-email', { token: resetToken })).code).toBe('auth.invalid_token');
    expect((await user(other.id)).email_verified_at).toBeNull();
  });

  it('counts failed token checks per client address', async () => {
    const ip = clientIp();
    for (let attempt = 1; attempt <= MAX_FAILED_ATTEMPTS; attempt++) {
      expect((await post('/verify-email', { token: `guess-${attempt}` }, { remoteAddress: ip })).statusCode).toBe(400);
    }
    const locked = await post('/verify-email', { token: 'guess-last' }, { remoteAddress: ip });
    expect(locked.statusCode).toBe(429);
    expect(problemOf(locked).code).toBe('auth.too_many_attempts');
  });

  it('limits resend requests per client address and mails per address', async () => {
    const person = await createPerson(app(), { verified: false });
    const ip = clientIp();
    for (let i = 0; i < 10; i++) expect((await post('/resend-verification', { email: person.email }, { remoteAddress: ip })).statusCode).toBe(202);
    const limited = await post('/resend-verification', { email: person.email }, { remoteAddress: ip });
    expect(limited.statusCode).toBe(429);
    expect(problemOf(limited).code).toBe('rate_limit.exceeded');

    await settle();
    await expect.poll(() => mailsTo(person.email, VERIFY_SUBJECT).length, { timeout: 15_000 }).toBe(ADDRESS_MAIL_CAP);
    // Only the newest of the links works.
    const tokens = mailsTo(person.email, VERIFY_SUBJECT).map((mail) => linkToken(mail, 'verify-email'));
    const newest = await kit.context.t.admin.query<{ token_hash: string }>(
      `SELECT token_hash FROM one_time_tokens WHERE purpose = 'verify_email' AND user_id = $1 AND used_at IS NULL`,
      [person.id],
    );
    expect(newest).toHaveLength(1);
    const results = [];
    for (const token of tokens) results.push((await post('/verify-email', { token })).statusCode);
    expect(results.filter((status) => status === 204)).toHaveLength(1);
  });
});
