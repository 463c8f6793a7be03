/**
 * `/api/v1/admin/users` over HTTP: searching people across tenants (filters, keyset pages, memberships
 * in several tenants), one person's detail, disabling (tokens refused at the next request, sessions
 * revoked in the database, sign-in and refresh refused, impersonations they run ended) and enabling (new
 * sign-ins work, old sessions stay ended), the self and last-administrator protections, the platform
 * audit rows, operators reading but not writing, tenant owners refused, and the security matrix.
 */
import { randomBytes } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMembership, bearer, createPerson, createTenantFor, signedInOwner, signedInPlatformAdmin, signInAs, TEST_PASSWORD, type Person } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { baseCases, platformCases, securityMatrix, sessionCases } from '../../../test/security-matrix.js';
import { uuidv7 } from '../../core/db/ids.js';

const USERS = '/api/v1/admin/users';

let t: TestApp;
let admin: { person: Person; token: string };
let operator: { person: Person; token: string };
let owner: { person: Person; token: string };

beforeAll(async () => {
  t = await createTestApp({ AUTH_MAX_FAILED_ATTEMPTS_PER_IP: '100000' });
  admin = await signedInPlatformAdmin(t.app);
  operator = await signedInPlatformAdmin(t.app, 'platform_operator');
  owner = await signedInOwner(t.app);
});
afterAll(() => t?.close());

/** Each request from its own address: login attempts are limited per address. */
const randomIp = () => `10.${[...randomBytes(3)].join('.')}`;

const call = (method: InjectOptions['method'], url: string, token: string | null, payload?: unknown) =>
  t.app.inject({ method, url, remoteAddress: randomIp(), headers: token ? bearer(token) : {}, payload: payload as InjectOptions['payload'] });

const marker = () => `mk${randomBytes(4).toString('hex')}`;

interface AdminUserBody {
  id: string;
  email: string;
  name: string;
  status: string;
  platformRole: string | null;
  memberships: Array<{ tenantId: string; tenantName: string; tenantSlug: string; tenantStatus: string; role: string; status: string }>;
}

const platformAuditRows = (targetId: string) =>
  t.admin.query<{ actor_id: string; action: string; details: Record<string, unknown> | null; request_id: string | null }>(
    `SELECT actor_id, action, details, request_id FROM platform_audit_events WHERE target_type = 'user' AND target_id = $1 ORDER BY occurred_at, id`,
    [targetId],
  );

describe('GET /admin/users', () => {
  let mark: string;
  let inTwo: Person;
  let named: Person;
  let disabled: Person;
  let staff: Person;
  let tenantA: { id: string; name: string; slug: string };
  let tenantB: { id: string; name: string; slug: string };

  beforeAll(async () => {
    mark = marker();
    inTwo = await createPerson(t.app, { email: `${mark}-two@example.test` });
    tenantA = await createTenantFor(t.app, inTwo, { name: `A ${mark}` });
    tenantB = await createTenantFor(t.app, await createPerson(t.app), { name: `B ${mark}` });
    await addMembership(t.app, tenantB.id, inTwo, 'admin', 'deactivated');
    named = await createPerson(t.app, { name: `Named ${mark.toUpperCase()}` });
    disabled = await createPerson(t.app, { email: `${mark}-off@example.test`, status: 'disabled' });
    staff = await createPerson(t.app, { email: `${mark}-ops@example.test`, platformRole: 'platform_operator' });
  });

  const list = async (query: string, token = admin.token) => {
    const response = await call('GET', `${USERS}?${query}`, token);
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as { data: AdminUserBody[]; nextCursor: string | null };
  };

  it('finds people by email or name, case-insensitively, newest first, with every membership', async () => {
    const page = await list(`search=${mark.toUpperCase()}`);
    expect(page.data.map((user) => user.id)).toEqual([staff.id, disabled.id, named.id, inTwo.id]);
    expect(page.nextCursor).toBeNull();
    const two = page.data.find((user) => user.id === inTwo.id)!;
    expect(two).toMatchObject({ email: inTwo.email, name: inTwo.name, status: 'active', platformRole: null });
    expect(two.memberships).toEqual([
      { tenantId: tenantA.id, tenantName: tenantA.name, tenantSlug: tenantA.slug, tenantStatus: 'active', role: 'owner', status: 'active' },
      { tenantId: tenantB.id, tenantName: tenantB.name, tenantSlug: tenantB.slug, tenantStatus: 'active', role: 'admin', status: 'deactivated' },
    ]);
    expect(page.data.find((user) => user.id === named.id)!.memberships).toEqual([]);
  });

  it('filters by status and platform role', async () => {
    expect((await list(`search=${mark}&status=disabled`)).data.map((user) => user.id)).toEqual([disabled.id]);
    expect((await list(`search=${mark}&status=active`)).data.map((user) => user.id)).toEqual([staff.id, named.id, inTwo.id]);
    expect((await list(`search=${mark}&platformRole=platform_operator`)).data.map((user) => user.id)).toEqual([staff.id]);
    expect((await list(`search=${mark}&platformRole=none`)).data.map((user) => user.id)).toEqual([disabled.id, named.id, inTwo.id]);
    expect((await list(`search=${mark}&platformRole=platform_admin`)).data).toEqual([]);
  });

  it('pages with a cursor, never repeating or skipping anyone', async () => {
    const first = await list(`search=${mark}&limit=3`);
    expect(first.data.map((user) => user.id)).toEqual([staff.id, disabled.id, named.id]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await list(`search=${mark}&limit=3&cursor=${first.nextCursor}`);
    expect(second.data.map((user) => user.id)).toEqual([inTwo.id]);
    expect(second.data[0]!.memberships).toHaveLength(2);
    expect(second.nextCursor).toBeNull();
  });

  it('treats LIKE wildcards in the search literally, and refuses a foreign cursor', async () => {
    expect((await list(`search=${encodeURIComponent('%_')}`)).data).toEqual([]);
    const response = await call('GET', `${USERS}?cursor=${Buffer.from('{"n":1}').toString('base64url')}`, admin.token);
    expect(response.statusCode).toBe(400);
    expect(response.json().errors[0].field).toBe('/cursor');
  });

  it('is open to operators and closed to tenant owners', async () => {
    expect((await list(`search=${mark}`, operator.token)).data).toHaveLength(4);
    const refused = await call('GET', USERS, owner.token);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('auth.forbidden');
  });
});

describe('GET /admin/users/:id', () => {
  it('shows memberships, second factor, verified address, last sign-in and live sessions', async () => {
    const person = await createPerson(t.app, { verified: false });
    const tenant = await createTenantFor(t.app, person);
    await signInAs(t.app, person, tenant.id);
    await signInAs(t.app, person, tenant.id);
    const [latest] = await t.admin.query<{ created_at: Date }>(`SELECT max(created_at) AS created_at FROM sessions WHERE user_id = $1`, [person.id]);

    const response = await call('GET', `${USERS}/${person.id}`, operator.token);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      id: person.id,
      email: person.email,
      status: 'active',
      platformRole: null,
      emailVerified: false,
      mfaEnabled: false,
      activeSessions: 2,
      lastSignInAt: new Date(latest!.created_at).toISOString(),
      memberships: [{ tenantId: tenant.id, role: 'owner', status: 'active', tenantStatus: 'active' }],
    });
  });

  it('answers null and 0 for someone who never signed in, and 404 for an unknown id', async () => {
    const person = await createPerson(t.app);
    expect((await call('GET', `${USERS}/${person.id}`, admin.token)).json()).toMatchObject({ lastSignInAt: null, activeSessions: 0, emailVerified: true, memberships: [] });
    const missing = await call('GET', `${USERS}/${uuidv7()}`, admin.token);
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('platform.user_not_found');
    expect((await call('GET', `${USERS}/not-a-uuid`, admin.token)).statusCode).toBe(400);
  });
});

describe('POST /admin/users/:id/disable and /enable', () => {
  const login = (person: Person) => call('POST', '/api/v1/auth/login', null, { email: person.email, password: TEST_PASSWORD });

  it('disabling ends every session at once and blocks sign-in; enabling allows new sign-ins only', async () => {
    const person = await createPerson(t.app);
    const tenant = await createTenantFor(t.app, person);
    const first = await signInAs(t.app, person, tenant.id);
    const second = await signInAs(t.app, person, tenant.id);
    // Verified once, so the token sits in the verified-token cache: the session check must still refuse it.
    expect((await call('GET', '/api/v1/users/me', first.accessToken)).statusCode).toBe(200);

    const disabled = await call('POST', `${USERS}/${person.id}/disable`, admin.token, { reason: 'Fraud report 42' });
    expect(disabled.statusCode, disabled.body).toBe(200);
    expect(disabled.json()).toMatchObject({ id: person.id, status: 'disabled', memberships: [{ tenantId: tenant.id }] });

    for (const token of [first.accessToken, second.accessToken]) {
      const refused = await call('GET', '/api/v1/users/me', token);
      expect(refused.statusCode).toBe(401);
      expect(refused.json().code).toBe('auth.unauthenticated');
    }
    const sessions = await t.admin.query<{ revoked_at: Date | null; revoked_reason: string | null }>(`SELECT revoked_at, revoked_reason FROM sessions WHERE user_id = $1`, [person.id]);
    expect(sessions).toHaveLength(2);
    expect(sessions.every((session) => session.revoked_at !== null && session.revoked_reason === 'disabled_by_platform')).toBe(true);
    const refusedLogin = await login(person);
    expect(refusedLogin.statusCode).toBe(401);
    expect(refusedLogin.json().code).toBe('auth.invalid_credentials');
    expect((await call('POST', '/api/v1/auth/refresh', null, { refreshToken: second.refreshToken })).statusCode).toBe(401);

    const enabled = await call('POST', `${USERS}/${person.id}/enable`, admin.token);
    expect(enabled.statusCode).toBe(200);
    expect(enabled.json()).toMatchObject({ id: person.id, status: 'active' });
    const fresh = await login(person);
    expect(fresh.statusCode, fresh.body).toBe(200);
    expect((await call('GET', '/api/v1/users/me', fresh.json().accessToken)).statusCode).toBe(200);
    // The old sessions stay ended.
    expect((await call('GET', '/api/v1/users/me', first.accessToken)).statusCode).toBe(401);
    expect((await call('POST', '/api/v1/auth/refresh', null, { refreshToken: first.refreshToken })).statusCode).toBe(401);
    const [revoked] = await t.admin.query<{ count: string }>(
      `SELECT count(*) AS count FROM sessions WHERE user_id = $1 AND revoked_reason = 'disabled_by_platform' AND revoked_at IS NOT NULL`,
      [person.id],
    );
    expect(Number(revoked!.count)).toBe(2);

    const audit = await platformAuditRows(person.id);
    expect(audit.map((row) => [row.action, row.actor_id])).toEqual([
      ['platform.user_disabled', admin.person.id],
      ['platform.user_enabled', admin.person.id],
    ]);
    expect(audit[0]!.details).toEqual({ reason: 'Fraud report 42', sessionsEnded: 2 });
    expect(audit[0]!.request_id).toBe(disabled.headers['x-request-id']);
  });

  it('never leaves a live session to a sign-in that races the disable', async () => {
    const person = await createPerson(t.app);
    await createTenantFor(t.app, person);
    const [signedIn, disabled] = await Promise.allSettled([signInAs(t.app, person), call('POST', `${USERS}/${person.id}/disable`, admin.token)]);
    expect(disabled.status === 'fulfilled' && disabled.value.statusCode).toBe(200);
    // Either the sign-in saw the disable (refused), or the disable waited for it and ended its session.
    if (signedIn.status === 'rejected') expect((signedIn.reason as { code?: string }).code).toBe('auth.invalid_credentials');
    const live = await t.admin.query(`SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL`, [person.id]);
    expect(live).toEqual([]);
    await expect(signInAs(t.app, person)).rejects.toMatchObject({ code: 'auth.invalid_credentials' });
  });

  it('takes no body, and repeating either changes nothing and writes no second audit row', async () => {
    const person = await createPerson(t.app);
    expect((await call('POST', `${USERS}/${person.id}/disable`, admin.token)).statusCode).toBe(200);
    expect((await call('POST', `${USERS}/${person.id}/disable`, admin.token, {})).json().status).toBe('disabled');
    expect((await call('POST', `${USERS}/${person.id}/enable`, admin.token)).statusCode).toBe(200);
    expect((await call('POST', `${USERS}/${person.id}/enable`, admin.token)).json().status).toBe('active');
    expect((await platformAuditRows(person.id)).map((row) => row.action)).toEqual(['platform.user_disabled', 'platform.user_enabled']);
    expect((await call('POST', `${USERS}/${person.id}/disable`, admin.token, { unknown: 1 })).statusCode).toBe(400);
  });

  it('ends the impersonations a disabled administrator runs', async () => {
    const other = await signedInPlatformAdmin(t.app);
    const { person, tenant } = await signedInOwner(t.app);
    const impersonation = await signInAs(t.app, person, tenant.id);
    const sid = (await t.app.accessTokens.verify(impersonation.accessToken)).sid;
    await t.admin.query(`UPDATE sessions SET impersonator_id = $1 WHERE id = $2`, [other.person.id, sid]);

    expect((await call('POST', `${USERS}/${other.person.id}/disable`, admin.token)).statusCode).toBe(200);
    const [session] = await t.admin.query<{ revoked_reason: string | null }>(`SELECT revoked_reason FROM sessions WHERE id = $1`, [sid]);
    expect(session!.revoked_reason).toBe('disabled_by_platform');
    expect((await call('GET', USERS, other.token)).statusCode).toBe(401);
  });

  it('refuses your own account, unknown people, operators and tenant owners', async () => {
    await signedInPlatformAdmin(t.app); // another active administrator: the refusal is about "self"
    const self = await call('POST', `${USERS}/${admin.person.id}/disable`, admin.token);
    expect(self.statusCode).toBe(409);
    expect(self.json().code).toBe('platform.self_protected');

    const missing = await call('POST', `${USERS}/${uuidv7()}/disable`, admin.token);
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('platform.user_not_found');
    expect((await call('POST', `${USERS}/${uuidv7()}/enable`, admin.token)).json().code).toBe('platform.user_not_found');

    const person = await createPerson(t.app);
    for (const token of [operator.token, owner.token]) {
      for (const action of ['disable', 'enable']) {
        const refused = await call('POST', `${USERS}/${person.id}/${action}`, token);
        expect(refused.statusCode).toBe(403);
        expect(refused.json().code).toBe('auth.forbidden');
      }
    }
    const [row] = await t.admin.query<{ status: string }>(`SELECT status FROM users WHERE id = $1`, [person.id]);
    expect(row!.status).toBe('active');
    expect(await platformAuditRows(person.id)).toEqual([]);
  });
});

describe('the last active platform administrator', () => {
  let lone: TestApp;
  afterAll(() => lone?.close());

  it('cannot be disabled, and a disabled administrator does not count', async () => {
    lone = await createTestApp();
    const only = await signedInPlatformAdmin(lone.app);
    const dormant = await createPerson(lone.app, { platformRole: 'platform_admin', status: 'disabled' });
    const refused = await lone.app.inject({ method: 'POST', url: `${USERS}/${only.person.id}/disable`, headers: bearer(only.token) });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('platform.last_admin');
    const [row] = await lone.admin.query<{ status: string }>(`SELECT status FROM users WHERE id = $1`, [only.person.id]);
    expect(row!.status).toBe('active');
    // Enabling the dormant one makes two: then the refusal is about disabling oneself.
    expect((await lone.app.inject({ method: 'POST', url: `${USERS}/${dormant.id}/enable`, headers: bearer(only.token) })).statusCode).toBe(200);
    const self = await lone.app.inject({ method: 'POST', url: `${USERS}/${only.person.id}/disable`, headers: bearer(only.token) });
    expect(self.json().code).toBe('platform.self_protected');
  });
});

describe('security matrix', () => {
  const getApp = () => t.app;
  const context = () => ({ app: t.app, admin: t.admin });
  const id = uuidv7();
  const reads = [...baseCases, ...sessionCases(getApp), ...platformCases(getApp)];
  const writes = [...baseCases, ...sessionCases(getApp), ...platformCases(getApp, { writes: true })];
  securityMatrix(context, { method: 'GET', url: USERS }, reads);
  securityMatrix(context, { method: 'GET', url: `${USERS}/${id}` }, reads);
  securityMatrix(context, { method: 'POST', url: `${USERS}/${id}/disable`, payload: {} }, writes);
  securityMatrix(context, { method: 'POST', url: `${USERS}/${id}/enable` }, writes);
});
