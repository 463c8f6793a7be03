/**
 * /api/v1/users/me: the signed-in person's view (served from what authentication read: one statement),
 * profile changes, their tenants, deleting the account; the security matrix of each route.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addMembership, bearer, createPerson, createTenantFor, signInAs, TEST_PASSWORD } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { baseCases, securityMatrix, sessionCases } from '../../../test/security-matrix.js';
import { signIn } from '../identity/sign-in.js';
import { TENANT_PURGE_QUEUE } from './tenant-closure.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

type Method = 'GET' | 'PATCH' | 'PUT' | 'DELETE';
const call = (method: Method, url: string, token: string, payload?: unknown) =>
  t.app.inject({ method, url: `/api/v1/users${url}`, headers: bearer(token), ...(payload === undefined ? {} : { payload: payload as object }) });
const me = (token: string) => call('GET', '/me', token);

async function ownerWithTenant(options: { name?: string } = {}) {
  const person = await createPerson(t.app, options);
  const tenant = await createTenantFor(t.app, person);
  const login = await signInAs(t.app, person, tenant.id);
  return { person, tenant, token: login.accessToken };
}

const auditActions = async (tenantId: string, targetId: string) =>
  (await t.admin.query<{ action: string }>('SELECT action FROM audit_events WHERE tenant_id = $1 AND target_id = $2 ORDER BY occurred_at, id', [tenantId, targetId])).map((row) => row.action);

describe('GET /users/me', () => {
  it('answers the person with their profile, tenant, membership, roles and MFA state, and nothing else', async () => {
    const { person, tenant, token } = await ownerWithTenant({ name: 'Ada Lovelace' });
    await t.admin.query(`UPDATE memberships SET title = 'Founder' WHERE tenant_id = $1`, [tenant.id]);

    const response = await me(token);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      user: {
        id: person.id,
        email: person.email,
        name: 'Ada Lovelace',
        emailVerified: true,
        mfaEnabled: false,
        platformRole: null,
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
        locale: null,
        timezone: null,
        phone: null,
      },
      tenant: { id: tenant.id, name: tenant.name, slug: tenant.slug, status: 'active' },
      membership: { role: 'owner', status: 'active', title: 'Founder' },
      roles: ['owner'],
      mfa: { enabled: false, required: false, verifiedThisSession: false },
    });
    // No password hash, TOTP secret or other column leaks through.
    expect(response.body).not.toMatch(/argon2|passwordHash|totpSecret/i);
  });

  it('follows the token’s tenant: a member elsewhere sees that tenant and role', async () => {
    const { tenant: shop } = await ownerWithTenant();
    const person = await createPerson(t.app, { verified: false });
    await createTenantFor(t.app, person);
    await addMembership(t.app, shop.id, person, 'admin');
    const login = await signInAs(t.app, person, shop.id);
    const body = (await me(login.accessToken)).json();
    expect(body).toMatchObject({ user: { id: person.id, emailVerified: false }, tenant: { id: shop.id }, membership: { role: 'admin', status: 'active' }, roles: ['admin'] });
  });

  it('a person acting in no tenant: tenant and membership are null, no roles', async () => {
    const person = await createPerson(t.app, { platformRole: 'platform_admin' });
    const login = await signInAs(t.app, person);
    const response = await me(login.accessToken);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ user: { id: person.id, platformRole: 'platform_admin' }, tenant: null, membership: null, roles: [], mfa: { required: false } });
  });

  it('a deactivated member still sees themselves, without the tenant they lost', async () => {
    const { tenant } = await ownerWithTenant();
    const person = await createPerson(t.app);
    await addMembership(t.app, tenant.id, person, 'member');
    const login = await signInAs(t.app, person, tenant.id);
    await t.admin.query(`UPDATE memberships SET status = 'deactivated' WHERE tenant_id = $1 AND user_id = $2`, [tenant.id, person.id]);
    const response = await me(login.accessToken);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ user: { id: person.id }, tenant: null, membership: null, roles: [] });
  });

  it('reports the MFA state: enabled, required by the tenant, and whether this session presented it', async () => {
    const { person, tenant } = await ownerWithTenant();
    await t.admin.query(`UPDATE users SET totp_enabled_at = now() WHERE id = $1`, [person.id]);
    await t.admin.query(`UPDATE tenants SET settings = '{"security":{"mfaRequired":true}}' WHERE id = $1`, [tenant.id]);
    const verified = await t.platform.db.transaction({ userId: person.id }, (tx) =>
      signIn(tx, t.app.identity, { userId: person.id, tenantId: tenant.id, mfaVerified: true, ip: '127.0.0.1', userAgent: 'vitest' }),
    );
    expect((await me(verified.accessToken)).json().mfa).toEqual({ enabled: true, required: true, verifiedThisSession: true });
    const unverified = await signInAs(t.app, person, tenant.id);
    expect((await me(unverified.accessToken)).json().mfa).toEqual({ enabled: true, required: true, verifiedThisSession: false });
  });

  it('costs one statement: the authentication read, scoped to the token’s session, person and tenant', async () => {
    const { person, tenant, token } = await ownerWithTenant();
    const transaction = vi.spyOn(t.platform.db, 'transaction');
    const statement = vi.spyOn(t.platform.db.executor, 'executeSql');
    try {
      expect((await me(token)).statusCode).toBe(200);
      expect(transaction).not.toHaveBeenCalled();
      expect(statement).toHaveBeenCalledTimes(1);
      expect(statement.mock.calls[0]![0]).toMatch(/session_actor/);
      expect(statement.mock.calls[0]![1]).toEqual([expect.any(String), person.id, tenant.id, null]);
    } finally {
      transaction.mockRestore();
      statement.mockRestore();
    }
  });
});

describe('PATCH /users/me (and PUT)', () => {
  it('changes the profile, canonicalises the locale, answers the new view and audits it in the tenant', async () => {
    const { person, tenant, token } = await ownerWithTenant({ name: 'Old Name' });
    const response = await call('PATCH', '/me', token, { name: '  Grace Hopper ', locale: 'en-gb', timezone: 'Africa/Nairobi', phone: '+254712345678' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      user: { id: person.id, name: 'Grace Hopper', locale: 'en-GB', timezone: 'Africa/Nairobi', phone: '+254712345678' },
      tenant: { id: tenant.id },
      roles: ['owner'],
    });
    // Stored: a fresh read (through authentication) sees it.
    expect((await me(token)).json().user).toMatchObject({ name: 'Grace Hopper', locale: 'en-GB', timezone: 'Africa/Nairobi', phone: '+254712345678' });
    const [row] = await t.admin.query<{ before: unknown; after: unknown }>(
      `SELECT before, after FROM audit_events WHERE tenant_id = $1 AND action = 'user.profile_updated' AND target_id = $2`,
      [tenant.id, person.id],
    );
    expect(row).toMatchObject({ before: { name: 'Old Name', locale: null }, after: { name: 'Grace Hopper', locale: 'en-GB' } });
  });

  it('null clears a field; omitted fields stay; PUT takes the same body', async () => {
    const { token } = await ownerWithTenant();
    await call('PATCH', '/me', token, { locale: 'fr', timezone: 'UTC', phone: '+14155550123' });
    const put = await call('PUT', '/me', token, { phone: null, timezone: 'Europe/Berlin' });
    expect(put.statusCode).toBe(200);
    expect(put.json().user).toMatchObject({ locale: 'fr', timezone: 'Europe/Berlin', phone: null });
    expect((await me(token)).json().user).toMatchObject({ locale: 'fr', timezone: 'Europe/Berlin', phone: null });
  });

  it('a person acting in no tenant can change their profile (nothing to audit in a tenant)', async () => {
    const person = await createPerson(t.app);
    const login = await signInAs(t.app, person);
    const response = await call('PATCH', '/me', login.accessToken, { name: 'No Tenant' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ user: { name: 'No Tenant' }, tenant: null });
  });

  it.each([
    [{ timezone: 'Mars/Olympus_Mons' }, '/timezone'],
    [{ locale: 'not a locale' }, '/locale'],
    [{ locale: 'xx-123456789' }, '/locale'],
    [{ phone: '0712345678' }, '/phone'],
    [{ phone: '+0712345678' }, '/phone'],
    [{ name: '   ' }, '/name'],
    [{ name: '' }, '/name'],
    [{ email: 'other@example.test' }, '/email'],
  ])('refuses %j with 400 naming %s, changing nothing', async (payload, field) => {
    const { person, token } = await ownerWithTenant({ name: 'Unchanged' });
    const response = await call('PATCH', '/me', token, payload);
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('request.validation_failed');
    expect(JSON.stringify(response.json().errors)).toContain(field === '/email' ? 'email' : field);
    const [row] = await t.admin.query<{ name: string; timezone: string | null; locale: string | null; phone: string | null }>('SELECT * FROM users WHERE id = $1', [person.id]);
    expect(row).toMatchObject({ name: 'Unchanged', timezone: null, locale: null, phone: null });
  });
});

describe('GET /users/me/tenants', () => {
  it('lists every membership of the person with tenant name, role and status, the current one flagged', async () => {
    const person = await createPerson(t.app);
    const own = await createTenantFor(t.app, person, { name: 'Alpha own' });
    const { tenant: adminAt } = await ownerWithTenant();
    const { tenant: deactivatedAt } = await ownerWithTenant();
    const { tenant: suspended } = await ownerWithTenant();
    const { tenant: unrelated } = await ownerWithTenant();
    await addMembership(t.app, adminAt.id, person, 'admin');
    await addMembership(t.app, deactivatedAt.id, person, 'member', 'deactivated');
    await addMembership(t.app, suspended.id, person, 'member');
    await t.admin.query(`UPDATE tenants SET status = 'suspended' WHERE id = $1`, [suspended.id]);
    const login = await signInAs(t.app, person, adminAt.id);

    const response = await call('GET', '/me/tenants', login.accessToken);
    expect(response.statusCode).toBe(200);
    const body = response.json<{ data: Array<Record<string, unknown>>; nextCursor: string | null }>();
    expect(body.nextCursor).toBeNull();
    const byId = new Map(body.data.map((row) => [row.tenantId, row]));
    expect(body.data).toHaveLength(4);
    expect(byId.has(unrelated.id)).toBe(false);
    expect(byId.get(own.id)).toEqual({ tenantId: own.id, tenantName: 'Alpha own', tenantSlug: own.slug, role: 'owner', status: 'active', tenantStatus: 'active', current: false });
    expect(byId.get(adminAt.id)).toMatchObject({ role: 'admin', status: 'active', tenantStatus: 'active', current: true });
    expect(byId.get(deactivatedAt.id)).toMatchObject({ role: 'member', status: 'deactivated', current: false });
    expect(byId.get(suspended.id)).toMatchObject({ tenantStatus: 'suspended', current: false });
    // By tenant name.
    const names = body.data.map((row) => String(row.tenantName).toLowerCase());
    expect(names).toEqual([...names].sort());
  });

  it('pages with limit and cursor without skipping or repeating', async () => {
    const person = await createPerson(t.app);
    const ids: string[] = [];
    for (const name of ['b shop', 'A shop', 'c shop', 'a shop', 'B shop']) ids.push((await createTenantFor(t.app, person, { name })).id);
    const login = await signInAs(t.app, person);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const page = (await call('GET', `/me/tenants${query}`, login.accessToken)).json<{ data: Array<{ tenantId: string }>; nextCursor: string | null }>();
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((row) => row.tenantId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect(new Set(seen)).toEqual(new Set(ids));
    expect((await call('GET', '/me/tenants?cursor=bogus', login.accessToken)).json().code).toBe('request.validation_failed');
  });
});

describe('DELETE /users/me', () => {
  it('refuses a wrong password and changes nothing', async () => {
    const { person, token } = await ownerWithTenant();
    const response = await call('DELETE', '/me', token, { password: 'Not-the-password-42' });
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('auth.invalid_credentials');
    expect(await t.admin.query('SELECT id FROM users WHERE id = $1', [person.id])).toHaveLength(1);
  });

  it('refuses the sole owner of a tenant with other members (even deactivated ones), naming it', async () => {
    const { person, tenant, token } = await ownerWithTenant();
    const other = await createPerson(t.app);
    await addMembership(t.app, tenant.id, other, 'member', 'deactivated');
    const response = await call('DELETE', '/me', token, { password: TEST_PASSWORD });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ code: 'member.sole_owner', tenants: [{ id: tenant.id, name: tenant.name, slug: tenant.slug }] });
    expect(await t.admin.query('SELECT id FROM users WHERE id = $1', [person.id])).toHaveLength(1);
    expect(await t.admin.query(`SELECT status FROM tenants WHERE id = $1`, [tenant.id])).toEqual([{ status: 'active' }]);
    expect(await auditActions(tenant.id, person.id)).toEqual([]);
  });

  it('deletes the person, closes the tenant they owned alone, leaves their other tenants, and ends their sessions', async () => {
    const { person, tenant: alone, token } = await ownerWithTenant();
    const { tenant: shop, token: shopOwnerToken } = await ownerWithTenant();
    await addMembership(t.app, shop.id, person, 'admin');
    await t.admin.query(`INSERT INTO stores (tenant_id, id, name, code) VALUES ($1, gen_random_uuid(), 'Main', 'MAIN')`, [shop.id]);
    await t.admin.query(`INSERT INTO store_members (tenant_id, store_id, user_id) SELECT tenant_id, id, $2 FROM stores WHERE tenant_id = $1`, [shop.id, person.id]);
    const otherSession = await signInAs(t.app, person, shop.id);

    const response = await call('DELETE', '/me', token, { password: TEST_PASSWORD });
    expect(response.statusCode).toBe(204);

    expect(await t.admin.query('SELECT id FROM users WHERE id = $1', [person.id])).toEqual([]);
    expect(await t.admin.query('SELECT user_id FROM memberships WHERE user_id = $1', [person.id])).toEqual([]);
    expect(await t.admin.query('SELECT user_id FROM store_members WHERE user_id = $1', [person.id])).toEqual([]);
    expect(await t.admin.query('SELECT id FROM sessions WHERE user_id = $1', [person.id])).toEqual([]);
    const [closed] = await t.admin.query<{ status: string; closed_at: Date | null }>('SELECT status, closed_at FROM tenants WHERE id = $1', [alone.id]);
    expect(closed).toMatchObject({ status: 'closed', closed_at: expect.any(Date) });
    // Closed as its owner would close it: the purge is scheduled for the end of the restore window.
    const [purge] = await t.admin.query<{ start_after: Date }>(`SELECT start_after FROM pgboss.job WHERE name = $1 AND data->>'tenantId' = $2`, [TENANT_PURGE_QUEUE, alone.id]);
    expect(purge!.start_after.getTime() - closed!.closed_at!.getTime()).toBeCloseTo(t.config.tenants.restoreDays * 86_400_000, -4);
    expect(await t.admin.query(`SELECT 1 FROM pgboss.job WHERE name = $1 AND data->>'tenantId' = $2`, [TENANT_PURGE_QUEUE, shop.id])).toEqual([]);
    expect(await t.admin.query(`SELECT status FROM tenants WHERE id = $1`, [shop.id])).toEqual([{ status: 'active' }]);

    // Each tenant has its record of it, in the same transaction as the change.
    expect(await auditActions(shop.id, person.id)).toEqual(['member.removed']);
    expect(await auditActions(alone.id, person.id)).toEqual(['member.removed']);
    expect(await auditActions(alone.id, alone.id)).toEqual(['tenant.closed']);
    const events = await t.admin.query<{ tenant_id: string; type: string }>(
      `SELECT tenant_id, type FROM outbox_events WHERE payload->>'userId' = $1 OR (tenant_id = $2 AND type = 'tenant.closed') ORDER BY tenant_id, type`,
      [person.id, alone.id],
    );
    expect(events).toEqual(
      expect.arrayContaining([
        { tenant_id: shop.id, type: 'member.removed' },
        { tenant_id: alone.id, type: 'member.removed' },
        { tenant_id: alone.id, type: 'tenant.closed' },
      ]),
    );

    expect((await me(token)).statusCode).toBe(401);
    expect((await me(otherSession.accessToken)).statusCode).toBe(401);
    // The other tenant goes on, without them.
    const members = (await t.app.inject({ url: '/api/v1/users', headers: bearer(shopOwnerToken) })).json<{ data: Array<{ id: string }> }>();
    expect(members.data.map((member) => member.id)).not.toContain(person.id);
  });
});

describe('security matrix', () => {
  let victimTenantId: string;
  beforeAll(async () => {
    victimTenantId = (await ownerWithTenant()).tenant.id;
  });
  const context = () => ({ app: t.app, admin: t.admin, victimTenantId });
  const cases = [...baseCases, ...sessionCases(() => t.app)];

  securityMatrix(context, { method: 'GET', url: '/api/v1/users/me' }, cases);
  securityMatrix(context, { method: 'PATCH', url: '/api/v1/users/me', payload: { name: 'Intruder' } }, cases);
  securityMatrix(context, { method: 'PUT', url: '/api/v1/users/me', payload: { name: 'Intruder' } }, cases);
  securityMatrix(context, { method: 'GET', url: '/api/v1/users/me/tenants' }, cases);
  securityMatrix(context, { method: 'DELETE', url: '/api/v1/users/me', payload: { password: TEST_PASSWORD } }, cases);
});
