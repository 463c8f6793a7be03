/**
 * POST /api/v1/auth/bootstrap through the real app: the first platform administrator (signed in, email
 * verified, password policy applied), closed once one exists, race-safe under concurrent calls, and the
 * X-Bootstrap-Token when BOOTSTRAP_TOKEN is configured.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bearer, createPerson, TEST_PASSWORD } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { BOOTSTRAP_ATTEMPT_KEY, isBootstrapTokenValid } from './bootstrap.service.js';

const URL_ = '/api/v1/auth/bootstrap';
const TOKEN = 'bootstrap-token-for-tests-0123456789';

const adminInput = () => ({ email: `admin-${randomBytes(4).toString('hex')}@example.test`, password: TEST_PASSWORD, name: 'First Admin' });

/** Opens bootstrap again: no platform administrator, and no failed-token count left from earlier runs (Redis is shared). */
async function reopen(t: TestApp): Promise<void> {
  await t.admin.query(`UPDATE users SET platform_role = NULL WHERE platform_role = 'platform_admin'`);
  await t.platform.counters.reset(`auth:account:${BOOTSTRAP_ATTEMPT_KEY}`);
}

const admins = async (t: TestApp) =>
  t.admin.query<{ id: string; email: string; name: string; email_verified_at: Date | null; password_hash: string | null }>(
    `SELECT id, email, name, email_verified_at, password_hash FROM users WHERE platform_role = 'platform_admin'`,
  );

describe('without BOOTSTRAP_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ BOOTSTRAP_TOKEN: undefined, AUTH_MAX_FAILED_ATTEMPTS_PER_IP: '100000' });
  });
  afterAll(async () => t?.close());
  beforeEach(async () => reopen(t));

  const bootstrap = (payload: Record<string, unknown>, headers: Record<string, string> = {}) => t.app.inject({ method: 'POST', url: URL_, payload, headers });

  it('creates the first platform administrator, verified, and signs them in (201, no tenant)', async () => {
    const input = adminInput();
    const response = await bootstrap(input);
    expect(response.statusCode).toBe(201);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = response.json();
    expect(body).toMatchObject({
      user: { email: input.email, name: input.name, emailVerified: true, mfaEnabled: false, platformRole: 'platform_admin' },
      tenant: null,
      memberships: [],
      tokenType: 'Bearer',
      expiresIn: expect.any(Number),
      refreshToken: expect.any(String),
    });

    const [admin] = await admins(t);
    expect(admin).toMatchObject({ id: body.user.id, email: input.email, email_verified_at: expect.any(Date) });
    expect(admin!.password_hash).toMatch(/^\$argon2id\$/);
    expect(await t.app.identity.passwords.verify(admin!.password_hash!, TEST_PASSWORD)).toBe(true);

    // The access token is a working credential of the new administrator.
    const claims = await t.app.accessTokens.verify(body.accessToken);
    expect(claims.sub).toBe(body.user.id);
    const setup = await t.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp/setup', headers: bearer(body.accessToken) });
    expect(setup.statusCode).toBe(200);
  });

  it('answers 409 auth.already_bootstrapped once an administrator exists, and creates nobody', async () => {
    expect((await bootstrap(adminInput())).statusCode).toBe(201);
    const second = adminInput();
    const response = await bootstrap(second);
    expect(response.statusCode).toBe(409);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json().code).toBe('auth.already_bootstrapped');
    expect(await t.admin.query('SELECT 1 FROM users WHERE email = $1', [second.email])).toHaveLength(0);
    expect(await admins(t)).toHaveLength(1);
  });

  it('is closed by any platform administrator, however created', async () => {
    await createPerson(t.app, { platformRole: 'platform_admin' });
    expect((await bootstrap(adminInput())).json().code).toBe('auth.already_bootstrapped');
  });

  it('stays open while only platform operators exist', async () => {
    await createPerson(t.app, { platformRole: 'platform_operator' });
    expect((await bootstrap(adminInput())).statusCode).toBe(201);
  });

  it('creates exactly one administrator when many bootstraps race', async () => {
    const inputs = Array.from({ length: 6 }, adminInput);
    const responses = await Promise.all(inputs.map((input) => bootstrap(input)));
    const statuses = responses.map((response) => response.statusCode).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409]);
    for (const response of responses.filter((r) => r.statusCode === 409)) expect(response.json().code).toBe('auth.already_bootstrapped');
    const created = await admins(t);
    expect(created).toHaveLength(1);
    const winner = responses.find((r) => r.statusCode === 201)!.json();
    expect(created[0]!.id).toBe(winner.user.id);
    // The losers left no account behind.
    const emails = inputs.map((input) => input.email);
    expect(await t.admin.query('SELECT email FROM users WHERE email = ANY($1)', [emails])).toHaveLength(1);
  });

  it('refuses a password the policy refuses (400 auth.weak_password) and creates nobody', async () => {
    for (const password of ['short', 'password123', 'first-admin-secret-x']) {
      const input = { ...adminInput(), password };
      if (password.startsWith('first-admin')) input.email = 'first-admin@example.test';
      const response = await bootstrap(input);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ code: 'auth.weak_password', errors: [expect.objectContaining({ field: '/password' })] });
    }
    expect(await admins(t)).toHaveLength(0);
  });

  it('refuses an email that already has an account (409 auth.email_taken), case-insensitively, and promotes nobody', async () => {
    const existing = await createPerson(t.app);
    const response = await bootstrap({ ...adminInput(), email: existing.email.toUpperCase() });
    expect(response.statusCode).toBe(409);
    expect(response.json().code).toBe('auth.email_taken');
    expect(await admins(t)).toHaveLength(0);
    // Bootstrap is still open.
    expect((await bootstrap(adminInput())).statusCode).toBe(201);
  });

  it('validates the body (400 request.validation_failed per field)', async () => {
    const response = await bootstrap({ email: 'not-an-email', password: TEST_PASSWORD });
    expect(response.statusCode).toBe(400);
    const fields = new Set((response.json().errors as Array<{ field: string }>).map((error) => error.field));
    expect([...fields].sort()).toEqual(['/email', '/name']);
    const blankName = await bootstrap({ ...adminInput(), name: '   ' });
    expect(blankName.statusCode).toBe(400);
    expect(blankName.json().errors).toEqual([expect.objectContaining({ field: '/name' })]);
    expect(await admins(t)).toHaveLength(0);
  });

  it('ignores an X-Bootstrap-Token when none is configured', async () => {
    expect((await bootstrap(adminInput(), { 'x-bootstrap-token': 'anything' })).statusCode).toBe(201);
  });
});

describe('with BOOTSTRAP_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ BOOTSTRAP_TOKEN: TOKEN, AUTH_MAX_FAILED_ATTEMPTS_PER_IP: '100000' });
  });
  afterAll(async () => t?.close());
  beforeEach(async () => reopen(t));

  const bootstrap = (headers: Record<string, string>, payload: Record<string, unknown> = adminInput()) => t.app.inject({ method: 'POST', url: URL_, payload, headers });

  it('answers 401 auth.invalid_bootstrap_token without the header or with a wrong one, and creates nobody', async () => {
    for (const headers of [{} as Record<string, string>, { 'x-bootstrap-token': 'wrong' }, { 'x-bootstrap-token': `${TOKEN}x` }, { 'x-bootstrap-token': TOKEN.slice(0, -1) }]) {
      const response = await bootstrap(headers);
      expect(response.statusCode).toBe(401);
      expect(response.json().code).toBe('auth.invalid_bootstrap_token');
    }
    expect(await admins(t)).toHaveLength(0);
    // Each wrong token counted against the brute-force budget.
    expect((await t.platform.counters.peek(`auth:account:${BOOTSTRAP_ATTEMPT_KEY}`))?.count).toBe(4);
  });

  it('creates the administrator with the right token, then answers 409 even to the right token', async () => {
    expect((await bootstrap({ 'x-bootstrap-token': TOKEN })).statusCode).toBe(201);
    const again = await bootstrap({ 'x-bootstrap-token': TOKEN });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('auth.already_bootstrapped');
    expect(await admins(t)).toHaveLength(1);
  });

  it('checks the token before anything else: a closed bootstrap still answers 401 to a wrong token', async () => {
    await createPerson(t.app, { platformRole: 'platform_admin' });
    expect((await bootstrap({ 'x-bootstrap-token': 'wrong' })).json().code).toBe('auth.invalid_bootstrap_token');
  });

  it('locks out token guessing after the failed-attempt budget (429), even for the right token', async () => {
    const budget = t.config.auth.maxFailedAttempts.perAccount;
    // Skip the progressive delays: the budget is what is under test.
    for (let i = 0; i < budget; i++) await t.platform.counters.hit(`auth:account:${BOOTSTRAP_ATTEMPT_KEY}`, 60 * 60 * 1000);
    const response = await bootstrap({ 'x-bootstrap-token': TOKEN });
    expect(response.statusCode).toBe(429);
    expect(response.json().code).toBe('auth.too_many_attempts');
    expect(await admins(t)).toHaveLength(0);
  });
});

describe('isBootstrapTokenValid', () => {
  it('accepts only the exact token', () => {
    expect(isBootstrapTokenValid(TOKEN, TOKEN)).toBe(true);
    for (const presented of [undefined, '', TOKEN.toUpperCase(), `${TOKEN} `, TOKEN.slice(1)]) expect(isBootstrapTokenValid(TOKEN, presented)).toBe(false);
  });
});
