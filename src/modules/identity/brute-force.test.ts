/**
 * Brute-force limits on the secret checks of sign-in (POST /login, POST /mfa/verify): per account and
 * per client address, unknown accounts alike, race-safe under 200 parallel guesses, progressive delays,
 * and deaf to a forged X-Forwarded-For while TRUST_PROXY is off.
 */
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { generate, generateSecret } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { users } from '../../core/tenancy/tenancy.table.js';
import { createPerson, type Person } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { attemptDelayMs, createAttemptGuard } from './attempts.js';
import { issueOneTimeToken } from './one-time-tokens.js';
import { sealTotpSecret } from './second-factor.js';

const PER_ACCOUNT = 5;
const PER_IP = 12;
const WRONG = 'Wrong-password-but-long-42';

/** A fresh client address (2001:db8::/32): counters may live in a shared Redis, so never reuse one. */
const clientIp = () => `2001:db8:${[...randomBytes(12)].reduce((groups, byte, i) => groups + (i % 2 === 0 && i > 0 ? ':' : '') + byte.toString(16).padStart(2, '0'), '')}`;
const unknownEmail = () => `nobody-${randomBytes(5).toString('hex')}@example.test`;

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ AUTH_MAX_FAILED_ATTEMPTS: String(PER_ACCOUNT), AUTH_MAX_FAILED_ATTEMPTS_PER_IP: String(PER_IP) });
});
afterAll(async () => {
  await t?.close();
});

const login = (email: string, password: string, ip: string, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, remoteAddress: ip, headers });

function expectLocked(response: LightMyRequestResponse) {
  expect(response.statusCode).toBe(429);
  expect(response.json()).toMatchObject({ status: 429, code: 'auth.too_many_attempts', title: 'Too many failed attempts' });
  const retryAfter = Number(response.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(3600);
}

/** Counts the argon2 verifications (real and dummy) made while `run` runs. */
async function countVerifications<T>(run: () => Promise<T>): Promise<{ result: T; verifications: number }> {
  const passwords = t.app.identity.passwords;
  const { verify, verifyDummy } = passwords;
  let verifications = 0;
  passwords.verify = (hash, password) => ((verifications += 1), verify(hash, password));
  passwords.verifyDummy = (password) => ((verifications += 1), verifyDummy(password));
  try {
    return { result: await run(), verifications };
  } finally {
    passwords.verify = verify;
    passwords.verifyDummy = verifyDummy;
  }
}

/** Runs `run` with an attempt guard whose delays are recorded instead of waited. */
async function withRecordedDelays<T>(run: (delays: number[]) => Promise<T>): Promise<T> {
  const real = t.app.identity.attempts;
  const delays: number[] = [];
  t.app.identity.attempts = createAttemptGuard({
    counters: t.platform.counters,
    perAccount: t.config.auth.maxFailedAttempts.perAccount,
    perIp: t.config.auth.maxFailedAttempts.perIp,
    delay: async (ms) => void delays.push(ms),
  });
  try {
    return await run(delays);
  } finally {
    t.app.identity.attempts = real;
  }
}

describe('per-account limit', () => {
  it(`locks an account after ${PER_ACCOUNT} failures, from every address and even for the right password`, async () => {
    const person = await createPerson(t.app);
    for (let i = 0; i < PER_ACCOUNT; i++) {
      // A new address each time: the account's own budget is what runs out.
      const response = await login(person.email, WRONG, clientIp());
      expect(response.statusCode).toBe(401);
      expect(response.json().code).toBe('auth.invalid_credentials');
    }
    expectLocked(await login(person.email, person.password, clientIp()));
    expectLocked(await login(person.email.toUpperCase(), person.password, clientIp()));
  });

  it('unlocks an account whose password is reset through its mailed link', async () => {
    const person = await createPerson(t.app);
    for (let i = 0; i < PER_ACCOUNT; i++) expect((await login(person.email, WRONG, clientIp())).statusCode).toBe(401);
    expectLocked(await login(person.email, person.password, clientIp()));

    const token = await t.platform.db.transaction({}, (tx) => issueOneTimeToken(tx, { userId: person.id, purpose: 'reset_password', email: person.email }));
    const newPassword = 'Quartz-meadow-19-lantern';
    const reset = await t.app.inject({ method: 'POST', url: '/api/v1/auth/reset-password', payload: { token, password: newPassword }, remoteAddress: clientIp() });
    expect(reset.statusCode).toBe(204);
    expect((await login(person.email, newPassword, clientIp())).statusCode).toBe(200);
  });

  it('locks an unknown account the same way, with the same answer', async () => {
    const email = unknownEmail();
    const known = await createPerson(t.app);
    for (let i = 0; i < PER_ACCOUNT; i++) {
      expect((await login(email, WRONG, clientIp())).statusCode).toBe(401);
      expect((await login(known.email, WRONG, clientIp())).statusCode).toBe(401);
    }
    const unknownLocked = await login(email, WRONG, clientIp());
    const knownLocked = await login(known.email, WRONG, clientIp());
    expectLocked(unknownLocked);
    expectLocked(knownLocked);
    const comparable = (response: LightMyRequestResponse) => {
      const { requestId: _requestId, detail, ...rest } = response.json<Record<string, unknown>>();
      return { ...rest, detail: String(detail).replace(/\d+/g, 'N'), contentType: response.headers['content-type'] };
    };
    expect(comparable(unknownLocked)).toEqual(comparable(knownLocked));
  });

  it('forgives the failures of an account once its password is proven right', async () => {
    const person = await createPerson(t.app);
    for (let i = 0; i < PER_ACCOUNT - 1; i++) expect((await login(person.email, WRONG, clientIp())).statusCode).toBe(401);
    expect((await login(person.email, person.password, clientIp())).statusCode).toBe(200);
    for (let i = 0; i < PER_ACCOUNT; i++) expect((await login(person.email, WRONG, clientIp())).statusCode).toBe(401);
    expectLocked(await login(person.email, WRONG, clientIp()));
  });

  it(`lets at most ${PER_ACCOUNT} of 200 parallel wrong passwords reach argon2, for a known and an unknown account`, async () => {
    const person = await createPerson(t.app);
    for (const email of [person.email, unknownEmail()]) {
      const { result: responses, verifications } = await countVerifications(() =>
        Promise.all(Array.from({ length: 200 }, () => login(email, WRONG, clientIp()))),
      );
      const statuses = responses.map((response) => response.statusCode);
      expect(verifications).toBeLessThanOrEqual(PER_ACCOUNT);
      expect(statuses.filter((status) => status === 401)).toHaveLength(verifications);
      expect(statuses.filter((status) => status === 429)).toHaveLength(200 - verifications);
      // Every attempt within the budget was really checked (none was lost to the race either).
      expect(verifications).toBe(PER_ACCOUNT);
    }
    expectLocked(await login(person.email, person.password, clientIp()));
  });
});

describe('per-address limit', () => {
  it(`locks an address after ${PER_IP} failures across accounts; a forged X-Forwarded-For changes nothing`, async () => {
    const ip = clientIp();
    const person = await createPerson(t.app);
    // Credential stuffing: one guess per account, each account far from its own limit.
    for (let i = 0; i < PER_IP; i++) {
      const response = await login(i % 2 ? unknownEmail() : (await createPerson(t.app)).email, WRONG, ip);
      expect(response.statusCode).toBe(401);
    }
    // Locked for every account, the right password included.
    expectLocked(await login(person.email, person.password, ip));
    expectLocked(await login(unknownEmail(), WRONG, ip));
    // TRUST_PROXY is off (the default): the header is not the client's address, so it resets nothing.
    expect(t.config.http.trustProxy).toBe(false);
    expectLocked(await login(person.email, person.password, ip, { 'x-forwarded-for': clientIp() }));
    expectLocked(await login(person.email, person.password, ip, { 'x-forwarded-for': `${clientIp()}, ${clientIp()}`, 'x-real-ip': clientIp() }));
    // Another address still signs the person in: the account itself was never locked.
    expect((await login(person.email, person.password, clientIp())).statusCode).toBe(200);
  });

  it('does not count successful sign-ins against the address', async () => {
    const ip = clientIp();
    const person = await createPerson(t.app);
    for (let i = 0; i < PER_IP + 3; i++) expect((await login(person.email, person.password, ip)).statusCode).toBe(200);
  });
});

describe('progressive delays', () => {
  it('delays each attempt after the first three failures, doubling up to a cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 20].map(attemptDelayMs)).toEqual([0, 0, 0, 200, 400, 800, 1600, 3000, 3000, 3000]);
  });

  it('makes the login route wait before checking the 4th and later attempts on an account', async () => {
    await withRecordedDelays(async (delays) => {
      const person = await createPerson(t.app);
      for (let i = 0; i < PER_ACCOUNT; i++) expect((await login(person.email, WRONG, clientIp())).statusCode).toBe(401);
      expect(delays).toEqual([200, 400]);
      expectLocked(await login(person.email, WRONG, clientIp()));
      expect(delays).toEqual([200, 400]);
    });
  });

  it('waits for real with the default guard', async () => {
    const person = await createPerson(t.app);
    for (let i = 0; i < 3; i++) await login(person.email, WRONG, clientIp());
    const started = performance.now();
    expect((await login(person.email, WRONG, clientIp())).statusCode).toBe(401);
    expect(performance.now() - started).toBeGreaterThanOrEqual(195);
  });
});

describe('MFA verify limit', () => {
  async function personWithTotp(): Promise<{ person: Person; secret: string }> {
    const person = await createPerson(t.app);
    const secret = generateSecret();
    await t.platform.db.transaction({}, (tx) =>
      tx
        .update(users)
        .set({ totpSecret: sealTotpSecret(t.app.identity.secretKey, person.id, secret), totpEnabledAt: new Date() })
        .where(eq(users.id, person.id)),
    );
    return { person, secret };
  }

  const mfaToken = async (person: Person) => (await login(person.email, person.password, clientIp())).json<{ mfaToken: string }>().mfaToken;
  const verify = (body: Record<string, string>) => t.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/verify', payload: body, remoteAddress: clientIp() });

  it(`locks the second factor of an account after ${PER_ACCOUNT} wrong codes, across MFA tokens`, async () => {
    const { person, secret } = await personWithTotp();
    const token = await mfaToken(person);
    const right = await generate({ secret });
    const wrong = String((Number(right) + 500_000) % 1_000_000).padStart(6, '0');
    for (let i = 0; i < PER_ACCOUNT; i++) {
      const response = await verify({ mfaToken: token, code: wrong });
      expect(response.statusCode).toBe(401);
      expect(response.json().code).toBe('auth.invalid_mfa_code');
    }
    expectLocked(await verify({ mfaToken: token, code: right }));
    // A new password step does not buy new guesses at the second factor.
    expectLocked(await verify({ mfaToken: await mfaToken(person), code: right }));
    expectLocked(await verify({ mfaToken: await mfaToken(person), recoveryCode: 'ABCD-EFGH-JKMN' }));
  });

  it('bounds 200 parallel wrong codes to the budget: the right code is refused afterwards', async () => {
    const { person, secret } = await personWithTotp();
    const token = await mfaToken(person);
    const right = await generate({ secret });
    const wrong = String((Number(right) + 500_000) % 1_000_000).padStart(6, '0');
    const responses = await Promise.all(Array.from({ length: 200 }, () => verify({ mfaToken: token, code: wrong })));
    const statuses = responses.map((response) => response.statusCode);
    expect(statuses.filter((status) => status === 401)).toHaveLength(PER_ACCOUNT);
    expect(statuses.filter((status) => status === 429)).toHaveLength(200 - PER_ACCOUNT);
    expectLocked(await verify({ mfaToken: token, code: right }));
  });
});
