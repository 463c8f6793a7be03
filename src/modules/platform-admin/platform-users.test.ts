/**
 * `/api/v1/admin/platform-users` over HTTP: listing the staff, granting a role (by email or id, 201),
 * changing it (200), Idempotency-Key replay, revoking it (204) — each taking effect on the person's
 * existing token at their next request and written to the platform audit trail with the acting
 * administrator — the self and last-administrator protections (also under concurrency), impersonations
 * ended with the role, operators reading but not writing, tenant owners refused, and the security matrix.
 */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createPerson, signedInOwner, signedInPlatformAdmin, signInAs, type Person } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { baseCases, platformCases, securityMatrix, sessionCases } from '../../../test/security-matrix.js';
import { uuidv7 } from '../../core/db/ids.js';

const STAFF = '/api/v1/admin/platform-users';

let t: TestApp;
let admin: { person: Person; token: string };
let operator: { person: Person; token: string };

beforeAll(async () => {
  t = await createTestApp();
  admin = await signedInPlatformAdmin(t.app);
  operator = await signedInPlatformAdmin(t.app, 'platform_operator');
});
afterAll(() => t?.close());

const call = (app: TestApp, method: InjectOptions['method'], url: string, token: string, payload?: unknown, headers: Record<string, string> = {}) =>
  app.app.inject({ method, url, headers: { ...bearer(token), ...headers }, payload: payload as InjectOptions['payload'] });

const roleOf = async (userId: string) => (await t.admin.query<{ platform_role: string | null }>(`SELECT platform_role FROM users WHERE id = $1`, [userId]))[0]!.platform_role;

const auditOf = (targetId: string) =>
  t.admin.query<{ actor_id: string; action: string; details: Record<string, unknown> }>(
    `SELECT actor_id, action, details FROM platform_audit_events WHERE target_type = 'user' AND target_id = $1 ORDER BY occurred_at, id`,
    [targetId],
  );

describe('GET /admin/platform-users', () => {
  it('lists the holders of a platform role only, to administrators and operators', async () => {
    const plain = await createPerson(t.app);
    for (const token of [admin.token, operator.token]) {
      const response = await call(t, 'GET', STAFF, token);
      expect(response.statusCode).toBe(200);
      const { data, nextCursor } = response.json() as { data: Array<{ id: string; platformRole: string }>; nextCursor: string | null };
      expect(data).toContainEqual({
        id: admin.person.id,
        email: admin.person.email,
        name: admin.person.name,
        status: 'active',
        platformRole: 'platform_admin',
        createdAt: expect.any(String),
      });
      expect(data.find((user) => user.id === operator.person.id)?.platformRole).toBe('platform_operator');
      expect(data.some((user) => user.id === plain.id)).toBe(false);
      expect(nextCursor).toBeNull();
    }
    const paged = await call(t, 'GET', `${STAFF}?limit=1`, admin.token);
    const second = await call(t, 'GET', `${STAFF}?limit=1&cursor=${paged.json().nextCursor}`, admin.token);
    expect(second.json().data[0].id).not.toBe(paged.json().data[0].id);
  });
});

describe('POST and DELETE /admin/platform-users', () => {
  it('grants by email (201), changes by id (200), revokes (204) — each effective on the next request', async () => {
    const person = await createPerson(t.app, { email: `Staff-${uuidv7().slice(-8)}@Example.test` });
    const token = (await signInAs(t.app, person)).accessToken;
    expect((await call(t, 'GET', '/api/v1/admin/stats', token)).statusCode).toBe(403);

    const granted = await call(t, 'POST', STAFF, admin.token, { email: person.email.toLowerCase(), role: 'platform_operator' });
    expect(granted.statusCode, granted.body).toBe(201);
    expect(granted.json()).toMatchObject({ id: person.id, email: person.email, platformRole: 'platform_operator' });
    expect(await roleOf(person.id)).toBe('platform_operator');
    expect((await call(t, 'GET', '/api/v1/admin/stats', token)).statusCode).toBe(200);
    expect((await call(t, 'POST', STAFF, token, { userId: admin.person.id, role: 'platform_operator' })).statusCode).toBe(403);

    const changed = await call(t, 'POST', STAFF, admin.token, { userId: person.id, role: 'platform_admin' });
    expect(changed.statusCode).toBe(200);
    expect(changed.json().platformRole).toBe('platform_admin');
    const same = await call(t, 'POST', STAFF, admin.token, { userId: person.id, role: 'platform_admin' });
    expect(same.statusCode).toBe(200);

    const revoked = await call(t, 'DELETE', `${STAFF}/${person.id}`, admin.token);
    expect(revoked.statusCode).toBe(204);
    expect(revoked.body).toBe('');
    expect(await roleOf(person.id)).toBeNull();
    expect((await call(t, 'GET', '/api/v1/admin/stats', token)).statusCode).toBe(403);
    const again = await call(t, 'DELETE', `${STAFF}/${person.id}`, admin.token);
    expect(again.statusCode).toBe(404);
    expect(again.json().code).toBe('platform.user_not_found');

    expect((await auditOf(person.id)).map((row) => [row.action, row.actor_id, row.details])).toEqual([
      ['platform.role_granted', admin.person.id, { role: 'platform_operator', previousRole: null }],
      ['platform.role_granted', admin.person.id, { role: 'platform_admin', previousRole: 'platform_operator' }],
      ['platform.role_revoked', admin.person.id, { previousRole: 'platform_admin' }],
    ]);
  });

  it('replays a grant sent again with the same Idempotency-Key', async () => {
    const person = await createPerson(t.app);
    const headers = { 'idempotency-key': `grant-${person.id}` };
    const first = await call(t, 'POST', STAFF, admin.token, { userId: person.id, role: 'platform_operator' }, headers);
    const second = await call(t, 'POST', STAFF, admin.token, { userId: person.id, role: 'platform_operator' }, headers);
    expect(first.statusCode).toBe(201);
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.json()).toEqual(first.json());
    expect(await auditOf(person.id)).toHaveLength(1);
  });

  it('refuses unknown people and a body naming nobody or both', async () => {
    const unknown = await call(t, 'POST', STAFF, admin.token, { email: 'nobody-here@example.test', role: 'platform_admin' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('platform.user_not_found');
    expect((await call(t, 'POST', STAFF, admin.token, { userId: uuidv7(), role: 'platform_admin' })).json().code).toBe('platform.user_not_found');
    const person = await createPerson(t.app);
    const both = await call(t, 'POST', STAFF, admin.token, { email: person.email, userId: person.id, role: 'platform_admin' });
    expect(both.statusCode).toBe(400);
    expect(both.json().errors.map((error: { field: string }) => error.field)).toEqual(['/email', '/userId']);
    expect((await call(t, 'POST', STAFF, admin.token, { role: 'platform_admin' })).statusCode).toBe(400);
    expect((await call(t, 'POST', STAFF, admin.token, { userId: person.id, role: 'owner' })).statusCode).toBe(400);
    expect((await call(t, 'DELETE', `${STAFF}/${person.id}`, admin.token)).json().code).toBe('platform.user_not_found');
    expect(await roleOf(person.id)).toBeNull();
  });

  it('refuses changing your own platform role', async () => {
    await signedInPlatformAdmin(t.app); // another active administrator: the refusal is about "self"
    for (const role of ['platform_operator', 'platform_admin']) {
      const response = await call(t, 'POST', STAFF, admin.token, { userId: admin.person.id, role });
      expect(response.statusCode).toBe(409);
      expect(response.json().code).toBe('platform.self_protected');
    }
    const revoke = await call(t, 'DELETE', `${STAFF}/${admin.person.id}`, admin.token);
    expect(revoke.json().code).toBe('platform.self_protected');
    expect(await roleOf(admin.person.id)).toBe('platform_admin');
  });

  it('ends the impersonations of an administrator demoted to operator', async () => {
    const other = await signedInPlatformAdmin(t.app);
    const { person, tenant } = await signedInOwner(t.app);
    const impersonation = await signInAs(t.app, person, tenant.id);
    const sid = (await t.app.accessTokens.verify(impersonation.accessToken)).sid;
    await t.admin.query(`UPDATE sessions SET impersonator_id = $1 WHERE id = $2`, [other.person.id, sid]);

    expect((await call(t, 'POST', STAFF, admin.token, { userId: other.person.id, role: 'platform_operator' })).statusCode).toBe(200);
    const [session] = await t.admin.query<{ revoked_reason: string | null }>(`SELECT revoked_reason FROM sessions WHERE id = $1`, [sid]);
    expect(session!.revoked_reason).toBe('platform_role_revoked');
    // Their own session lives on, as an operator.
    expect((await call(t, 'GET', STAFF, other.token)).statusCode).toBe(200);
  });

  it('is read-only for operators and closed to tenant owners', async () => {
    const person = await createPerson(t.app);
    const owner = await signedInOwner(t.app);
    for (const token of [operator.token, owner.token]) {
      const grant = await call(t, 'POST', STAFF, token, { userId: person.id, role: 'platform_admin' });
      expect(grant.statusCode).toBe(403);
      expect(grant.json().code).toBe('auth.forbidden');
      expect((await call(t, 'DELETE', `${STAFF}/${operator.person.id}`, token)).statusCode).toBe(403);
    }
    expect((await call(t, 'GET', STAFF, owner.token)).statusCode).toBe(403);
    expect(await roleOf(person.id)).toBeNull();
    expect(await roleOf(operator.person.id)).toBe('platform_operator');
  });
});

describe('the last active platform administrator', () => {
  let lone: TestApp;
  beforeAll(async () => {
    lone = await createTestApp();
  });
  afterAll(() => lone?.close());

  const activeAdmins = async () =>
    Number((await lone.admin.query<{ count: string }>(`SELECT count(*) AS count FROM users WHERE platform_role = 'platform_admin' AND status = 'active'`))[0]!.count);

  it('is never revoked or demoted; a disabled administrator can be', async () => {
    const only = await signedInPlatformAdmin(lone.app);
    const dormant = await createPerson(lone.app, { platformRole: 'platform_admin', status: 'disabled' });
    const revoke = await call(lone, 'DELETE', `${STAFF}/${only.person.id}`, only.token);
    expect(revoke.statusCode).toBe(409);
    expect(revoke.json().code).toBe('platform.last_admin');
    const demote = await call(lone, 'POST', STAFF, only.token, { userId: only.person.id, role: 'platform_operator' });
    expect(demote.json().code).toBe('platform.last_admin');
    expect(await activeAdmins()).toBe(1);
    expect((await call(lone, 'DELETE', `${STAFF}/${dormant.id}`, only.token)).statusCode).toBe(204);
  });

  it('survives two administrators revoking each other at the same time', async () => {
    const second = await signedInPlatformAdmin(lone.app);
    const [first] = await lone.admin.query<{ id: string }>(`SELECT id FROM users WHERE platform_role = 'platform_admin' AND id <> $1`, [second.person.id]);
    const firstToken = (await signInAs(lone.app, { id: first!.id })).accessToken;
    expect(await activeAdmins()).toBe(2);

    const outcomes = await Promise.all([
      call(lone, 'DELETE', `${STAFF}/${second.person.id}`, firstToken),
      call(lone, 'DELETE', `${STAFF}/${first!.id}`, second.token),
    ]);
    const statuses = outcomes.map((response) => response.statusCode).sort();
    expect(statuses[0]).toBe(204);
    // The loser either met the lock and the rule (409), or arrived after and no longer held the role (403).
    expect([403, 409]).toContain(statuses[1]);
    expect(await activeAdmins()).toBe(1);
  });
});

describe('security matrix', () => {
  const getApp = () => t.app;
  const context = () => ({ app: t.app, admin: t.admin });
  const writes = [...baseCases, ...sessionCases(getApp), ...platformCases(getApp, { writes: true })];
  securityMatrix(context, { method: 'GET', url: STAFF }, [...baseCases, ...sessionCases(getApp), ...platformCases(getApp)]);
  securityMatrix(context, { method: 'POST', url: STAFF, payload: { userId: uuidv7(), role: 'platform_admin' } }, writes);
  securityMatrix(context, { method: 'DELETE', url: `${STAFF}/${uuidv7()}` }, writes);
});
