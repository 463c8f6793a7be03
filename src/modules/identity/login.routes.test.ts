/**
 * POST /api/v1/auth/register, /login and /mfa/verify through the real app: every happy path and error,
 * the verification mail delivered to a real SMTP server, identical answers for known and unknown emails,
 * TOTP codes from another library (otplib) with replay refused, recovery codes once, and the per-IP limit
 * on registration. Brute-force limits are in brute-force.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { hash as argon2Hash, parseOptions } from '@node-rs/argon2';
import { eq } from 'drizzle-orm';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { generate, generateSecret } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { users } from '../../core/tenancy/tenancy.table.js';
import { addMembership, createPerson, createTenantFor, TEST_PASSWORD, type Person } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { startSmtpServer, type TestSmtpServer } from '../../../test/smtp.js';
import { REGISTER_LIMIT_PER_HOUR } from './login.routes.js';
import { defaultTenantName, tenantSlugCandidates } from './login.service.js';
import { issueOneTimeToken } from './one-time-tokens.js';
import { replaceRecoveryCodes, sealTotpSecret } from './second-factor.js';
import { hashSecretToken } from './secrets.js';

const AUTH = '/api/v1/auth';
/**
 * A client address of its own for every request that counts something per address: counters live in
 * Redis when REDIS_URL is set, shared with other test files and earlier runs, so 127.0.0.1 must not
 * collect failures. Random in 2001:db8::/32 (documentation prefix), distinct /64 each time.
 */
const clientIp = () => `2001:db8:${[...randomBytes(12)].reduce((groups, byte, i) => groups + (i % 2 === 0 && i > 0 ? ':' : '') + byte.toString(16).padStart(2, '0'), '')}`;
const uniqueEmail = (prefix = 'reg') => `${prefix}-${randomBytes(5).toString('hex')}@example.test`;

let smtp: TestSmtpServer;
let t: TestApp;

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await createTestApp({ SMTP_URL: smtp.url, MAIL_FROM: 'Atrium <no-reply@atrium.test>' });
  await t.platform.startWorker();
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

const post = (path: string, payload: unknown, options: Omit<InjectOptions, 'method' | 'url' | 'payload'> = {}) =>
  t.app.inject({ method: 'POST', url: `${AUTH}${path}`, payload: payload as InjectOptions['payload'], remoteAddress: clientIp(), ...options });

const register = (body: Record<string, unknown>, options: Omit<InjectOptions, 'method' | 'url' | 'payload'> = {}) => post('/register', body, options);
const login = (body: Record<string, unknown>, options: Omit<InjectOptions, 'method' | 'url' | 'payload'> = {}) => post('/login', body, options);

/** The problem document without the per-request part. */
const problemOf = (response: LightMyRequestResponse) => {
  const { requestId, ...rest } = response.json<Record<string, unknown>>();
  expect(requestId).toBe(response.headers['x-request-id']);
  return rest;
};

/** Turns TOTP on for a person with a fresh secret; returns the secret (base32) for otplib. */
async function enableTotp(person: Pick<Person, 'id'>): Promise<string> {
  const secret = generateSecret();
  await t.platform.db.transaction({}, (tx) =>
    tx
      .update(users)
      .set({ totpSecret: sealTotpSecret(t.app.identity.secretKey, person.id, secret), totpEnabledAt: new Date() })
      .where(eq(users.id, person.id)),
  );
  return secret;
}

async function mfaTokenFor(person: Person, extra: Record<string, unknown> = {}): Promise<string> {
  const response = await login({ email: person.email, password: person.password, ...extra });
  expect(response.statusCode).toBe(200);
  const body = response.json<{ mfaRequired: true; mfaToken: string }>();
  expect(body.mfaRequired).toBe(true);
  return body.mfaToken;
}

async function sessionRow(accessToken: string) {
  const { sid } = await t.app.accessTokens.verify(accessToken);
  const [row] = await t.admin.query<{ user_id: string; active_tenant_id: string | null; mfa_verified: boolean; ip: string; user_agent: string | null }>(
    'SELECT user_id, active_tenant_id, mfa_verified, ip, user_agent FROM sessions WHERE id = $1',
    [sid],
  );
  return row!;
}

describe('POST /register', () => {
  it('creates the person, their tenant as owner, the audit rows and event, and signs them in', async () => {
    const email = uniqueEmail();
    const ip = clientIp();
    const response = await register({ email, password: TEST_PASSWORD, name: 'Ann Example' }, { remoteAddress: ip, headers: { 'user-agent': 'register-test/1.0' } });

    expect(response.statusCode).toBe(201);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = response.json();
    expect(body).toMatchObject({
      user: { email, name: 'Ann Example', emailVerified: false, mfaEnabled: false, platformRole: null },
      tenant: { name: "Ann Example's workspace", slug: expect.stringMatching(/^ann-examples-workspace(-[0-9a-f]{6})?$/), status: 'active' },
      memberships: [{ tenantName: "Ann Example's workspace", role: 'owner', status: 'active' }],
      tokenType: 'Bearer',
      expiresIn: t.config.auth.accessTokenTtlSeconds,
    });
    expect(body.memberships[0].tenantId).toBe(body.tenant.id);
    expect(body.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Object.keys(body).sort()).toEqual(['accessToken', 'expiresIn', 'memberships', 'refreshToken', 'tenant', 'tokenType', 'user']);

    const claims = await t.app.accessTokens.verify(body.accessToken);
    expect(claims).toMatchObject({ sub: body.user.id, tid: body.tenant.id });
    expect(await sessionRow(body.accessToken)).toMatchObject({ user_id: body.user.id, active_tenant_id: body.tenant.id, mfa_verified: false, ip, user_agent: 'register-test/1.0' });

    const [user] = await t.admin.query<{ password_hash: string; last_tenant_id: string; email_verified_at: Date | null }>(
      'SELECT password_hash, last_tenant_id, email_verified_at FROM users WHERE id = $1',
      [body.user.id],
    );
    expect(parseOptions(user!.password_hash)).toMatchObject({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
    expect(user!.password_hash).toMatch(/^\$argon2id\$/);
    expect(user!.last_tenant_id).toBe(body.tenant.id);
    expect(user!.email_verified_at).toBeNull();
    expect(await t.admin.query('SELECT role, status FROM memberships WHERE tenant_id = $1', [body.tenant.id])).toEqual([{ role: 'owner', status: 'active' }]);

    const auditRows = await t.admin.query<Record<string, unknown>>(
      'SELECT action, actor_type, actor_id, target_type, target_id, ip, user_agent, request_id FROM audit_events WHERE tenant_id = $1 ORDER BY action DESC',
      [body.tenant.id],
    );
    const origin = { actor_type: 'user', actor_id: body.user.id, ip, user_agent: 'register-test/1.0', request_id: response.headers['x-request-id'] };
    expect(auditRows).toEqual([
      { action: 'user.registered', target_type: 'user', target_id: body.user.id, ...origin },
      { action: 'tenant.created', target_type: 'tenant', target_id: body.tenant.id, ...origin },
    ]);
    const events = await t.admin.query<{ type: string; payload: Record<string, unknown> }>('SELECT type, payload FROM outbox_events WHERE tenant_id = $1', [body.tenant.id]);
    expect(events).toEqual([{ type: 'tenant.created', payload: expect.objectContaining({ tenantId: body.tenant.id, ownerUserId: body.user.id, source: 'register' }) }]);
  });

  it('emails a verification link to a real SMTP server, carrying a live verify_email token', async () => {
    const email = uniqueEmail('verify');
    const response = await register({ email, password: TEST_PASSWORD, name: 'Vera Mail' });
    expect(response.statusCode).toBe(201);
    const userId = response.json().user.id as string;

    const mail = await smtp.waitForMail((candidate) => candidate.envelope.to.includes(email));
    expect(mail.subject).toBe('Verify your email address');
    expect(mail.from).toContain('no-reply@atrium.test');
    expect(mail.text).toContain('Hello Vera Mail');
    const prefix = `${t.config.http.publicUrl}/auth/verify-email?token=`;
    const link = mail.text!.split(/\s+/).find((word) => word.startsWith(prefix));
    expect(link).toBeDefined();
    const token = decodeURIComponent(link!.slice(prefix.length));
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(mail.html).toContain(`${prefix}${token}`);

    const rows = await t.admin.query<{ user_id: string; purpose: string; email: string; used_at: Date | null; ttl_hours: number }>(
      `SELECT user_id, purpose, email, used_at, round(extract(epoch FROM expires_at - created_at) / 3600)::int AS ttl_hours FROM one_time_tokens WHERE token_hash = $1`,
      [hashSecretToken(token)],
    );
    expect(rows).toEqual([{ user_id: userId, purpose: 'verify_email', email, used_at: null, ttl_hours: 48 }]);
    // Only the hash is stored, never the token itself.
    expect(await t.admin.query('SELECT 1 FROM one_time_tokens WHERE token_hash = $1', [token])).toEqual([]);
  });

  it('names the tenant as asked, and gives a second tenant of the same name another slug', async () => {
    const tenantName = `Café Ñandú ${randomBytes(3).toString('hex')}`;
    const first = await register({ email: uniqueEmail(), password: TEST_PASSWORD, name: 'Olga', tenantName });
    const second = await register({ email: uniqueEmail(), password: TEST_PASSWORD, name: 'Piet', tenantName: `  ${tenantName}  ` });
    expect(first.statusCode).toBe(201);
    expect(second.statusCode).toBe(201);
    const [a, b] = [first.json().tenant, second.json().tenant];
    expect(a.name).toBe(tenantName);
    expect(b.name).toBe(tenantName);
    expect(a.slug).toBe(`cafe-nandu-${tenantName.slice(-6)}`);
    expect(b.slug).toMatch(new RegExp(`^${a.slug}-[0-9a-f]{6}$`));
  });

  it('never takes a reserved slug', async () => {
    const response = await register({ email: uniqueEmail(), password: TEST_PASSWORD, name: 'Root', tenantName: 'Admin' });
    expect(response.statusCode).toBe(201);
    expect(response.json().tenant).toMatchObject({ name: 'Admin', slug: expect.stringMatching(/^admin-[0-9a-f]{6}$/) });
    expect(tenantSlugCandidates('API')).toHaveLength(6);
    expect(tenantSlugCandidates('API').every((slug) => /^api-[0-9a-f]{6}$/.test(slug))).toBe(true);
  });

  it('keeps a derived tenant name within 200 characters', () => {
    expect(defaultTenantName('x'.repeat(200))).toHaveLength(200);
    expect(defaultTenantName('x'.repeat(200)).endsWith("'s workspace")).toBe(true);
  });

  it('answers 409 auth.email_taken for a registered address in any capitalisation, creating nothing', async () => {
    const email = uniqueEmail('taken');
    expect((await register({ email, password: TEST_PASSWORD, name: 'First' })).statusCode).toBe(201);
    const tenantName = `Second ${randomBytes(3).toString('hex')}`;
    const again = await register({ email: email.toUpperCase().replace('@EXAMPLE.TEST', '@Example.Test'), password: TEST_PASSWORD, name: 'Second', tenantName });
    expect(again.statusCode).toBe(409);
    expect(again.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(problemOf(again)).toMatchObject({ status: 409, code: 'auth.email_taken' });
    expect(await t.admin.query('SELECT count(*)::int AS n FROM users WHERE lower(email) = lower($1)', [email])).toEqual([{ n: 1 }]);
    expect(await t.admin.query('SELECT count(*)::int AS n FROM tenants WHERE name = $1', [tenantName])).toEqual([{ n: 0 }]);
  });

  it('lets exactly one of two parallel registrations of one address through', async () => {
    const email = uniqueEmail('race');
    const tenantName = `Race ${randomBytes(3).toString('hex')}`;
    const responses = await Promise.all([0, 1].map(() => register({ email, password: TEST_PASSWORD, name: 'Racer', tenantName })));
    expect(responses.map((r) => r.statusCode).sort()).toEqual([201, 409]);
    expect(await t.admin.query('SELECT count(*)::int AS n FROM users WHERE lower(email) = lower($1)', [email])).toEqual([{ n: 1 }]);
    // The loser's transaction left no tenant, membership, token or mail behind.
    expect(await t.admin.query('SELECT count(*)::int AS n FROM tenants WHERE name = $1', [tenantName])).toEqual([{ n: 1 }]);
    expect(await t.admin.query("SELECT count(*)::int AS n FROM one_time_tokens WHERE email = $1 AND purpose = 'verify_email'", [email])).toEqual([{ n: 1 }]);
  });

  it.each([
    ['too short', 'Sh0rt!', 'too_short'],
    ['among the most common', 'password123', 'common'],
    ['containing the email local part', 'my-ann.weakling-pass', 'contains_email'],
  ])('refuses a password %s with 400 auth.weak_password', async (_case, password, reason) => {
    const response = await register({ email: 'ann.weakling@example.test', password, name: 'Ann' });
    expect(response.statusCode).toBe(400);
    expect(problemOf(response)).toMatchObject({ code: 'auth.weak_password', reason, errors: [{ in: 'body', field: '/password' }] });
  });

  it.each([
    ['no name', { email: 'a@example.test', password: TEST_PASSWORD }, '/name'],
    ['a blank name', { email: 'a@example.test', password: TEST_PASSWORD, name: '   ' }, '/name'],
    ['a blank tenant name', { email: 'a@example.test', password: TEST_PASSWORD, name: 'Ann', tenantName: ' ' }, '/tenantName'],
    ['a malformed email', { email: 'not-an-email', password: TEST_PASSWORD, name: 'Ann' }, '/email'],
    ['an unknown field', { email: 'a@example.test', password: TEST_PASSWORD, name: 'Ann', role: 'owner' }, ''],
  ])('answers 400 request.validation_failed for %s', async (_case, body, field) => {
    const response = await register(body);
    expect(response.statusCode).toBe(400);
    const problem = problemOf(response);
    expect(problem.code).toBe('request.validation_failed');
    if (field) expect(problem.errors).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'body', field })]));
  });

  it('does not store or replay the answer for an Idempotency-Key (it carries tokens)', async () => {
    const email = uniqueEmail('idem');
    const ip = clientIp();
    const headers = { 'idempotency-key': `register-${randomBytes(4).toString('hex')}` };
    const body = { email, password: TEST_PASSWORD, name: 'Idem' };
    expect((await register(body, { remoteAddress: ip, headers })).statusCode).toBe(201);
    const retry = await register(body, { remoteAddress: ip, headers });
    expect(retry.statusCode).toBe(409);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(await t.admin.query('SELECT count(*)::int AS n FROM idempotency_keys WHERE key = $1', [headers['idempotency-key']])).toEqual([{ n: 0 }]);
  });

  it(`allows ${REGISTER_LIMIT_PER_HOUR} registrations per client address per hour, whatever X-Forwarded-For says`, async () => {
    const ip = clientIp();
    // Refused attempts count too (cheap ones here: a weak password costs no hashing).
    for (let i = 0; i < REGISTER_LIMIT_PER_HOUR; i++) {
      const response = await register({ email: uniqueEmail(), password: 'password', name: 'Spammer' }, { remoteAddress: ip });
      expect(response.statusCode).toBe(400);
      expect(response.headers['ratelimit-remaining']).toBe(String(REGISTER_LIMIT_PER_HOUR - 1 - i));
    }
    const email = uniqueEmail('limited');
    const limited = await register({ email, password: TEST_PASSWORD, name: 'Legit' }, { remoteAddress: ip });
    expect(limited.statusCode).toBe(429);
    expect(problemOf(limited)).toMatchObject({ code: 'rate_limit.exceeded' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(3000);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(3600);

    // TRUST_PROXY is off: a forged header does not make the same client look like another one.
    const spoofed = await register({ email, password: TEST_PASSWORD, name: 'Legit' }, { remoteAddress: ip, headers: { 'x-forwarded-for': clientIp() } });
    expect(spoofed.statusCode).toBe(429);
    expect(await t.admin.query('SELECT count(*)::int AS n FROM users WHERE email = $1', [email])).toEqual([{ n: 0 }]);

    // Another address has its own budget.
    expect((await register({ email, password: TEST_PASSWORD, name: 'Legit' }, { remoteAddress: clientIp() })).statusCode).toBe(201);
  });
});

describe('POST /login', () => {
  it('signs in with the right password and answers the login response', async () => {
    const person = await createPerson(t.app);
    const tenant = await createTenantFor(t.app, person);
    const ip = clientIp();
    const response = await login({ email: person.email, password: person.password }, { remoteAddress: ip, headers: { 'user-agent': 'login-test' } });

    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = response.json();
    expect(body).toMatchObject({
      user: { id: person.id, email: person.email, name: person.name, emailVerified: true, mfaEnabled: false },
      tenant: { id: tenant.id, name: tenant.name, slug: tenant.slug, status: 'active' },
      memberships: [{ tenantId: tenant.id, role: 'owner', status: 'active' }],
      tokenType: 'Bearer',
    });
    expect(body).not.toHaveProperty('mfaRequired');
    expect(await t.app.accessTokens.verify(body.accessToken)).toMatchObject({ sub: person.id, tid: tenant.id });
    expect(await sessionRow(body.accessToken)).toMatchObject({ user_id: person.id, active_tenant_id: tenant.id, mfa_verified: false, ip, user_agent: 'login-test' });
  });

  it('accepts the email in any capitalisation', async () => {
    const person = await createPerson(t.app, { email: `Mixed.Case-${randomBytes(3).toString('hex')}@Example.Test` });
    const response = await login({ email: person.email.toLowerCase(), password: person.password });
    expect(response.statusCode).toBe(200);
    expect(response.json().user.id).toBe(person.id);
  });

  it('acts in the tenant asked for, else the last used one; 404 tenant.not_found for a tenant the person is not in', async () => {
    const person = await createPerson(t.app);
    const first = await createTenantFor(t.app, person);
    const second = await createTenantFor(t.app, person, { role: 'member' });

    const asked = await login({ email: person.email, password: person.password, tenantId: first.id });
    expect(asked.json().tenant.id).toBe(first.id);
    expect(asked.json().memberships.map((m: { tenantId: string }) => m.tenantId).sort()).toEqual([first.id, second.id].sort());
    const lastUsed = await login({ email: person.email, password: person.password });
    expect(lastUsed.json().tenant.id).toBe(first.id);

    const stranger = await createPerson(t.app);
    const foreign = await createTenantFor(t.app, stranger);
    const refused = await login({ email: person.email, password: person.password, tenantId: foreign.id });
    expect(refused.statusCode).toBe(404);
    expect(problemOf(refused)).toMatchObject({ code: 'tenant.not_found' });

    const deactivated = await createTenantFor(t.app, stranger);
    await addMembership(t.app, deactivated.id, person, 'member', 'deactivated');
    expect((await login({ email: person.email, password: person.password, tenantId: deactivated.id })).statusCode).toBe(404);
  });

  it('signs in a person without any tenant (tenant null)', async () => {
    const person = await createPerson(t.app);
    const response = await login({ email: person.email, password: person.password });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ tenant: null, memberships: [] });
  });

  it('answers a wrong password, an unknown email, a disabled account and a password-less account identically, after the same argon2 work', async () => {
    const known = await createPerson(t.app);
    const disabled = await createPerson(t.app, { status: 'disabled' });
    const passwordless = await createPerson(t.app);
    await t.platform.db.transaction({}, (tx) => tx.update(users).set({ passwordHash: null }).where(eq(users.id, passwordless.id)));

    const passwords = t.app.identity.passwords;
    const { verify, verifyDummy } = passwords;
    const calls: string[] = [];
    passwords.verify = (hash, password) => (calls.push('verify'), verify(hash, password));
    passwords.verifyDummy = (password) => (calls.push('dummy'), verifyDummy(password));
    try {
      const attempts = [
        { email: known.email, password: 'Wrong-password-but-long-42' },
        { email: uniqueEmail('nobody'), password: 'Wrong-password-but-long-42' },
        { email: disabled.email, password: disabled.password },
        { email: passwordless.email, password: TEST_PASSWORD },
      ];
      const responses = [];
      for (const body of attempts) responses.push(await login(body));
      for (const response of responses) {
        expect(response.statusCode).toBe(401);
        expect(response.headers['content-type']).toBe(responses[0]!.headers['content-type']);
        expect(response.headers['www-authenticate']).toBe(responses[0]!.headers['www-authenticate']);
        expect(problemOf(response)).toEqual({
          type: 'https://atrium.dev/problems/auth/invalid_credentials',
          title: 'Invalid credentials',
          status: 401,
          detail: 'The email address or the password is wrong.',
          code: 'auth.invalid_credentials',
        });
      }
      // One argon2 verification per attempt, real or dummy: an unknown email costs what a known one does.
      expect(calls).toEqual(['verify', 'dummy', 'verify', 'dummy']);
    } finally {
      passwords.verify = verify;
      passwords.verifyDummy = verifyDummy;
    }
  });

  it('takes similar time for an unknown email and a wrong password', async () => {
    const known = await createPerson(t.app);
    const time = async (email: string) => {
      const started = performance.now();
      expect((await login({ email, password: 'Wrong-password-but-long-42' })).statusCode).toBe(401);
      return performance.now() - started;
    };
    await time(uniqueEmail('warm')); // the dummy hash is made once, on first use
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const knownTimes: number[] = [];
    const unknownTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      knownTimes.push(await time(known.email));
      unknownTimes.push(await time(uniqueEmail('nobody')));
    }
    // Both are dominated by one argon2id verification (tens of ms); without the dummy hash the unknown
    // email would answer in a millisecond or two.
    const [k, u] = [median(knownTimes), median(unknownTimes)];
    expect(u).toBeGreaterThan(k * 0.4);
    expect(u).toBeLessThan(k * 2.5);
  });

  it('rehashes a password stored with weaker parameters once it is proven right', async () => {
    const person = await createPerson(t.app);
    const weak = await argon2Hash(TEST_PASSWORD, { algorithm: 2, memoryCost: 4096, timeCost: 1, parallelism: 1 });
    await t.platform.db.transaction({}, (tx) => tx.update(users).set({ passwordHash: weak }).where(eq(users.id, person.id)));

    expect((await login({ email: person.email, password: 'Wrong-password-but-long-42' })).statusCode).toBe(401);
    const [unchanged] = await t.admin.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [person.id]);
    expect(unchanged!.password_hash).toBe(weak);

    expect((await login({ email: person.email, password: TEST_PASSWORD })).statusCode).toBe(200);
    const [rehashed] = await t.admin.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [person.id]);
    expect(rehashed!.password_hash).not.toBe(weak);
    expect(parseOptions(rehashed!.password_hash)).toMatchObject({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
    expect((await login({ email: person.email, password: TEST_PASSWORD })).statusCode).toBe(200);
  });

  it('answers the MFA challenge instead of tokens when the person has TOTP enabled', async () => {
    const person = await createPerson(t.app);
    const tenant = await createTenantFor(t.app, person);
    await enableTotp(person);
    const sessionsBefore = await t.admin.query('SELECT id FROM sessions WHERE user_id = $1', [person.id]);

    const response = await login({ email: person.email, password: person.password, tenantId: tenant.id });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = response.json();
    expect(Object.keys(body).sort()).toEqual(['mfaRequired', 'mfaToken']);
    expect(body.mfaRequired).toBe(true);
    const rows = await t.admin.query<{ user_id: string; data: unknown; ttl_seconds: number; used_at: Date | null }>(
      `SELECT user_id, data, round(extract(epoch FROM expires_at - created_at))::int AS ttl_seconds, used_at FROM one_time_tokens WHERE token_hash = $1 AND purpose = 'mfa_login'`,
      [hashSecretToken(body.mfaToken)],
    );
    expect(rows).toEqual([{ user_id: person.id, data: { tenantId: tenant.id }, ttl_seconds: 300, used_at: null }]);
    // No session is opened before the second factor.
    expect(await t.admin.query('SELECT id FROM sessions WHERE user_id = $1', [person.id])).toEqual(sessionsBefore);
  });

  it('does not answer the MFA challenge to a wrong password', async () => {
    const person = await createPerson(t.app);
    await enableTotp(person);
    const response = await login({ email: person.email, password: 'Wrong-password-but-long-42' });
    expect(response.statusCode).toBe(401);
    expect(problemOf(response)).toMatchObject({ code: 'auth.invalid_credentials' });
  });

  it.each([
    ['no password', { email: 'a@example.test' }],
    ['an empty password', { email: 'a@example.test', password: '' }],
    ['a malformed tenantId', { email: 'a@example.test', password: TEST_PASSWORD, tenantId: 'tenant-1' }],
    ['an unknown field', { email: 'a@example.test', password: TEST_PASSWORD, remember: true }],
  ])('answers 400 request.validation_failed for %s', async (_case, body) => {
    const response = await login(body);
    expect(response.statusCode).toBe(400);
    expect(problemOf(response)).toMatchObject({ code: 'request.validation_failed' });
  });
});

describe('POST /login with AUTH_REQUIRE_VERIFIED_EMAIL=true', () => {
  let strict: TestApp;
  beforeAll(async () => {
    strict = await createTestApp({ AUTH_REQUIRE_VERIFIED_EMAIL: 'true' });
  });
  afterAll(async () => {
    await strict?.close();
  });
  const strictLogin = (body: object) => strict.app.inject({ method: 'POST', url: `${AUTH}/login`, payload: body, remoteAddress: clientIp() });

  it('refuses an unverified address with 403 auth.email_not_verified, but only after the right password', async () => {
    const unverified = await createPerson(strict.app, { verified: false });
    const wrong = await strictLogin({ email: unverified.email, password: 'Wrong-password-but-long-42' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('auth.invalid_credentials');

    const right = await strictLogin({ email: unverified.email, password: unverified.password });
    expect(right.statusCode).toBe(403);
    expect(right.json()).toMatchObject({ code: 'auth.email_not_verified', status: 403 });
    expect(right.json()).not.toHaveProperty('accessToken');
    expect(await strict.admin.query('SELECT id FROM sessions WHERE user_id = $1', [unverified.id])).toEqual([]);

    const verified = await createPerson(strict.app);
    expect((await strictLogin({ email: verified.email, password: verified.password })).statusCode).toBe(200);
  });

  it('lets an unverified address sign in when the setting is off (default)', async () => {
    const unverified = await createPerson(t.app, { verified: false });
    const response = await login({ email: unverified.email, password: unverified.password });
    expect(response.statusCode).toBe(200);
    expect(response.json().user.emailVerified).toBe(false);
  });
});

describe('POST /mfa/verify', () => {
  const verify = (body: Record<string, unknown>) => post('/mfa/verify', body);

  it('completes the sign-in with a TOTP code from another library, marks the session MFA-verified and spends the token', async () => {
    const person = await createPerson(t.app);
    const tenant = await createTenantFor(t.app, person);
    const secret = await enableTotp(person);
    const mfaToken = await mfaTokenFor(person);

    const response = await verify({ mfaToken, code: await generate({ secret }) });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = response.json();
    expect(body).toMatchObject({ user: { id: person.id, mfaEnabled: true }, tenant: { id: tenant.id }, tokenType: 'Bearer' });
    expect(await sessionRow(body.accessToken)).toMatchObject({ user_id: person.id, mfa_verified: true, active_tenant_id: tenant.id });
    const [token] = await t.admin.query<{ used_at: Date | null }>('SELECT used_at FROM one_time_tokens WHERE token_hash = $1', [hashSecretToken(mfaToken)]);
    expect(token!.used_at).not.toBeNull();

    const reused = await verify({ mfaToken, code: await generate({ secret }) });
    expect(reused.statusCode).toBe(401);
    expect(problemOf(reused)).toMatchObject({ code: 'auth.invalid_mfa_token' });
  });

  it('refuses a code already used (replay), even with a fresh MFA token', async () => {
    const person = await createPerson(t.app);
    const secret = await enableTotp(person);
    const code = await generate({ secret });
    expect((await verify({ mfaToken: await mfaTokenFor(person), code })).statusCode).toBe(200);

    const replay = await verify({ mfaToken: await mfaTokenFor(person), code });
    expect(replay.statusCode).toBe(401);
    expect(problemOf(replay)).toMatchObject({ code: 'auth.invalid_mfa_code' });
  });

  it('answers a wrong code with 401 auth.invalid_mfa_code and leaves the token usable', async () => {
    const person = await createPerson(t.app);
    const secret = await enableTotp(person);
    const mfaToken = await mfaTokenFor(person);
    const right = await generate({ secret });
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');

    const refused = await verify({ mfaToken, code: wrong });
    expect(refused.statusCode).toBe(401);
    expect(problemOf(refused)).toMatchObject({ status: 401, code: 'auth.invalid_mfa_code' });
    expect((await verify({ mfaToken, code: 'abcdef' })).json().code).toBe('auth.invalid_mfa_code');

    const accepted = await verify({ mfaToken, code: right });
    expect(accepted.statusCode).toBe(200);
    expect(accepted.json().user.id).toBe(person.id);
  });

  it('accepts each recovery code once', async () => {
    const person = await createPerson(t.app);
    await enableTotp(person);
    const codes = await t.platform.db.transaction({}, (tx) => replaceRecoveryCodes(tx, person.id));

    const first = await verify({ mfaToken: await mfaTokenFor(person), recoveryCode: codes[0]!.toLowerCase() });
    expect(first.statusCode).toBe(200);
    expect(await sessionRow(first.json().accessToken)).toMatchObject({ mfa_verified: true });

    const again = await verify({ mfaToken: await mfaTokenFor(person), recoveryCode: codes[0] });
    expect(again.statusCode).toBe(401);
    expect(problemOf(again)).toMatchObject({ code: 'auth.invalid_mfa_code' });
    expect((await verify({ mfaToken: await mfaTokenFor(person), recoveryCode: codes[1] })).statusCode).toBe(200);
    expect(await t.admin.query('SELECT count(*)::int AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NOT NULL', [person.id])).toEqual([{ n: 2 }]);
  });

  it('signs in to the tenant asked for at login; 404 when the membership ended meanwhile, without spending the token', async () => {
    const person = await createPerson(t.app);
    const asked = await createTenantFor(t.app, person, { role: 'member' });
    await createTenantFor(t.app, person);
    const secret = await enableTotp(person);

    const mfaToken = await mfaTokenFor(person, { tenantId: asked.id });
    const response = await verify({ mfaToken, code: await generate({ secret }) });
    expect(response.statusCode).toBe(200);
    expect(response.json().tenant.id).toBe(asked.id);

    const other = await createPerson(t.app);
    const theirs = await createTenantFor(t.app, other);
    await addMembership(t.app, theirs.id, person, 'member');
    const pending = await mfaTokenFor(person, { tenantId: theirs.id });
    await t.admin.query("UPDATE memberships SET status = 'deactivated' WHERE tenant_id = $1 AND user_id = $2", [theirs.id, person.id]);
    const codes = await t.platform.db.transaction({}, (tx) => replaceRecoveryCodes(tx, person.id));
    const refused = await verify({ mfaToken: pending, recoveryCode: codes[0] });
    expect(refused.statusCode).toBe(404);
    expect(problemOf(refused)).toMatchObject({ code: 'tenant.not_found' });
    // Rolled back: neither the token nor the recovery code was spent.
    expect(await t.admin.query('SELECT used_at FROM one_time_tokens WHERE token_hash = $1', [hashSecretToken(pending)])).toEqual([{ used_at: null }]);
    expect(await t.admin.query('SELECT count(*)::int AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NOT NULL', [person.id])).toEqual([{ n: 0 }]);
  });

  it('answers 401 auth.invalid_mfa_token for an unknown, expired or other-purpose token, and after a password change', async () => {
    const person = await createPerson(t.app);
    const secret = await enableTotp(person);
    const code = () => generate({ secret });

    const unknown = await verify({ mfaToken: randomBytes(32).toString('base64url'), code: await code() });
    expect(unknown.statusCode).toBe(401);
    expect(problemOf(unknown)).toMatchObject({ code: 'auth.invalid_mfa_token' });

    const expired = await mfaTokenFor(person);
    await t.admin.query("UPDATE one_time_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1", [hashSecretToken(expired)]);
    expect((await verify({ mfaToken: expired, code: await code() })).json().code).toBe('auth.invalid_mfa_token');

    const emailToken = await t.platform.db.transaction({}, (tx) => issueOneTimeToken(tx, { userId: person.id, purpose: 'verify_email', email: person.email }));
    expect((await verify({ mfaToken: emailToken, code: await code() })).json().code).toBe('auth.invalid_mfa_token');

    const beforeChange = await mfaTokenFor(person);
    await t.admin.query("UPDATE users SET password_changed_at = now() + interval '1 second' WHERE id = $1", [person.id]);
    expect((await verify({ mfaToken: beforeChange, code: await code() })).json().code).toBe('auth.invalid_mfa_token');
  });

  it('answers 401 auth.invalid_mfa_token once the account is disabled', async () => {
    const person = await createPerson(t.app);
    const secret = await enableTotp(person);
    const mfaToken = await mfaTokenFor(person);
    await t.admin.query("UPDATE users SET status = 'disabled' WHERE id = $1", [person.id]);
    const response = await verify({ mfaToken, code: await generate({ secret }) });
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('auth.invalid_mfa_token');
  });

  it.each([
    ['both a code and a recovery code', { code: '123456', recoveryCode: 'ABCD-EFGH-JKMN' }],
    ['neither', {}],
    ['a code of the wrong length', { code: '12345' }],
  ])('answers 400 request.validation_failed for %s', async (_case, extra) => {
    const response = await verify({ mfaToken: randomBytes(32).toString('base64url'), ...extra });
    expect(response.statusCode).toBe(400);
    expect(problemOf(response)).toMatchObject({ code: 'request.validation_failed' });
  });
});
