/**
 * Sessions and tokens over HTTP: refresh rotation and reuse detection, sliding and absolute lifetimes,
 * logout / logout-all / session revocation cutting off live (already cached) access tokens, the session
 * list, switching tenant, and the security matrix of every authenticated route here.
 */
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMembership, bearer, createPerson, createTenantFor, signInAs, type Person } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { baseCases, securityMatrix, sessionCases } from '../../../test/security-matrix.js';
import { uuidv7 } from '../../core/db/ids.js';
import { users } from '../../core/tenancy/tenancy.table.js';
import { REFRESH_PER_IP_PER_MINUTE } from './session.routes.js';
import { signedInPerson } from './authenticate.js';

const REFRESH_TTL = 300;
const MAX_AGE = 3600;

let t: TestApp;

beforeAll(async () => {
  // Short lifetimes, so the sliding window and the absolute cap are distinguishable in assertions.
  t = await createTestApp({ REFRESH_TOKEN_TTL_SECONDS: String(REFRESH_TTL), SESSION_MAX_AGE_SECONDS: String(MAX_AGE) });
});
afterAll(() => t?.close());

const AUTH = '/api/v1/auth';

/**
 * Each request comes from its own client address unless told otherwise: with REDIS_URL the rate-limit
 * counters are shared by every test file, and one file's traffic must not spend another's budget.
 */
const randomIp = () => `10.${[...randomBytes(3)].join('.')}`;

const call = (method: InjectOptions['method'], url: string, options: { token?: string; payload?: unknown; ip?: string } = {}) =>
  t.app.inject({
    method,
    url,
    remoteAddress: options.ip ?? randomIp(),
    headers: options.token ? bearer(options.token) : {},
    payload: options.payload as InjectOptions['payload'],
  });

const refresh = (refreshToken: string, ip?: string) => call('POST', `${AUTH}/refresh`, { payload: { refreshToken }, ip });
const me = (token: string) => call('GET', '/api/v1/users/me', { token });

/** The status and problem code of a response (code undefined for a success). */
const outcome = (response: { statusCode: number; json: () => unknown }) => {
  const body = response.statusCode === 204 ? undefined : (response.json() as { code?: string });
  return { status: response.statusCode, code: body?.code };
};

async function ownerWithTenant() {
  const person = await createPerson(t.app);
  const tenant = await createTenantFor(t.app, person);
  const login = await signInAs(t.app, person, tenant.id);
  const claims = await t.app.accessTokens.verify(login.accessToken);
  return { person, tenant, login, sessionId: claims.sid };
}

const sessionRow = async (sessionId: string) => {
  const [row] = await t.admin.query<{ revoked_at: Date | null; revoked_reason: string | null; idle_expires_at: Date; expires_at: Date; active_tenant_id: string | null; now: Date }>(
    'SELECT revoked_at, revoked_reason, idle_expires_at, expires_at, active_tenant_id, now() AS now FROM sessions WHERE id = $1',
    [sessionId],
  );
  return row!;
};

const auditActions = async (tenantId: string) =>
  (await t.admin.query<{ action: string; actor_id: string; target_id: string }>('SELECT action, actor_id, target_id FROM audit_events WHERE tenant_id = $1 ORDER BY occurred_at, id', [tenantId]));

describe('POST /auth/refresh', () => {
  it('rotates: a new pair acting in the session, and the old refresh token is spent', async () => {
    const { tenant, login, sessionId, person } = await ownerWithTenant();
    const response = await refresh(login.refreshToken);
    expect(response.statusCode).toBe(200);
    const pair = response.json();
    expect(Object.keys(pair).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken', 'tokenType']);
    expect(pair).toMatchObject({ tokenType: 'Bearer', expiresIn: t.config.auth.accessTokenTtlSeconds });
    expect(pair.refreshToken).not.toBe(login.refreshToken);
    expect(pair.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const claims = await t.app.accessTokens.verify(pair.accessToken);
    expect(claims).toMatchObject({ sub: person.id, tid: tenant.id, sid: sessionId, typ: 'access' });
    expect((await me(pair.accessToken)).statusCode).toBe(200);

    // Rotation again works with the new token only.
    const second = await refresh(pair.refreshToken);
    expect(second.statusCode).toBe(200);
    expect((await t.app.accessTokens.verify(second.json().accessToken)).sid).toBe(sessionId);
  });

  it('reuse of a spent token revokes the session and cuts off its live access token at once', async () => {
    const { login, sessionId } = await ownerWithTenant();
    const rotated = (await refresh(login.refreshToken)).json();
    // The rotated access token is in use (and now in the verified-token cache).
    expect((await me(rotated.accessToken)).statusCode).toBe(200);

    const replay = await refresh(login.refreshToken);
    expect(replay.statusCode).toBe(401);
    expect(replay.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(replay.json().code).toBe('auth.refresh_token_reused');

    expect(await sessionRow(sessionId)).toMatchObject({ revoked_reason: 'refresh_token_reused', revoked_at: expect.any(Date) });
    expect(outcome(await me(rotated.accessToken))).toEqual({ status: 401, code: 'auth.unauthenticated' });
    expect(outcome(await me(login.accessToken))).toEqual({ status: 401, code: 'auth.unauthenticated' });
    // The legitimate holder's newer refresh token dies with the session.
    expect(outcome(await refresh(rotated.refreshToken))).toEqual({ status: 401, code: 'auth.invalid_refresh_token' });
  });

  it('concurrent refreshes with one token: exactly one wins, and the session is revoked', async () => {
    const { login, sessionId } = await ownerWithTenant();
    const responses = await Promise.all(Array.from({ length: 6 }, () => refresh(login.refreshToken)));
    const statuses = responses.map((response) => response.statusCode).sort();
    expect(statuses).toEqual([200, 401, 401, 401, 401, 401]);
    for (const response of responses.filter((r) => r.statusCode === 401)) expect(response.json().code).toBe('auth.refresh_token_reused');

    expect((await sessionRow(sessionId)).revoked_reason).toBe('refresh_token_reused');
    const winner = responses.find((response) => response.statusCode === 200)!.json();
    expect(outcome(await me(winner.accessToken))).toEqual({ status: 401, code: 'auth.unauthenticated' });
    expect(outcome(await refresh(winner.refreshToken))).toEqual({ status: 401, code: 'auth.invalid_refresh_token' });
  });

  it('an unknown token, and an invalid body', async () => {
    expect(outcome(await refresh(randomBytes(32).toString('base64url')))).toEqual({ status: 401, code: 'auth.invalid_refresh_token' });
    const missing = await call('POST', `${AUTH}/refresh`, { payload: {} });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ code: 'request.validation_failed', errors: [{ in: 'body', field: '/refreshToken' }] });
    expect((await call('POST', `${AUTH}/refresh`, { payload: { refreshToken: 'x'.repeat(201) } })).statusCode).toBe(400);
  });

  it('is public: a stale bearer token on it does not get in the way', async () => {
    const { login } = await ownerWithTenant();
    const response = await t.app.inject({ method: 'POST', url: `${AUTH}/refresh`, remoteAddress: randomIp(), headers: bearer('stale.garbage.token'), payload: { refreshToken: login.refreshToken } });
    expect(response.statusCode).toBe(200);
  });

  it('slides: each refresh moves the idle end forward, and an idle session ends', async () => {
    const { login, sessionId } = await ownerWithTenant();
    const fresh = await sessionRow(sessionId);
    expect((fresh.idle_expires_at.getTime() - fresh.now.getTime()) / 1000).toBeCloseTo(REFRESH_TTL, -1);
    expect((fresh.expires_at.getTime() - fresh.now.getTime()) / 1000).toBeCloseTo(MAX_AGE, -1);

    // Most of the idle window has passed: a refresh gives it back in full.
    await t.admin.query(`UPDATE sessions SET idle_expires_at = now() + interval '10 seconds' WHERE id = $1`, [sessionId]);
    const pair = (await refresh(login.refreshToken)).json();
    const extended = await sessionRow(sessionId);
    expect((extended.idle_expires_at.getTime() - extended.now.getTime()) / 1000).toBeCloseTo(REFRESH_TTL, -1);
    expect(extended.expires_at).toEqual(fresh.expires_at);

    // Then the session lies idle past its window: refresh refused, live access token refused.
    expect((await me(pair.accessToken)).statusCode).toBe(200);
    await t.admin.query(`UPDATE sessions SET idle_expires_at = now() - interval '1 second' WHERE id = $1`, [sessionId]);
    expect(outcome(await refresh(pair.refreshToken))).toEqual({ status: 401, code: 'auth.invalid_refresh_token' });
    expect(outcome(await me(pair.accessToken))).toEqual({ status: 401, code: 'auth.unauthenticated' });
  });

  it('never extends past the absolute maximum age, and ends there', async () => {
    const { login, sessionId } = await ownerWithTenant();
    // The session is near its absolute end: a refresh may only extend it up to that end.
    await t.admin.query(`UPDATE sessions SET idle_expires_at = now() + interval '20 seconds', expires_at = now() + interval '60 seconds' WHERE id = $1`, [sessionId]);
    const pair = (await refresh(login.refreshToken)).json();
    const capped = await sessionRow(sessionId);
    expect(capped.idle_expires_at).toEqual(capped.expires_at);

    await t.admin.query(`UPDATE sessions SET idle_expires_at = now() - interval '1 second', expires_at = now() - interval '1 second' WHERE id = $1`, [sessionId]);
    expect(outcome(await refresh(pair.refreshToken))).toEqual({ status: 401, code: 'auth.invalid_refresh_token' });
    expect(outcome(await me(pair.accessToken))).toEqual({ status: 401, code: 'auth.unauthenticated' });
  });

  it('refuses a disabled person', async () => {
    const { person, login } = await ownerWithTenant();
    await t.admin.query(`UPDATE users SET status = 'disabled' WHERE id = $1`, [person.id]);
    expect(outcome(await refresh(login.refreshToken))).toEqual({ status: 401, code: 'auth.invalid_refresh_token' });
  });

  it(`is rate limited per client address (${REFRESH_PER_IP_PER_MINUTE} per minute)`, async () => {
    const ip = randomIp();
    const bogus = randomBytes(32).toString('base64url');
    const answers = await Promise.all(Array.from({ length: REFRESH_PER_IP_PER_MINUTE }, () => refresh(bogus, ip)));
    expect(answers.every((response) => response.statusCode === 401)).toBe(true);
    const limited = await refresh(bogus, ip);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().code).toBe('rate_limit.exceeded');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another address is unaffected, and a genuine refresh from it works.
    const { login } = await ownerWithTenant();
    expect((await refresh(login.refreshToken, randomIp())).statusCode).toBe(200);
  });
});

describe('POST /auth/logout', () => {
  it('ends the current session: its cached access token and its refresh token stop working at once', async () => {
    const { person, tenant, login, sessionId } = await ownerWithTenant();
    const other = await signInAs(t.app, person, tenant.id);
    expect((await me(login.accessToken)).statusCode).toBe(200);
    const before = t.app.accessTokens.stats();
    expect((await me(login.accessToken)).statusCode).toBe(200);
    // The second request was answered from the verified-token cache (no signature check).
    expect(t.app.accessTokens.stats().verifications).toBe(before.verifications);

    const response = await call('POST', `${AUTH}/logout`, { token: login.accessToken });
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');

    expect(outcome(await me(login.accessToken))).toEqual({ status: 401, code: 'auth.unauthenticated' });
    expect(outcome(await refresh(login.refreshToken))).toEqual({ status: 401, code: 'auth.invalid_refresh_token' });
    expect(await sessionRow(sessionId)).toMatchObject({ revoked_reason: 'logout' });
    // Only this session: the same person's other device stays signed in.
    expect((await me(other.accessToken)).statusCode).toBe(200);
    expect(await auditActions(tenant.id)).toContainEqual({ action: 'session.logged_out', actor_id: person.id, target_id: sessionId });
  });

  it('a second logout with the same token is 401 (the session is gone)', async () => {
    const { login } = await ownerWithTenant();
    expect((await call('POST', `${AUTH}/logout`, { token: login.accessToken })).statusCode).toBe(204);
    expect(outcome(await call('POST', `${AUTH}/logout`, { token: login.accessToken }))).toEqual({ status: 401, code: 'auth.unauthenticated' });
  });
});

describe('POST /auth/logout-all', () => {
  it('ends every session of the person, and no one else’s', async () => {
    const { person, tenant, login } = await ownerWithTenant();
    const phone = await signInAs(t.app, person, tenant.id);
    const stranger = await ownerWithTenant();
    for (const token of [login.accessToken, phone.accessToken, stranger.login.accessToken]) expect((await me(token)).statusCode).toBe(200);

    expect((await call('POST', `${AUTH}/logout-all`, { token: login.accessToken })).statusCode).toBe(204);

    for (const token of [login.accessToken, phone.accessToken]) expect(outcome(await me(token))).toEqual({ status: 401, code: 'auth.unauthenticated' });
    for (const token of [login.refreshToken, phone.refreshToken]) expect(outcome(await refresh(token))).toEqual({ status: 401, code: 'auth.invalid_refresh_token' });
    expect((await me(stranger.login.accessToken)).statusCode).toBe(200);
    const [{ live }] = (await t.admin.query<{ live: number }>('SELECT count(*)::int AS live FROM sessions WHERE user_id = $1 AND revoked_at IS NULL', [person.id])) as [{ live: number }];
    expect(live).toBe(0);
    expect((await auditActions(tenant.id)).map((row) => row.action)).toContain('session.logged_out_everywhere');
  });
});

describe('GET /auth/sessions', () => {
  it('lists the person’s live sessions, flags the current one, and hides everyone else’s', async () => {
    const { person, tenant, login, sessionId } = await ownerWithTenant();
    const laptop = await signInAs(t.app, person, tenant.id);
    const laptopId = (await t.app.accessTokens.verify(laptop.accessToken)).sid;
    const ended = await signInAs(t.app, person, tenant.id);
    expect((await call('POST', `${AUTH}/logout`, { token: ended.accessToken })).statusCode).toBe(204);
    await ownerWithTenant(); // someone else's session

    const response = await call('GET', `${AUTH}/sessions`, { token: login.accessToken });
    expect(response.statusCode).toBe(200);
    const { data } = response.json<{ data: Array<Record<string, unknown>> }>();
    expect(data.map((session) => session.id).sort()).toEqual([sessionId, laptopId].sort());
    for (const session of data) {
      expect(Object.keys(session).sort()).toEqual(['createdAt', 'current', 'id', 'ip', 'lastUsedAt', 'userAgent']);
      expect(session).toMatchObject({ ip: '127.0.0.1', userAgent: 'vitest', createdAt: expect.stringMatching(/Z$/), lastUsedAt: expect.stringMatching(/Z$/) });
      expect(session.current).toBe(session.id === sessionId);
    }
    // Seen from the laptop, the laptop is current.
    const fromLaptop = (await call('GET', `${AUTH}/sessions`, { token: laptop.accessToken })).json<{ data: Array<{ id: string; current: boolean }> }>();
    expect(fromLaptop.data.filter((session) => session.current).map((session) => session.id)).toEqual([laptopId]);
  });

  it('orders by last use: a refreshed session comes first', async () => {
    const { person, tenant, login, sessionId } = await ownerWithTenant();
    const later = await signInAs(t.app, person, tenant.id);
    const laterId = (await t.app.accessTokens.verify(later.accessToken)).sid;
    await t.admin.query(`UPDATE sessions SET last_used_at = now() - interval '1 minute' WHERE user_id = $1`, [person.id]);
    expect((await refresh(login.refreshToken)).statusCode).toBe(200);
    const { data } = (await call('GET', `${AUTH}/sessions`, { token: later.accessToken })).json<{ data: Array<{ id: string }> }>();
    expect(data.map((session) => session.id)).toEqual([sessionId, laterId]);
  });
});

describe('DELETE /auth/sessions/:id', () => {
  it('ends another session of the person: its cached access token stops working at once', async () => {
    const { person, tenant, login } = await ownerWithTenant();
    const lost = await signInAs(t.app, person, tenant.id);
    const lostId = (await t.app.accessTokens.verify(lost.accessToken)).sid;
    expect((await me(lost.accessToken)).statusCode).toBe(200);

    const response = await call('DELETE', `${AUTH}/sessions/${lostId}`, { token: login.accessToken });
    expect(response.statusCode).toBe(204);
    expect(outcome(await me(lost.accessToken))).toEqual({ status: 401, code: 'auth.unauthenticated' });
    expect(outcome(await refresh(lost.refreshToken))).toEqual({ status: 401, code: 'auth.invalid_refresh_token' });
    expect((await me(login.accessToken)).statusCode).toBe(200);
    expect(await sessionRow(lostId)).toMatchObject({ revoked_reason: 'revoked' });
    expect(await auditActions(tenant.id)).toContainEqual({ action: 'session.revoked', actor_id: person.id, target_id: lostId });

    // Already ended: nothing left to revoke.
    expect(outcome(await call('DELETE', `${AUTH}/sessions/${lostId}`, { token: login.accessToken }))).toEqual({ status: 404, code: 'resource.not_found' });
  });

  it('can end the current session too', async () => {
    const { login, sessionId } = await ownerWithTenant();
    expect((await call('DELETE', `${AUTH}/sessions/${sessionId}`, { token: login.accessToken })).statusCode).toBe(204);
    expect(outcome(await me(login.accessToken))).toEqual({ status: 401, code: 'auth.unauthenticated' });
  });

  it('answers 404 for another person’s session (which stays alive) and for an unknown id; 400 for a malformed one', async () => {
    const { login } = await ownerWithTenant();
    const victim = await ownerWithTenant();
    const answer = await call('DELETE', `${AUTH}/sessions/${victim.sessionId}`, { token: login.accessToken });
    const unknown = await call('DELETE', `${AUTH}/sessions/${uuidv7()}`, { token: login.accessToken });
    expect(outcome(answer)).toEqual({ status: 404, code: 'resource.not_found' });
    // Indistinguishable from an id that does not exist (no existence oracle).
    expect(unknown.statusCode).toBe(404);
    expect(answer.json().detail).toBe(unknown.json().detail);
    expect((await me(victim.login.accessToken)).statusCode).toBe(200);
    expect((await sessionRow(victim.sessionId)).revoked_at).toBeNull();

    const malformed = await call('DELETE', `${AUTH}/sessions/not-a-uuid`, { token: login.accessToken });
    expect(outcome(malformed)).toEqual({ status: 400, code: 'request.validation_failed' });
  });
});

describe('POST /auth/switch-tenant', () => {
  async function memberOfTwo() {
    const person = await createPerson(t.app);
    const home = await createTenantFor(t.app, person);
    const owner = await createPerson(t.app);
    const other = await createTenantFor(t.app, owner);
    await addMembership(t.app, other.id, person, 'member');
    const login = await signInAs(t.app, person, home.id);
    return { person, home, other, login, sessionId: (await t.app.accessTokens.verify(login.accessToken)).sid };
  }

  const switchTo = (token: string, tenantId: string) => call('POST', `${AUTH}/switch-tenant`, { token, payload: { tenantId } });

  it('moves the session to another membership and returns a pair acting there', async () => {
    const { person, home, other, login, sessionId } = await memberOfTwo();
    const response = await switchTo(login.accessToken, other.id);
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({
      user: { id: person.id, email: person.email },
      tenant: { id: other.id, name: other.name, slug: other.slug, status: 'active' },
      tokenType: 'Bearer',
      expiresIn: t.config.auth.accessTokenTtlSeconds,
    });
    expect(body.memberships.map((m: { tenantId: string; role: string }) => [m.tenantId, m.role]).sort()).toEqual(
      [
        [home.id, 'owner'],
        [other.id, 'member'],
      ].sort(),
    );
    expect(await t.app.accessTokens.verify(body.accessToken)).toMatchObject({ sub: person.id, tid: other.id, sid: sessionId });
    expect((await me(body.accessToken)).json()).toMatchObject({ tenant: { id: other.id }, membership: { role: 'member', status: 'active' } });

    // The session itself moved; the next sign-in defaults to the new tenant.
    expect((await sessionRow(sessionId)).active_tenant_id).toBe(other.id);
    const [user] = await t.platform.db.transaction({}, (tx) => tx.select({ lastTenantId: users.lastTenantId }).from(users).where(eq(users.id, person.id)));
    expect(user!.lastTenantId).toBe(other.id);
    expect(await auditActions(other.id)).toContainEqual({ action: 'session.tenant_switched', actor_id: person.id, target_id: sessionId });

    // The previous refresh token is simply invalid (a stale tab is not a theft: the session survives) …
    expect(outcome(await refresh(login.refreshToken))).toEqual({ status: 401, code: 'auth.invalid_refresh_token' });
    expect((await sessionRow(sessionId)).revoked_at).toBeNull();
    // … and the new one refreshes into the new tenant.
    const refreshed = (await refresh(body.refreshToken)).json();
    expect((await t.app.accessTokens.verify(refreshed.accessToken)).tid).toBe(other.id);

    // And back.
    const back = await switchTo(refreshed.accessToken, home.id);
    expect(back.statusCode).toBe(200);
    expect((await t.app.accessTokens.verify(back.json().accessToken)).tid).toBe(home.id);
  });

  it('answers 404 tenant.not_found for a tenant the person is not an active member of', async () => {
    const { person, other, login, sessionId } = await memberOfTwo();
    const stranger = await ownerWithTenant();
    const notMember = await switchTo(login.accessToken, stranger.tenant.id);
    const unknown = await switchTo(login.accessToken, uuidv7());
    expect(outcome(notMember)).toEqual({ status: 404, code: 'tenant.not_found' });
    expect(outcome(unknown)).toEqual({ status: 404, code: 'tenant.not_found' });
    expect(notMember.json().detail).toBe(unknown.json().detail);

    // A deactivated membership, and a suspended tenant, are not switchable either.
    await t.admin.query(`UPDATE memberships SET status = 'deactivated' WHERE tenant_id = $1 AND user_id = $2`, [other.id, person.id]);
    expect(outcome(await switchTo(login.accessToken, other.id))).toEqual({ status: 404, code: 'tenant.not_found' });
    await t.admin.query(`UPDATE memberships SET status = 'active' WHERE tenant_id = $1 AND user_id = $2`, [other.id, person.id]);
    await t.admin.query(`UPDATE tenants SET status = 'suspended' WHERE id = $1`, [other.id]);
    expect(outcome(await switchTo(login.accessToken, other.id))).toEqual({ status: 404, code: 'tenant.not_found' });

    // Nothing moved, nothing was written in the stranger's tenant.
    expect((await sessionRow(sessionId)).active_tenant_id).not.toBe(stranger.tenant.id);
    expect(await auditActions(stranger.tenant.id)).toEqual([]);
    expect((await refresh(login.refreshToken)).statusCode).toBe(200);
  });

  it('validates the body', async () => {
    const { login } = await memberOfTwo();
    expect(outcome(await switchTo(login.accessToken, 'not-a-uuid'))).toEqual({ status: 400, code: 'request.validation_failed' });
  });
});

describe('own-account routes need a person’s session', () => {
  it('refuses a credential without one (an API key) with 403 auth.forbidden', () => {
    const refusal = (actor: Parameters<typeof signedInPerson>[0]) => {
      try {
        signedInPerson(actor);
      } catch (error) {
        return error;
      }
      throw new Error('accepted');
    };
    expect(refusal({ kind: 'api_key', apiKeyId: uuidv7(), tenantId: uuidv7() })).toMatchObject({ code: 'auth.forbidden', status: 403 });
    expect(refusal({ kind: 'user', userId: uuidv7() })).toMatchObject({ code: 'auth.forbidden', status: 403 });
    expect(refusal(undefined)).toMatchObject({ code: 'auth.forbidden', status: 403 });
    const person = { kind: 'user' as const, userId: uuidv7(), sessionId: uuidv7(), tokenId: uuidv7(), tenantId: uuidv7() };
    expect(signedInPerson(person)).toEqual({ userId: person.userId, sessionId: person.sessionId, tokenId: person.tokenId, tenantId: person.tenantId });
  });
});

describe('security matrix', () => {
  let victim: { person: Person; tenantId: string; sessionId: string };

  beforeAll(async () => {
    const owner = await ownerWithTenant();
    victim = { person: owner.person, tenantId: owner.tenant.id, sessionId: owner.sessionId };
  });

  // Route names are built before beforeAll runs; the real ids are read when each case runs.
  const PLACEHOLDER_ID = '00000000-0000-7000-8000-000000000000';
  const context = () => ({ app: t.app, admin: t.admin, victimTenantId: victim.tenantId });
  const cases = [...baseCases, ...sessionCases(() => t.app)];

  securityMatrix(context, { method: 'POST', url: `${AUTH}/logout` }, cases);
  securityMatrix(context, { method: 'POST', url: `${AUTH}/logout-all` }, cases);
  securityMatrix(context, { method: 'GET', url: `${AUTH}/sessions` }, cases);
  // The victim's own session id: no case may end it.
  securityMatrix(context, { method: 'DELETE', get url() { return `${AUTH}/sessions/${victim?.sessionId ?? PLACEHOLDER_ID}`; } }, cases);
  securityMatrix(context, { method: 'POST', url: `${AUTH}/switch-tenant`, get payload() { return { tenantId: victim?.tenantId ?? PLACEHOLDER_ID }; } }, cases);

  it('left the victim’s session alive', async () => {
    expect((await sessionRow(victim.sessionId)).revoked_at).toBeNull();
  });
});
