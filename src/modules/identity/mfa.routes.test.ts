/**
 * MFA management through the real app: TOTP setup → enable → disable and new recovery codes, with codes
 * from another TOTP library (otplib), replay and out-of-window codes refused, recovery codes once each
 * (directly and through the sign-in MFA step), both factors required to disable, every error, the
 * brute-force lock, and the security matrix of each route.
 */
import type { InjectOptions } from 'fastify';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createPerson, createTenantFor, signInAs, TEST_PASSWORD, type Person } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { baseCases, securityMatrix, sessionCases } from '../../../test/security-matrix.js';
import { isTotpShaped, totpIssuer } from './mfa.service.js';
import { openTotpSecret, useRecoveryCode } from './second-factor.js';

const AUTH = '/api/v1/auth';
/** A small per-account budget so the lock is reachable; the per-IP budget is out of the way (Redis is shared). */
const MAX_FAILED = 5;

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ AUTH_MAX_FAILED_ATTEMPTS: String(MAX_FAILED), AUTH_MAX_FAILED_ATTEMPTS_PER_IP: '100000' });
});
afterAll(async () => t?.close());

const post = (url: string, token: string | null, payload?: Record<string, unknown>) =>
  t.app.inject({ method: 'POST', url: `${AUTH}${url}`, headers: token ? bearer(token) : {}, ...(payload ? { payload } : {}) } as InjectOptions);

/** A TOTP code from otplib (not the server's library) for the step `offset` steps from now. */
const codeAt = (secret: string, offset = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + offset * 30 });

interface Enrolled {
  person: Person;
  token: string;
  secret: string;
  recoveryCodes: string[];
}

/** A person with a session (and a tenant). */
async function signedIn() {
  const person = await createPerson(t.app);
  await createTenantFor(t.app, person);
  const login = await signInAs(t.app, person);
  return { person, token: login.accessToken };
}

async function startSetup(token: string): Promise<string> {
  const response = await post('/mfa/totp/setup', token);
  expect(response.statusCode).toBe(200);
  return response.json().secret as string;
}

/** A person who has turned TOTP on; the code used to enable it is the current step's. */
async function enrolled(): Promise<Enrolled> {
  const { person, token } = await signedIn();
  const secret = await startSetup(token);
  const response = await post('/mfa/totp/enable', token, { code: await codeAt(secret) });
  expect(response.statusCode).toBe(200);
  return { person, token, secret, recoveryCodes: response.json().recoveryCodes };
}

const userRow = async (id: string) => (await t.admin.query<Record<string, unknown>>('SELECT * FROM users WHERE id = $1', [id]))[0]!;
const recoveryRows = (id: string) => t.admin.query<{ code_hash: string; used_at: Date | null }>('SELECT code_hash, used_at FROM recovery_codes WHERE user_id = $1', [id]);
const useCode = (userId: string, code: string) => t.platform.db.transaction({ userId }, (tx) => useRecoveryCode(tx, userId, code));

describe('POST /mfa/totp/setup', () => {
  it('answers a new secret and its otpauth URI, stores it encrypted and pending, and is not cached', async () => {
    const { person, token } = await signedIn();
    const response = await post('/mfa/totp/setup', token);
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const { secret, otpauthUrl } = response.json();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);

    const uri = new URL(otpauthUrl);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe(`/localhost:${person.email}`);
    expect(Object.fromEntries(uri.searchParams)).toMatchObject({ secret, issuer: 'localhost', algorithm: 'SHA1', digits: '6', period: '30' });

    const row = await userRow(person.id);
    expect(row.totp_enabled_at).toBeNull();
    expect(row.totp_secret).toEqual(expect.any(String));
    expect(row.totp_secret).not.toContain(secret);
    expect(openTotpSecret(t.app.identity.secretKey, person.id, row.totp_secret as string)).toBe(secret);
  });

  it('replaces a pending secret when called again: only the newest one can be confirmed', async () => {
    const { token } = await signedIn();
    const first = await startSetup(token);
    const second = await startSetup(token);
    expect(second).not.toBe(first);

    const stale = await post('/mfa/totp/enable', token, { code: await codeAt(first) });
    expect(stale.statusCode).toBe(401);
    expect(stale.json().code).toBe('auth.invalid_mfa_code');
    expect((await post('/mfa/totp/enable', token, { code: await codeAt(second) })).statusCode).toBe(200);
  });

  it('answers 409 auth.mfa_already_enabled once TOTP is on, and keeps the live secret', async () => {
    const { person, token, secret } = await enrolled();
    const response = await post('/mfa/totp/setup', token);
    expect(response.statusCode).toBe(409);
    expect(response.json().code).toBe('auth.mfa_already_enabled');
    const row = await userRow(person.id);
    expect(openTotpSecret(t.app.identity.secretKey, person.id, row.totp_secret as string)).toBe(secret);
  });
});

describe('POST /mfa/totp/enable', () => {
  it('accepts a code from another TOTP library and answers 10 single-use recovery codes, stored only hashed', async () => {
    const { person, token } = await signedIn();
    const secret = await startSetup(token);
    const response = await post('/mfa/totp/enable', token, { code: await codeAt(secret) });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const { recoveryCodes } = response.json() as { recoveryCodes: string[] };
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    for (const code of recoveryCodes) expect(code).toMatch(/^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/);

    expect((await userRow(person.id)).totp_enabled_at).toBeInstanceOf(Date);
    const stored = await recoveryRows(person.id);
    expect(stored).toHaveLength(10);
    const hashes = stored.map((row) => row.code_hash).join(' ');
    for (const code of recoveryCodes) expect(hashes).not.toContain(code.replace(/-/g, ''));
  });

  it('accepts a code from the previous step (clock drift, ±1 step)', async () => {
    const { token } = await signedIn();
    const secret = await startSetup(token);
    // Near the end of a step the server could already be in the next one, two steps from the code.
    const intoStep = (Date.now() / 1000) % 30;
    if (intoStep > 27) await new Promise((resolve) => setTimeout(resolve, (30 - intoStep) * 1000 + 100));
    expect((await post('/mfa/totp/enable', token, { code: await codeAt(secret, -1) })).statusCode).toBe(200);
  });

  it('refuses codes two or more steps away, and a wrong code, with 401 auth.invalid_mfa_code; MFA stays off', async () => {
    const { person, token } = await signedIn();
    const secret = await startSetup(token);
    const current = await codeAt(secret);
    // Codes of other steps that happen to equal the current one would be accepted rightly; skip them.
    const candidates = [await codeAt(secret, -2), await codeAt(secret, 3), current === '000000' ? '111111' : '000000'].filter((code) => code !== current);
    for (const code of candidates) {
      const response = await post('/mfa/totp/enable', token, { code });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ code: 'auth.invalid_mfa_code', status: 401 });
    }
    expect((await userRow(person.id)).totp_enabled_at).toBeNull();
    expect(await recoveryRows(person.id)).toHaveLength(0);
  });

  it('answers 409 auth.mfa_setup_required before any setup, and 409 auth.mfa_already_enabled once on', async () => {
    const { token } = await signedIn();
    const early = await post('/mfa/totp/enable', token, { code: '123456' });
    expect(early.statusCode).toBe(409);
    expect(early.json().code).toBe('auth.mfa_setup_required');

    const { token: enrolledToken, secret } = await enrolled();
    const again = await post('/mfa/totp/enable', enrolledToken, { code: await codeAt(secret, 1) });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('auth.mfa_already_enabled');
  });

  it('ends the other sessions, keeps the current one and marks it as having presented the factor', async () => {
    const { person, token } = await signedIn();
    const other = await signInAs(t.app, person);
    const secret = await startSetup(token);
    expect((await post('/mfa/totp/enable', token, { code: await codeAt(secret) })).statusCode).toBe(200);

    // The other session's token is cut off at once; the current one still works.
    const cut = await post('/mfa/totp/setup', other.accessToken);
    expect(cut.statusCode).toBe(401);
    const still = await post('/mfa/totp/setup', token);
    expect(still.json().code).toBe('auth.mfa_already_enabled');

    const sessions = await t.admin.query<{ id: string; revoked_reason: string | null; mfa_verified: boolean }>(
      'SELECT id, revoked_reason, mfa_verified FROM sessions WHERE user_id = $1',
      [person.id],
    );
    const current = (await t.app.accessTokens.verify(token)).sid;
    expect(sessions.find((s) => s.id === current)).toMatchObject({ revoked_reason: null, mfa_verified: true });
    expect(sessions.find((s) => s.id !== current)).toMatchObject({ revoked_reason: 'mfa_changed' });
  });

  it('refuses a body without a six-character code (400)', async () => {
    const { token } = await signedIn();
    for (const payload of [{}, { code: '123' }, { code: '123456', extra: true }]) {
      const response = await post('/mfa/totp/enable', token, payload);
      expect(response.statusCode).toBe(400);
      expect(response.json().code).toBe('request.validation_failed');
    }
  });

  it('locks the account after the failed-attempt budget: 429 auth.too_many_attempts, even for the right code', async () => {
    const { token } = await signedIn();
    const secret = await startSetup(token);
    const current = await codeAt(secret);
    const wrong = current === '000000' ? '111111' : '000000';
    for (let i = 0; i < MAX_FAILED; i++) expect((await post('/mfa/totp/enable', token, { code: wrong })).statusCode).toBe(401);
    const locked = await post('/mfa/totp/enable', token, { code: current });
    expect(locked.statusCode).toBe(429);
    expect(locked.json().code).toBe('auth.too_many_attempts');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
  });
});

describe('replay', () => {
  it('refuses the code that enabled TOTP when it is presented again, then accepts the next step’s code', async () => {
    const { person, token } = await signedIn();
    const secret = await startSetup(token);
    const code = await codeAt(secret);
    expect((await post('/mfa/totp/enable', token, { code })).statusCode).toBe(200);

    const replay = await post('/mfa/totp/disable', token, { password: TEST_PASSWORD, code });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().code).toBe('auth.invalid_mfa_code');
    expect((await userRow(person.id)).totp_enabled_at).toBeInstanceOf(Date);

    expect((await post('/mfa/totp/disable', token, { password: TEST_PASSWORD, code: await codeAt(secret, 1) })).statusCode).toBe(204);
  });
});

describe('recovery codes', () => {
  it('each of the 10 works once', async () => {
    const { person, recoveryCodes } = await enrolled();
    for (const code of recoveryCodes) expect(await useCode(person.id, code)).toBe(true);
    for (const code of recoveryCodes) expect(await useCode(person.id, code)).toBe(false);
    expect((await recoveryRows(person.id)).every((row) => row.used_at !== null)).toBe(true);
  });

  it('complete a sign-in through POST /login and POST /mfa/verify, once each', async () => {
    const { person, recoveryCodes } = await enrolled();
    const challenge = async () => {
      const login = await t.app.inject({ method: 'POST', url: `${AUTH}/login`, payload: { email: person.email, password: TEST_PASSWORD } });
      expect(login.statusCode).toBe(200);
      expect(login.json()).toMatchObject({ mfaRequired: true });
      return login.json().mfaToken as string;
    };
    const recoveryCode = recoveryCodes[3]!;

    const first = await t.app.inject({ method: 'POST', url: `${AUTH}/mfa/verify`, payload: { mfaToken: await challenge(), recoveryCode } });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ user: { id: person.id, mfaEnabled: true }, tokenType: 'Bearer' });

    const second = await t.app.inject({ method: 'POST', url: `${AUTH}/mfa/verify`, payload: { mfaToken: await challenge(), recoveryCode } });
    expect(second.statusCode).toBe(401);
    expect(second.json().code).toBe('auth.invalid_mfa_code');
  });
});

describe('POST /mfa/recovery-codes', () => {
  it('answers a new set of 10 with the password; the old set stops working and the new one works', async () => {
    const { person, token, recoveryCodes: old } = await enrolled();
    const response = await post('/mfa/recovery-codes', token, { password: TEST_PASSWORD });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const fresh = response.json().recoveryCodes as string[];
    expect(fresh).toHaveLength(10);
    expect(fresh.filter((code) => old.includes(code))).toEqual([]);

    for (const code of old) expect(await useCode(person.id, code)).toBe(false);
    expect(await useCode(person.id, fresh[0]!)).toBe(true);
    expect(await recoveryRows(person.id)).toHaveLength(10);
  });

  it('answers 401 auth.invalid_credentials for a wrong password and keeps the old set', async () => {
    const { person, token, recoveryCodes } = await enrolled();
    const response = await post('/mfa/recovery-codes', token, { password: 'not-the-password-at-all' });
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('auth.invalid_credentials');
    expect(await useCode(person.id, recoveryCodes[0]!)).toBe(true);
  });

  it('answers 409 auth.mfa_not_enabled when TOTP is off (even with a pending setup)', async () => {
    const { token } = await signedIn();
    const before = await post('/mfa/recovery-codes', token, { password: TEST_PASSWORD });
    expect(before.statusCode).toBe(409);
    expect(before.json().code).toBe('auth.mfa_not_enabled');
    await startSetup(token);
    expect((await post('/mfa/recovery-codes', token, { password: TEST_PASSWORD })).json().code).toBe('auth.mfa_not_enabled');
  });
});

describe('POST /mfa/totp/disable', () => {
  it('with the password and a current code: clears the secret, its last step and the recovery codes, and ends the other sessions', async () => {
    const { person, token, secret } = await enrolled();
    const other = await signInAs(t.app, person);
    const response = await post('/mfa/totp/disable', token, { password: TEST_PASSWORD, code: await codeAt(secret, 1) });
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');

    const row = await userRow(person.id);
    expect(row).toMatchObject({ totp_secret: null, totp_enabled_at: null, totp_last_step: null });
    expect(await recoveryRows(person.id)).toHaveLength(0);
    expect((await post('/mfa/totp/setup', other.accessToken)).statusCode).toBe(401);

    // Signing in needs no second factor any more, and TOTP can be set up afresh.
    const login = await t.app.inject({ method: 'POST', url: `${AUTH}/login`, payload: { email: person.email, password: TEST_PASSWORD } });
    expect(login.json()).toMatchObject({ user: { id: person.id, mfaEnabled: false } });
    expect((await post('/mfa/totp/setup', token)).statusCode).toBe(200);
  });

  it('accepts an unused recovery code instead of a TOTP code (a lost authenticator)', async () => {
    const { person, token, recoveryCodes } = await enrolled();
    const response = await post('/mfa/totp/disable', token, { password: TEST_PASSWORD, code: recoveryCodes[0]!.toLowerCase() });
    expect(response.statusCode).toBe(204);
    expect((await userRow(person.id)).totp_enabled_at).toBeNull();
  });

  it('needs the password: a right code with a wrong password is 401 auth.invalid_credentials and spends nothing', async () => {
    const { person, token, secret } = await enrolled();
    const code = await codeAt(secret, 1);
    const response = await post('/mfa/totp/disable', token, { password: 'not-the-password-at-all', code });
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('auth.invalid_credentials');
    expect((await userRow(person.id)).totp_enabled_at).toBeInstanceOf(Date);
    // The code was not checked, so it is still good.
    expect((await post('/mfa/totp/disable', token, { password: TEST_PASSWORD, code })).statusCode).toBe(204);
  });

  it('needs a code: the right password with a wrong or used code is 401 auth.invalid_mfa_code, without one 400', async () => {
    const { person, token, secret, recoveryCodes } = await enrolled();
    expect(await useCode(person.id, recoveryCodes[0]!)).toBe(true);
    const current = await codeAt(secret, 1);
    const wrong = current === '000000' ? '111111' : '000000';
    for (const code of [wrong, recoveryCodes[0]!, 'ZZZZ-ZZZZ-ZZZZ']) {
      const response = await post('/mfa/totp/disable', token, { password: TEST_PASSWORD, code });
      expect(response.statusCode).toBe(401);
      expect(response.json().code).toBe('auth.invalid_mfa_code');
    }
    const missing = await post('/mfa/totp/disable', token, { password: TEST_PASSWORD });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors).toEqual([expect.objectContaining({ field: '/code' })]);
    expect((await userRow(person.id)).totp_enabled_at).toBeInstanceOf(Date);
  });

  it('answers 409 auth.mfa_not_enabled when TOTP is off', async () => {
    const { token } = await signedIn();
    const response = await post('/mfa/totp/disable', token, { password: TEST_PASSWORD, code: '123456' });
    expect(response.statusCode).toBe(409);
    expect(response.json().code).toBe('auth.mfa_not_enabled');
  });
});

describe('helpers', () => {
  it('names the public host as the issuer, falling back for hosts a Key URI cannot carry', () => {
    expect(totpIssuer('https://api.example.com')).toBe('api.example.com');
    expect(totpIssuer('http://localhost:3000')).toBe('localhost');
    expect(totpIssuer('http://[::1]:3000')).toBe('Atrium');
  });

  it('tells TOTP codes from recovery codes', () => {
    expect(isTotpShaped('123456')).toBe(true);
    expect(isTotpShaped('123 456')).toBe(true);
    expect(isTotpShaped('ABCD-EFGH-JKMN')).toBe(false);
    expect(isTotpShaped('1234567')).toBe(false);
  });
});

describe('security matrix', () => {
  let victimTenantId: string | undefined;
  beforeAll(async () => {
    const victim = await createPerson(t.app);
    victimTenantId = (await createTenantFor(t.app, victim)).id;
  });
  const context = () => ({ app: t.app, admin: t.admin, victimTenantId });
  const cases = [...baseCases, ...sessionCases(() => t.app)];
  securityMatrix(context, { method: 'POST', url: `${AUTH}/mfa/totp/setup` }, cases);
  securityMatrix(context, { method: 'POST', url: `${AUTH}/mfa/totp/enable`, payload: { code: '123456' } }, cases);
  securityMatrix(context, { method: 'POST', url: `${AUTH}/mfa/totp/disable`, payload: { password: TEST_PASSWORD, code: '123456' } }, cases);
  securityMatrix(context, { method: 'POST', url: `${AUTH}/mfa/recovery-codes`, payload: { password: TEST_PASSWORD } }, cases);
});
