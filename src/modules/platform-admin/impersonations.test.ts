/**
 * Governed impersonation over HTTP: the token (claims, lifetime, no refresh), what it may and may not do,
 * the audit rows written with it, its end (on time, early, by the tenant's setting), both audit trails,
 * the refusals, who may call the routes, and the list.
 */
import { randomBytes } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { decodeJwt, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMembership, bearer, createPerson, signedInMember, signedInOwner, signedInPlatformAdmin, signInAs } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { uuidv7 } from '../../core/db/ids.js';
import { createAccessTokens } from '../identity/tokens.js';

const ADMIN = '/api/v1/admin/impersonations';
const REASON = 'Support ticket #4711: the dashboard shows no stores';

let t: TestApp;
let admin: Awaited<ReturnType<typeof signedInPlatformAdmin>>;

beforeAll(async () => {
  t = await createTestApp();
  admin = await signedInPlatformAdmin(t.app);
});
afterAll(() => t?.close());

type Row = Record<string, unknown>;
const randomIp = () => `10.${[...randomBytes(3)].join('.')}`;
const call = (method: InjectOptions['method'], url: string, token?: string, payload?: unknown) =>
  t.app.inject({ method, url, remoteAddress: randomIp(), headers: token ? bearer(token) : {}, payload: payload as InjectOptions['payload'] });
const start = (body: Record<string, unknown>, token = admin.token) => call('POST', ADMIN, token, body);
const sql = <T extends Row = Row>(text: string, values: unknown[] = []) => t.admin.query<T>(text, values);

/** A tenant with its owner signed in, and the owner impersonated by `admin`. */
async function impersonatedOwner(minutes?: number) {
  const owner = await signedInOwner(t.app);
  const response = await start({ tenantId: owner.tenant.id, userId: owner.person.id, reason: REASON, ...(minutes ? { minutes } : {}) });
  expect(response.statusCode, response.body).toBe(201);
  const body = response.json<{ impersonation: { id: string; expiresAt: string }; accessToken: string; expiresIn: number }>();
  return { ...owner, response, body, token: body.accessToken, id: body.impersonation.id };
}

const trails = async (id: string, tenantId: string) => ({
  platform: await sql(`SELECT action, actor_id, target_type, target_id, target_tenant_id, details FROM platform_audit_events WHERE details->>'impersonationId' = $1 ORDER BY id`, [id]),
  tenant: await sql(`SELECT action, actor_type, actor_id, target_type, target_id, after FROM audit_events WHERE tenant_id = $1 AND action LIKE 'impersonation.%' AND after->>'impersonationId' = $2 ORDER BY id`, [tenantId, id]),
  events: await sql(`SELECT type, payload FROM outbox_events WHERE tenant_id = $1 AND type LIKE 'impersonation.%' AND payload->'impersonation'->>'id' = $2 ORDER BY id`, [tenantId, id]),
});

describe('POST /admin/impersonations', () => {
  it('answers a token acting as the member, naming the administrator (act), ending with the impersonation; no refresh token', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { person, tenant, response, body, token, id } = await impersonatedOwner(10);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(body).toMatchObject({
      impersonation: { id, tenantId: tenant.id, userId: person.id, adminId: admin.person.id, reason: REASON, endedAt: null, endedBy: null, active: true },
      tokenType: 'Bearer',
    });
    expect(body).not.toHaveProperty('refreshToken');

    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: person.id, tid: tenant.id, act: { sub: admin.person.id } });
    expect(claims.exp! - before).toBeGreaterThanOrEqual(600 - 1);
    expect(claims.exp! - before).toBeLessThanOrEqual(600 + 5);
    expect(claims.exp! * 1000).toBe(Date.parse(body.impersonation.expiresAt));
    expect(body.expiresIn).toBe(claims.exp! - claims.iat!);
    expect((await t.app.accessTokens.verify(token)).act).toEqual({ sub: admin.person.id });

    // The backing session: the member's, marked with the administrator, ending with the token, never refreshable.
    const [session] = await sql(`SELECT s.*, (SELECT count(*)::int FROM refresh_tokens r WHERE r.session_id = s.id) AS refresh_tokens FROM sessions s WHERE s.id = $1`, [claims.sid]);
    expect(session).toMatchObject({ user_id: person.id, active_tenant_id: tenant.id, impersonator_id: admin.person.id, mfa_verified: false, refresh_tokens: 0 });
    expect((session!.expires_at as Date).getTime()).toBe(Date.parse(body.impersonation.expiresAt));
    expect((session!.idle_expires_at as Date).getTime()).toBe(Date.parse(body.impersonation.expiresAt));

    // It works as the member on tenant routes.
    const me = await call('GET', '/api/v1/users/me', token);
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ user: { id: person.id }, tenant: { id: tenant.id } });
    expect((await call('GET', '/api/v1/tenants/current', token)).statusCode).toBe(200);
  });

  it('writes both audit trails and the tenant event in the transaction that starts it', async () => {
    const { person, tenant, id } = await impersonatedOwner();
    const { platform, tenant: tenantTrail, events } = await trails(id, tenant.id);
    expect(platform).toEqual([
      { action: 'impersonation.started', actor_id: admin.person.id, target_type: 'user', target_id: person.id, target_tenant_id: tenant.id, details: { reason: REASON, minutes: 15, impersonationId: id } },
    ]);
    expect(tenantTrail).toEqual([
      { action: 'impersonation.started', actor_type: 'platform_admin', actor_id: admin.person.id, target_type: 'user', target_id: person.id, after: expect.objectContaining({ impersonationId: id, reason: REASON, minutes: 15 }) },
    ]);
    expect(events).toHaveLength(1);
    expect(events[0]!.payload).toMatchObject({ impersonation: { id, adminId: admin.person.id, userId: person.id } });
    const xids = await sql<{ xid: string }>(
      `SELECT xmin::text AS xid FROM impersonations WHERE id::text = $1::text
       UNION ALL SELECT xmin::text FROM platform_audit_events WHERE details->>'impersonationId' = $1::text
       UNION ALL SELECT xmin::text FROM audit_events WHERE tenant_id = $2 AND action = 'impersonation.started'
       UNION ALL SELECT xmin::text FROM outbox_events WHERE tenant_id = $2 AND type = 'impersonation.started'`,
      [id, tenant.id],
    );
    expect(xids).toHaveLength(4);
    expect(new Set(xids.map((row) => row.xid)).size).toBe(1);
  });

  it('carries the administrator’s own two-factor state to the session', async () => {
    const mfaAdmin = await signedInPlatformAdmin(t.app);
    await sql('UPDATE sessions SET mfa_verified = true WHERE id = $1', [decodeJwt(mfaAdmin.token).sid]);
    const { person, tenant } = await signedInOwner(t.app);
    const response = await start({ tenantId: tenant.id, userId: person.id, reason: REASON }, mfaAdmin.token);
    const [session] = await sql('SELECT mfa_verified FROM sessions WHERE id = $1', [decodeJwt(response.json().accessToken).sid]);
    expect(session!.mfa_verified).toBe(true);
  });

  it('marks every audit row written with the token with the administrator (impersonator_id)', async () => {
    const { tenant, token } = await impersonatedOwner();
    expect((await call('PATCH', '/api/v1/users/me', token, { name: 'Changed While Impersonated' })).statusCode).toBe(200);
    expect((await call('POST', '/api/v1/stores', token, { name: 'Impersonated Store', code: 'IMP-1' })).statusCode).toBe(201);
    const rows = await sql(`SELECT action, actor_type, impersonator_id FROM audit_events WHERE tenant_id = $1 AND action IN ('user.profile_updated', 'store.created') ORDER BY id`, [tenant.id]);
    expect(rows).toEqual([
      { action: 'user.profile_updated', actor_type: 'user', impersonator_id: admin.person.id },
      { action: 'store.created', actor_type: 'user', impersonator_id: admin.person.id },
    ]);
  });

  it('validates the body: minutes 1..60 (default 15), a reason of 3..500 characters', async () => {
    const { person, tenant } = await signedInOwner(t.app);
    const target = { tenantId: tenant.id, userId: person.id };
    for (const [body, field] of [
      [{ ...target, reason: REASON, minutes: 61 }, '/minutes'],
      [{ ...target, reason: REASON, minutes: 0 }, '/minutes'],
      [{ ...target, reason: 'ab' }, '/reason'],
      [{ ...target, reason: 'x'.repeat(501) }, '/reason'],
      [{ ...target }, '/reason'],
      [{ ...target, userId: 'nope', reason: REASON }, '/userId'],
    ] as const) {
      const response = await start(body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json().errors.map((error: { field: string }) => error.field)).toContain(field);
    }
    expect(await sql('SELECT 1 FROM impersonations WHERE target_tenant_id = $1', [tenant.id])).toHaveLength(0);
  });

  it('refuses a target that is not an active member of an active tenant (404), and records nothing', async () => {
    const { person, tenant } = await signedInOwner(t.app);
    const outsider = await createPerson(t.app);
    const deactivated = await createPerson(t.app);
    await addMembership(t.app, tenant.id, deactivated, 'member', 'deactivated');
    const suspended = await signedInOwner(t.app);
    await sql(`UPDATE tenants SET status = 'suspended' WHERE id = $1`, [suspended.tenant.id]);
    for (const [body, code] of [
      [{ tenantId: uuidv7(), userId: person.id }, 'tenant.not_found'],
      [{ tenantId: suspended.tenant.id, userId: suspended.person.id }, 'tenant.not_found'],
      [{ tenantId: tenant.id, userId: outsider.id }, 'member.not_found'],
      [{ tenantId: tenant.id, userId: deactivated.id }, 'member.not_found'],
    ] as const) {
      const response = await start({ ...body, reason: REASON });
      expect(response.statusCode, code).toBe(404);
      expect(response.json().code).toBe(code);
    }
    expect(await sql('SELECT 1 FROM impersonations WHERE target_tenant_id = ANY($1::uuid[])', [[tenant.id, suspended.tenant.id]])).toHaveLength(0);
  });

  it('refuses oneself, holders of a platform role and disabled accounts (403 impersonation.target_not_allowed)', async () => {
    const { tenant } = await signedInOwner(t.app);
    const operator = await createPerson(t.app, { platformRole: 'platform_operator' });
    const otherAdmin = await createPerson(t.app, { platformRole: 'platform_admin' });
    const disabled = await createPerson(t.app, { status: 'disabled' });
    for (const person of [operator, otherAdmin, disabled, admin.person]) await addMembership(t.app, tenant.id, person, 'admin');
    for (const person of [operator, otherAdmin, disabled, admin.person]) {
      const response = await start({ tenantId: tenant.id, userId: person.id, reason: REASON });
      expect(response.statusCode).toBe(403);
      expect(response.json().code).toBe('impersonation.target_not_allowed');
    }
    expect(await sql('SELECT 1 FROM impersonations WHERE target_tenant_id = $1', [tenant.id])).toHaveLength(0);
  });

  it('honours the tenant’s security.allowImpersonation (a setting like the others), and turning it off cuts running ones off', async () => {
    const { person, tenant, token: running } = await impersonatedOwner();
    const ownerToken = (await signInAs(t.app, person, tenant.id)).accessToken;
    expect((await call('GET', '/api/v1/tenants/current/settings', ownerToken)).json().security.allowImpersonation).toBe(true);
    expect((await call('PATCH', '/api/v1/tenants/current/settings', ownerToken, { security: { allowImpersonation: 'no' } })).statusCode).toBe(400);

    const off = await call('PATCH', '/api/v1/tenants/current/settings', ownerToken, { security: { allowImpersonation: false } });
    expect(off.statusCode).toBe(200);
    expect(off.json().security).toMatchObject({ allowImpersonation: false, mfaRequired: false });
    const refused = await start({ tenantId: tenant.id, userId: person.id, reason: REASON });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('impersonation.forbidden_by_tenant');
    expect((await call('GET', '/api/v1/users/me', running)).statusCode).toBe(401);
    expect((await call('GET', '/api/v1/users/me', ownerToken)).statusCode).toBe(200);

    await call('PATCH', '/api/v1/tenants/current/settings', ownerToken, { security: { allowImpersonation: true } });
    expect((await start({ tenantId: tenant.id, userId: person.id, reason: REASON })).statusCode).toBe(201);
  });
});

describe('what an impersonation token cannot do', () => {
  const restricted: Array<[InjectOptions['method'], string, unknown?]> = [
    ['POST', '/api/v1/auth/change-password', { currentPassword: 'x', newPassword: 'Another-lantern-74-orbit' }],
    ['POST', '/api/v1/auth/change-email', { newEmail: 'new@example.test', password: 'x' }],
    ['POST', '/api/v1/auth/mfa/totp/setup', {}],
    ['POST', '/api/v1/auth/mfa/totp/enable', { code: '123456' }],
    ['POST', '/api/v1/auth/mfa/totp/disable', { code: '123456' }],
    ['POST', '/api/v1/auth/mfa/recovery-codes', { code: '123456' }],
    ['POST', '/api/v1/auth/logout', {}],
    ['POST', '/api/v1/auth/logout-all', {}],
    ['DELETE', `/api/v1/auth/sessions/${uuidv7()}`],
    ['POST', '/api/v1/auth/switch-tenant', { tenantId: uuidv7() }],
    ['POST', '/api/v1/auth/accept-invite', { token: 'x'.repeat(43) }],
    ['POST', '/api/v1/tenants', { name: 'Made While Impersonated' }],
    ['POST', '/api/v1/tenants/current/transfer-ownership', { userId: uuidv7(), password: 'x' }],
    ['POST', '/api/v1/tenants/current/leave'],
    ['DELETE', '/api/v1/tenants/current', { confirm: 'x', password: 'x' }],
    ['DELETE', '/api/v1/users/me', { password: 'x' }],
  ];

  it('refuses credentials, two-factor, sessions, ownership and account routes (403 auth.impersonation_restricted), changing nothing', async () => {
    const { person, tenant, token } = await impersonatedOwner();
    const own = await signInAs(t.app, person, tenant.id);
    for (const [method, url, payload] of restricted) {
      const response = await call(method, url, token, payload);
      expect(response.statusCode, `${method} ${url}`).toBe(403);
      expect(response.json().code, `${method} ${url}`).toBe('auth.impersonation_restricted');
    }
    // The member's own session survived logout-all; the tenant and the membership are untouched.
    expect((await call('GET', '/api/v1/users/me', own.accessToken)).statusCode).toBe(200);
    expect(await sql(`SELECT status FROM tenants WHERE id = $1`, [tenant.id])).toEqual([{ status: 'active' }]);
    expect(await sql(`SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2`, [tenant.id, person.id])).toEqual([{ role: 'owner' }]);
  });

  it('cannot be refreshed: the session has no refresh token, and platform routes refuse it', async () => {
    const { token } = await impersonatedOwner();
    const [row] = await sql<{ count: number }>('SELECT count(*)::int AS count FROM refresh_tokens WHERE session_id = $1', [decodeJwt(token).sid]);
    expect(row!.count).toBe(0);
    const refresh = await call('POST', '/api/v1/auth/refresh', undefined, { refreshToken: 'x'.repeat(43) });
    expect(refresh.statusCode).toBe(401);
    expect((await call('GET', ADMIN, token)).statusCode).toBe(403);
  });

  it('expires on time: its session ends at expiresAt, and so does the JWT', async () => {
    const { token, body } = await impersonatedOwner(1);
    const later = createAccessTokens({ keyRing: t.app.keyRing, issuer: t.config.auth.issuer, audience: t.config.auth.audience, ttlSeconds: 60, clock: () => Date.parse(body.impersonation.expiresAt) + 1000 });
    await expect(later.verify(token)).rejects.toMatchObject({ reason: 'expired' });

    await sql(`UPDATE sessions SET idle_expires_at = now() - interval '1 second', expires_at = now() - interval '1 second' WHERE id = $1`, [decodeJwt(token).sid]);
    const response = await call('GET', '/api/v1/users/me', token);
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('auth.unauthenticated');
  });

  it('is refused when the act claim and the session disagree (either way)', async () => {
    const { person, tenant, token } = await impersonatedOwner();
    const { sid } = decodeJwt(token) as { sid: string };
    const withoutAct = await t.app.accessTokens.issue({ userId: person.id, tenantId: tenant.id, sessionId: sid });
    expect((await call('GET', '/api/v1/users/me', withoutAct.token)).statusCode).toBe(401);
    const own = decodeJwt((await signInAs(t.app, person, tenant.id)).accessToken) as { sid: string };
    const forgedAct = await t.app.accessTokens.issue({ userId: person.id, tenantId: tenant.id, sessionId: own.sid, actorId: admin.person.id });
    expect((await call('GET', '/api/v1/users/me', forgedAct.token)).statusCode).toBe(401);
  });
});

describe('DELETE /admin/impersonations/:id', () => {
  it('ends it early: 401 at the next request, both trails record the end, and ending it again is a no-op', async () => {
    const { person, tenant, token, id } = await impersonatedOwner();
    expect((await call('GET', '/api/v1/users/me', token)).statusCode).toBe(200);
    const otherAdmin = await signedInPlatformAdmin(t.app);

    expect((await call('DELETE', `${ADMIN}/${id}`, otherAdmin.token)).statusCode).toBe(204);
    const after = await call('GET', '/api/v1/users/me', token);
    expect(after.statusCode).toBe(401);
    expect(await sql('SELECT revoked_reason FROM sessions WHERE id = $1', [decodeJwt(token).sid])).toEqual([{ revoked_reason: 'impersonation_ended' }]);
    const [row] = await sql('SELECT ended_at, ended_by FROM impersonations WHERE id = $1', [id]);
    expect(row!.ended_by).toBe(otherAdmin.person.id);
    expect(row!.ended_at).toBeInstanceOf(Date);

    expect((await call('DELETE', `${ADMIN}/${id}`, admin.token)).statusCode).toBe(204);
    const { platform, tenant: tenantTrail, events } = await trails(id, tenant.id);
    expect(platform.map((entry) => [entry.action, entry.actor_id])).toEqual([
      ['impersonation.started', admin.person.id],
      ['impersonation.ended', otherAdmin.person.id],
    ]);
    expect(tenantTrail.map((entry) => [entry.action, entry.actor_type, entry.actor_id, entry.target_id])).toEqual([
      ['impersonation.started', 'platform_admin', admin.person.id, person.id],
      ['impersonation.ended', 'platform_admin', otherAdmin.person.id, person.id],
    ]);
    expect(events.map((event) => event.type)).toEqual(['impersonation.started', 'impersonation.ended']);
  });

  it('answers 404 impersonation.not_found for an unknown id, 400 for a malformed one', async () => {
    const unknown = await call('DELETE', `${ADMIN}/${uuidv7()}`, admin.token);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('impersonation.not_found');
    expect((await call('DELETE', `${ADMIN}/nope`, admin.token)).statusCode).toBe(400);
  });
});

describe('who may call the impersonation routes', () => {
  it('platform administrators only; operators may list; tenant people and anonymous callers are refused', async () => {
    const { tenant, token: ownerToken } = await signedInOwner(t.app);
    const member = await signedInMember(t.app, tenant.id, 'admin');
    const operator = await signedInPlatformAdmin(t.app, 'platform_operator');
    const { id } = await impersonatedOwner();
    const body = { tenantId: tenant.id, userId: member.person.id, reason: REASON };
    for (const token of [operator.token, ownerToken, member.token]) {
      for (const [method, url, payload] of [['POST', ADMIN, body], ['DELETE', `${ADMIN}/${id}`]] as const) {
        const response = await call(method, url, token, payload);
        expect(response.statusCode, `${method} ${url}`).toBe(403);
        expect(response.json().code).toBe('auth.forbidden');
      }
    }
    expect((await call('GET', ADMIN, ownerToken)).statusCode).toBe(403);
    expect((await call('GET', ADMIN, operator.token)).statusCode).toBe(200);
    expect((await call('GET', ADMIN)).statusCode).toBe(401);
    // An administrator may: the member can be impersonated, and the refusals above recorded nothing.
    expect((await start(body)).statusCode).toBe(201);
    expect(await sql('SELECT ended_at FROM impersonations WHERE id = $1', [id])).toEqual([{ ended_at: null }]);
  });
});

describe('GET /admin/impersonations', () => {
  it('lists newest first with filters and keyset pages; active=true keeps only the running ones', async () => {
    const { person, tenant } = await signedInOwner(t.app);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await start({ tenantId: tenant.id, userId: person.id, reason: `${REASON} (${i})` })).json().impersonation.id);
    await call('DELETE', `${ADMIN}/${ids[0]}`, admin.token);
    await sql(`UPDATE sessions SET idle_expires_at = now(), expires_at = now() WHERE id = (SELECT session_id FROM impersonations WHERE id = $1)`, [ids[1]]);
    await sql(`UPDATE impersonations SET expires_at = now() WHERE id = $1`, [ids[1]]);

    const first = await call('GET', `${ADMIN}?tenantId=${tenant.id}&limit=2`, admin.token);
    expect(first.statusCode).toBe(200);
    const page = first.json<{ data: Array<{ id: string; active: boolean; endedAt: string | null; endedBy: string | null }>; nextCursor: string }>();
    expect(page.data.map((item) => item.id)).toEqual([ids[2], ids[1]]);
    const second = (await call('GET', `${ADMIN}?tenantId=${tenant.id}&limit=2&cursor=${page.nextCursor}`, admin.token)).json();
    expect(second).toMatchObject({ data: [{ id: ids[0], active: false, endedBy: admin.person.id }], nextCursor: null });
    expect(second.data[0].endedAt).not.toBeNull();

    const active = (await call('GET', `${ADMIN}?tenantId=${tenant.id}&active=true`, admin.token)).json();
    expect(active.data.map((item: { id: string }) => item.id)).toEqual([ids[2]]);
    const over = (await call('GET', `${ADMIN}?tenantId=${tenant.id}&active=false`, admin.token)).json();
    expect(over.data.map((item: { id: string }) => item.id)).toEqual([ids[1], ids[0]]);
    expect(over.data[0]).toMatchObject({ endedAt: null, active: false });
    expect((await call('GET', `${ADMIN}?userId=${person.id}&adminId=${admin.person.id}`, admin.token)).json().data).toHaveLength(3);
    expect((await call('GET', `${ADMIN}?cursor=garbage`, admin.token)).statusCode).toBe(400);
  });
});

describe('access token act claim', () => {
  it('refuses a token whose act is not an object naming a subject', async () => {
    const { person, tenant } = await signedInOwner(t.app);
    const { sid } = decodeJwt((await signInAs(t.app, person, tenant.id)).accessToken) as { sid: string };
    await expect(t.app.accessTokens.issue({ userId: person.id, sessionId: sid, extra: { act: 'x' } })).rejects.toThrow(TypeError);
    const { kid, privateKey } = t.app.keyRing.activeKey();
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ sid, typ: 'access', act: 'admin' })
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
      .setIssuer(t.config.auth.issuer)
      .setAudience(t.config.auth.audience)
      .setSubject(person.id)
      .setJti(uuidv7())
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(privateKey);
    await expect(t.app.accessTokens.verify(token)).rejects.toMatchObject({ reason: 'invalid act' });
  });
});
