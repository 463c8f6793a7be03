/**
 * The tenant itself over HTTP: reading and renaming it (slug rules and uniqueness), creating another
 * tenant (slug derivation, switching into it, Idempotency-Key replay, the per-person limit), handing the
 * ownership over (password, target rules, exactly one owner even under concurrency) and leaving it —
 * each change's audit row and event checked to share the change's transaction — and the security matrix
 * of every route here (settings and closure have their own files).
 */
import { randomBytes } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMembership, bearer, createPerson, createTenantFor, type Person, signedInOwner, signInAs, TEST_PASSWORD } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { baseCases, securityMatrix, sessionCases, tenantCases, tenantDigest } from '../../../test/security-matrix.js';
import { uuidv7 } from '../../core/db/ids.js';
import type { MembershipRole } from '../../core/tenancy/tenancy.table.js';
import { TENANT_CREATIONS_PER_HOUR } from './tenants.routes.js';

const TENANTS = '/api/v1/tenants';

let t: TestApp;
let victimTenantId: string;

beforeAll(async () => {
  t = await createTestApp({ AUTH_MAX_FAILED_ATTEMPTS_PER_IP: '100000' });
  victimTenantId = (await createTenantFor(t.app, await createPerson(t.app))).id;
});
afterAll(() => t?.close());

/** Each request from its own address: with REDIS_URL, counters are shared with other test files. */
const randomIp = () => `10.${[...randomBytes(3)].join('.')}`;

const call = (method: InjectOptions['method'], url: string, token: string | null, payload?: unknown, headers: Record<string, string> = {}) =>
  t.app.inject({ method, url, remoteAddress: randomIp(), headers: { ...(token ? bearer(token) : {}), ...headers }, payload: payload as InjectOptions['payload'] });

interface Signed {
  person: Person;
  token: string;
}

/** An owner of a fresh tenant, signed in there. */
const owner = (name?: string) => signedInOwner(t.app, { name });

/** Someone with `role` in `tenantId`, signed in there. */
async function memberOf(tenantId: string, role: MembershipRole = 'member', status: 'active' | 'deactivated' = 'active'): Promise<Signed> {
  const person = await createPerson(t.app);
  await addMembership(t.app, tenantId, person, role, status);
  const token = status === 'active' ? (await signInAs(t.app, person, tenantId)).accessToken : '';
  return { person, token };
}

type Row = Record<string, unknown>;
const tenantRow = async (id: string) => (await t.admin.query<Row>('SELECT *, xmin::text AS xid FROM tenants WHERE id = $1', [id]))[0];
const auditRows = (tenantId: string, action: string) =>
  t.admin.query<Row>('SELECT *, xmin::text AS xid FROM audit_events WHERE tenant_id = $1 AND action = $2 ORDER BY occurred_at', [tenantId, action]);
const eventRows = (tenantId: string, type: string) =>
  t.admin.query<Row>('SELECT *, xmin::text AS xid FROM outbox_events WHERE tenant_id = $1 AND type = $2 ORDER BY created_at', [tenantId, type]);
const membershipsOf = (tenantId: string) =>
  t.admin.query<{ user_id: string; role: string; status: string; xid: string }>('SELECT user_id, role, status, xmin::text AS xid FROM memberships WHERE tenant_id = $1', [tenantId]);

describe('GET /tenants/current', () => {
  it('answers the token’s tenant, exactly the documented fields, to every role', async () => {
    const { tenant, token } = await owner('Blue Harbour');
    const member = await memberOf(tenant.id, 'member');
    for (const caller of [token, member.token]) {
      const response = await call('GET', `${TENANTS}/current`, caller);
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(Object.keys(body).sort()).toEqual(['createdAt', 'id', 'name', 'slug', 'status', 'updatedAt']);
      expect(body).toMatchObject({ id: tenant.id, name: 'Blue Harbour', slug: tenant.slug, status: 'active' });
      expect(new Date(body.createdAt).toISOString()).toBe(body.createdAt);
    }
  });

  it('follows the token: one person in two tenants sees each in turn', async () => {
    const first = await owner('First Co');
    const second = await createTenantFor(t.app, first.person, { name: 'Second Co', role: 'member' });
    const inSecond = (await signInAs(t.app, first.person, second.id)).accessToken;
    expect((await call('GET', `${TENANTS}/current`, first.token)).json().name).toBe('First Co');
    expect((await call('GET', `${TENANTS}/current`, inSecond)).json().name).toBe('Second Co');
  });
});

describe('PATCH /tenants/current', () => {
  it('renames the tenant and changes its slug; the audit row and event carry before/after and commit with the change', async () => {
    const { person, tenant, token } = await owner('Old Name');
    const slug = `new-slug-${randomBytes(3).toString('hex')}`;
    const response = await call('PATCH', `${TENANTS}/current`, token, { name: '  New Name  ', slug }, { 'user-agent': 'tenant-test' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ id: tenant.id, name: 'New Name', slug });

    const row = (await tenantRow(tenant.id))!;
    expect(row).toMatchObject({ name: 'New Name', slug });
    const [auditRow] = await auditRows(tenant.id, 'tenant.updated');
    expect(auditRow).toMatchObject({
      actor_type: 'user',
      actor_id: person.id,
      target_type: 'tenant',
      target_id: tenant.id,
      before: { name: 'Old Name', slug: tenant.slug },
      after: { name: 'New Name', slug },
      user_agent: 'tenant-test',
    });
    const [event] = await eventRows(tenant.id, 'tenant.updated');
    expect(event!.payload).toEqual({ tenantId: tenant.id, before: { name: 'Old Name', slug: tenant.slug }, after: { name: 'New Name', slug } });
    // One transaction: the tenant row, the audit row and the event share the writing transaction id.
    expect(auditRow!.xid).toBe(row.xid);
    expect(event!.xid).toBe(row.xid);
  });

  it('lets an admin rename; records only what changed; a request that changes nothing writes nothing', async () => {
    const { tenant } = await owner('Keep Me');
    const admin = await memberOf(tenant.id, 'admin');
    const renamed = await call('PATCH', `${TENANTS}/current`, admin.token, { name: 'Kept', slug: tenant.slug });
    expect(renamed.statusCode).toBe(200);
    const [auditRow] = await auditRows(tenant.id, 'tenant.updated');
    expect(auditRow).toMatchObject({ actor_id: admin.person.id, before: { name: 'Keep Me' }, after: { name: 'Kept' } });

    const same = await call('PATCH', `${TENANTS}/current`, admin.token, { name: 'Kept' });
    expect(same.statusCode).toBe(200);
    expect(same.json().name).toBe('Kept');
    expect(await auditRows(tenant.id, 'tenant.updated')).toHaveLength(1);
    expect(await eventRows(tenant.id, 'tenant.updated')).toHaveLength(1);
  });

  it.each([
    ['uppercase', 'My-Shop', '/slug'],
    ['too short', 'ab', '/slug'],
    ['too long', 'a'.repeat(64), '/slug'],
    ['double hyphen', 'my--shop', '/slug'],
    ['leading hyphen', '-myshop', '/slug'],
    ['trailing hyphen', 'myshop-', '/slug'],
    ['spaces', 'my shop', '/slug'],
    ['reserved admin', 'admin', '/slug'],
    ['reserved www', 'www', '/slug'],
    ['reserved api', 'api', '/slug'],
    ['reserved mail', 'mail', '/slug'],
    ['reserved app', 'app', '/slug'],
  ])('refuses a slug that is %s (400 naming /slug), changing nothing', async (_case, slug, field) => {
    const { tenant, token } = await owner();
    const response = await call('PATCH', `${TENANTS}/current`, token, { slug });
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('request.validation_failed');
    expect(response.json().errors.map((e: { field: string }) => e.field)).toContain(field);
    expect((await tenantRow(tenant.id))!.slug).toBe(tenant.slug);
    expect(await auditRows(tenant.id, 'tenant.updated')).toHaveLength(0);
  });

  it('accepts the longest and the shortest slugs', async () => {
    const { token } = await owner();
    const long = `x${randomBytes(31).toString('hex')}`.slice(0, 63);
    expect((await call('PATCH', `${TENANTS}/current`, token, { slug: long })).json().slug).toBe(long);
    // Each test file has its own database, where no other test uses three-character slugs.
    const short = `q${randomBytes(1).toString('hex')}`;
    const response = await call('PATCH', `${TENANTS}/current`, token, { slug: short });
    expect(response.statusCode).toBe(200);
    expect(response.json().slug).toBe(short);
  });

  it('refuses a slug another tenant holds with 409 tenant.slug_taken, writing nothing', async () => {
    const other = await owner();
    const { tenant, token } = await owner('Mine');
    const before = await tenantDigest(t.admin, tenant.id);
    const response = await call('PATCH', `${TENANTS}/current`, token, { name: 'Renamed too', slug: other.tenant.slug });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ code: 'tenant.slug_taken', errors: [{ field: '/slug' }] });
    expect(await tenantDigest(t.admin, tenant.id)).toEqual(before);
  });

  it('refuses a blank name, an empty body and unknown properties', async () => {
    const { token } = await owner();
    const blank = await call('PATCH', `${TENANTS}/current`, token, { name: '   ' });
    expect(blank.statusCode).toBe(400);
    expect(blank.json().errors[0].field).toBe('/name');
    expect((await call('PATCH', `${TENANTS}/current`, token, {})).statusCode).toBe(400);
    const unknown = await call('PATCH', `${TENANTS}/current`, token, { name: 'Fine', status: 'closed' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().errors[0].field).toBe('/status');
    expect((await call('PATCH', `${TENANTS}/current`, token, { name: 'x'.repeat(201) })).statusCode).toBe(400);
  });

  it('changes only the token’s tenant, never one named elsewhere', async () => {
    const { token } = await owner();
    const before = await tenantDigest(t.admin, victimTenantId);
    const response = await call('PATCH', `${TENANTS}/current?tenantId=${victimTenantId}`, token, { name: 'Hijacked' }, { 'x-tenant-id': victimTenantId });
    expect(response.statusCode).toBe(200);
    expect(await tenantDigest(t.admin, victimTenantId)).toEqual(before);
  });
});

describe('POST /tenants', () => {
  it('creates a tenant owned by the caller, with a derived slug, audit row and tenant.created event in one transaction', async () => {
    const { person, token } = await owner();
    const name = `Acme Retail ${randomBytes(3).toString('hex')}`;
    const response = await call('POST', `${TENANTS}`, token, { name: `  ${name} ` });
    expect(response.statusCode).toBe(201);
    const created = response.json();
    expect(created).toMatchObject({ name, slug: name.toLowerCase().replace(/ /g, '-'), status: 'active' });

    const row = (await tenantRow(created.id))!;
    expect(await membershipsOf(created.id)).toEqual([{ user_id: person.id, role: 'owner', status: 'active', xid: row.xid }]);
    const [auditRow] = await auditRows(created.id, 'tenant.created');
    expect(auditRow).toMatchObject({ actor_type: 'user', actor_id: person.id, target_id: created.id, after: { name, slug: created.slug }, xid: row.xid });
    const [event] = await eventRows(created.id, 'tenant.created');
    // The payload register writes, with the source telling them apart.
    expect(event!.payload).toEqual({ tenantId: created.id, name, slug: created.slug, ownerUserId: person.id, source: 'api' });
    expect(event!.xid).toBe(row.xid);
  });

  it('leaves the session where it is; switch-tenant then moves it into the new tenant', async () => {
    const { tenant, token } = await owner();
    const created = (await call('POST', `${TENANTS}`, token, { name: 'Second Shop' })).json();
    expect((await call('GET', `${TENANTS}/current`, token)).json().id).toBe(tenant.id);

    const switched = await call('POST', '/api/v1/auth/switch-tenant', token, { tenantId: created.id });
    expect(switched.statusCode).toBe(200);
    expect(switched.json().memberships).toEqual(expect.arrayContaining([expect.objectContaining({ tenantId: created.id, role: 'owner' })]));
    const current = await call('GET', `${TENANTS}/current`, switched.json().accessToken);
    expect(current.json()).toMatchObject({ id: created.id, name: 'Second Shop' });
  });

  it('works for a person who belongs to no tenant yet', async () => {
    const person = await createPerson(t.app);
    const login = await signInAs(t.app, person);
    expect(login.tenant).toBeNull();
    const response = await call('POST', `${TENANTS}`, login.accessToken, { name: 'From Scratch' });
    expect(response.statusCode).toBe(201);
    expect(await membershipsOf(response.json().id)).toEqual([expect.objectContaining({ user_id: person.id, role: 'owner' })]);
  });

  it('derives another slug when the name’s slug is taken or reserved', async () => {
    const { token } = await owner();
    const name = `Twin ${randomBytes(3).toString('hex')}`;
    const first = (await call('POST', `${TENANTS}`, token, { name })).json();
    const second = (await call('POST', `${TENANTS}`, token, { name })).json();
    expect(second.slug).not.toBe(first.slug);
    expect(second.slug).toMatch(new RegExp(`^${first.slug}-[0-9a-f]{6}$`));
    const reserved = (await call('POST', `${TENANTS}`, token, { name: 'Admin' })).json();
    expect(reserved.slug).toMatch(/^admin-[0-9a-f]{6}$/);
  });

  it('replays the first outcome for a repeated Idempotency-Key, creating one tenant', async () => {
    const { person, token } = await owner();
    const key = `create-${randomBytes(6).toString('hex')}`;
    const first = await call('POST', `${TENANTS}`, token, { name: 'Once Only' }, { 'idempotency-key': key });
    const again = await call('POST', `${TENANTS}`, token, { name: 'Once Only' }, { 'idempotency-key': key });
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    const owned = await t.admin.query('SELECT tenant_id FROM memberships WHERE user_id = $1 AND role = $2', [person.id, 'owner']);
    expect(owned).toHaveLength(2);
    const reused = await call('POST', `${TENANTS}`, token, { name: 'Something else' }, { 'idempotency-key': key });
    expect(reused.statusCode).toBe(422);
    expect(reused.json().code).toBe('idempotency.key_reused');
  });

  it('refuses a blank or missing name', async () => {
    const { token } = await owner();
    const blank = await call('POST', `${TENANTS}`, token, { name: ' ' });
    expect(blank.statusCode).toBe(400);
    expect(blank.json().errors[0].field).toBe('/name');
    const missing = await call('POST', `${TENANTS}`, token, {});
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors[0].field).toBe('/name');
  });

  it(`limits a person to ${TENANT_CREATIONS_PER_HOUR} new tenants an hour (429), whichever tenant they act in`, async () => {
    const { person, token } = await owner();
    const created: string[] = [];
    for (let i = 0; i < TENANT_CREATIONS_PER_HOUR; i++) {
      const response = await call('POST', `${TENANTS}`, token, { name: `Batch ${i}` });
      expect(response.statusCode).toBe(201);
      created.push(response.json().id);
    }
    const refused = await call('POST', `${TENANTS}`, token, { name: 'One too many' });
    expect(refused.statusCode).toBe(429);
    expect(refused.json().code).toBe('rate_limit.exceeded');
    expect(refused.headers['retry-after']).toBeDefined();
    const elsewhere = (await signInAs(t.app, person, created[0])).accessToken;
    expect((await call('POST', `${TENANTS}`, elsewhere, { name: 'Still too many' })).statusCode).toBe(429);
    // Someone else is not affected.
    expect((await call('POST', `${TENANTS}`, (await owner()).token, { name: 'Other person' })).statusCode).toBe(201);
  });
});

describe('POST /tenants/current/transfer-ownership', () => {
  const transfer = (token: string, userId: string, password = TEST_PASSWORD) =>
    call('POST', `${TENANTS}/current/transfer-ownership`, token, { userId, password });

  it('makes the member the owner and the caller an admin, at once and in one transaction with its audit row and event', async () => {
    const { person, tenant, token } = await owner();
    const next = await memberOf(tenant.id, 'member');
    const response = await transfer(token, next.person.id);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ ownerUserId: next.person.id, previousOwnerUserId: person.id });

    const rows = await membershipsOf(tenant.id);
    expect(rows.filter((row) => row.role === 'owner').map((row) => row.user_id)).toEqual([next.person.id]);
    expect(rows.find((row) => row.user_id === person.id)!.role).toBe('admin');
    const [auditRow] = await auditRows(tenant.id, 'tenant.ownership_transferred');
    expect(auditRow).toMatchObject({ actor_id: person.id, before: { ownerUserId: person.id, newOwnerRole: 'member' }, after: { ownerUserId: next.person.id } });
    const [event] = await eventRows(tenant.id, 'tenant.ownership_transferred');
    expect(event!.payload).toEqual({ tenantId: tenant.id, previousOwnerUserId: person.id, newOwnerUserId: next.person.id });
    const changed = rows.find((row) => row.user_id === next.person.id)!;
    expect(auditRow!.xid).toBe(changed.xid);
    expect(event!.xid).toBe(changed.xid);

    // Existing tokens act with the new roles immediately: the former owner may not transfer again, the new one may.
    const again = await transfer(token, person.id);
    expect(again.statusCode).toBe(403);
    expect(again.json().code).toBe('auth.forbidden');
    expect((await transfer(next.token, person.id)).statusCode).toBe(200);
    expect((await membershipsOf(tenant.id)).filter((row) => row.role === 'owner').map((row) => row.user_id)).toEqual([person.id]);
  });

  it('refuses a wrong password with 401 auth.invalid_credentials, changing nothing', async () => {
    const { tenant, token } = await owner();
    const next = await memberOf(tenant.id, 'admin');
    const before = await tenantDigest(t.admin, tenant.id);
    const response = await transfer(token, next.person.id, 'Not-the-password-42');
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('auth.invalid_credentials');
    expect(await tenantDigest(t.admin, tenant.id)).toEqual(before);
  });

  it('answers 404 member.not_found for anyone who is not an active member of this tenant, changing nothing', async () => {
    const { tenant, token } = await owner();
    const elsewhere = await owner();
    const deactivated = await memberOf(tenant.id, 'admin', 'deactivated');
    const disabled = await memberOf(tenant.id, 'member');
    await t.admin.query(`UPDATE users SET status = 'disabled' WHERE id = $1`, [disabled.person.id]);
    const stranger = await createPerson(t.app);
    const before = await tenantDigest(t.admin, tenant.id);
    for (const userId of [elsewhere.person.id, deactivated.person.id, disabled.person.id, stranger.id, uuidv7()]) {
      const response = await transfer(token, userId);
      expect(response.statusCode).toBe(404);
      expect(response.json().code).toBe('member.not_found');
    }
    expect(await tenantDigest(t.admin, tenant.id)).toEqual(before);
    // Another tenant's member keeps their role there.
    expect((await membershipsOf(elsewhere.tenant.id)).map((row) => row.role)).toEqual(['owner']);
  });

  it('refuses the caller as the target, a malformed id and a missing password', async () => {
    const { person, token } = await owner();
    const self = await transfer(token, person.id);
    expect(self.statusCode).toBe(400);
    expect(self.json().errors[0].field).toBe('/userId');
    const malformed = await transfer(token, 'not-a-uuid');
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().errors[0].field).toBe('/userId');
    const noPassword = await call('POST', `${TENANTS}/current/transfer-ownership`, token, { userId: uuidv7() });
    expect(noPassword.statusCode).toBe(400);
    expect(noPassword.json().errors[0].field).toBe('/password');
  });

  it('keeps exactly one owner when two transfers race', async () => {
    const { tenant, token } = await owner();
    const a = await memberOf(tenant.id, 'admin');
    const b = await memberOf(tenant.id, 'member');
    const responses = await Promise.all([transfer(token, a.person.id), transfer(token, b.person.id)]);
    expect(responses.map((response) => response.statusCode).sort()).toEqual([200, 403]);
    const owners = (await membershipsOf(tenant.id)).filter((row) => row.role === 'owner');
    expect(owners).toHaveLength(1);
    expect(await auditRows(tenant.id, 'tenant.ownership_transferred')).toHaveLength(1);
  });
});

describe('POST /tenants/current/leave', () => {
  const leave = (token: string) => call('POST', `${TENANTS}/current/leave`, token);

  it('removes the membership and its store assignments; the token stops working there at once; audit and event commit with it', async () => {
    const { tenant } = await owner();
    const member = await memberOf(tenant.id, 'member');
    const storeId = uuidv7();
    await t.admin.query('INSERT INTO stores (tenant_id, id, name, code) VALUES ($1, $2, $3, $4)', [tenant.id, storeId, 'Main', `S${randomBytes(2).toString('hex')}`]);
    await t.admin.query('INSERT INTO store_members (tenant_id, store_id, user_id) VALUES ($1, $2, $3)', [tenant.id, storeId, member.person.id]);
    expect((await call('GET', `${TENANTS}/current`, member.token)).statusCode).toBe(200);

    const response = await leave(member.token);
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');
    expect((await membershipsOf(tenant.id)).map((row) => row.user_id)).not.toContain(member.person.id);
    expect(await t.admin.query('SELECT 1 FROM store_members WHERE tenant_id = $1 AND user_id = $2', [tenant.id, member.person.id])).toHaveLength(0);

    const after = await call('GET', `${TENANTS}/current`, member.token);
    expect(after.statusCode).toBe(403);
    expect(after.json().code).toBe('auth.tenant_access_revoked');
    // The person is still signed in: their own routes work.
    expect((await call('GET', '/api/v1/auth/sessions', member.token)).statusCode).toBe(200);

    const [auditRow] = await auditRows(tenant.id, 'member.left');
    expect(auditRow).toMatchObject({ actor_id: member.person.id, target_type: 'user', target_id: member.person.id, before: { role: 'member', status: 'active' } });
    const [event] = await eventRows(tenant.id, 'member.left');
    expect(event!.payload).toEqual({ tenantId: tenant.id, userId: member.person.id });
    expect(event!.xid).toBe(auditRow!.xid);
  });

  it('lets an admin leave, and the person can switch to another tenant of theirs', async () => {
    const { tenant } = await owner();
    const admin = await memberOf(tenant.id, 'admin');
    const own = await createTenantFor(t.app, admin.person);
    expect((await leave(admin.token)).statusCode).toBe(204);
    const switched = await call('POST', '/api/v1/auth/switch-tenant', admin.token, { tenantId: own.id });
    expect(switched.statusCode).toBe(200);
    expect(switched.json().memberships.map((m: { tenantId: string }) => m.tenantId)).toEqual([own.id]);
    // Leaving is final: switching back is refused.
    expect((await call('POST', '/api/v1/auth/switch-tenant', switched.json().accessToken, { tenantId: tenant.id })).statusCode).toBe(404);
  });

  it('refuses the owner with 409 tenant.owner_cannot_leave, changing nothing', async () => {
    const { person, tenant, token } = await owner();
    const before = await tenantDigest(t.admin, tenant.id);
    const response = await leave(token);
    expect(response.statusCode).toBe(409);
    expect(response.json().code).toBe('tenant.owner_cannot_leave');
    expect(await tenantDigest(t.admin, tenant.id)).toEqual(before);
    expect((await membershipsOf(tenant.id)).find((row) => row.user_id === person.id)!.role).toBe('owner');
  });
});

describe('security matrix', () => {
  const getApp = () => t.app;
  const context = () => ({ app: t.app, admin: t.admin, victimTenantId });
  const signedIn = [...baseCases, ...sessionCases(getApp)];

  securityMatrix(context, { method: 'GET', url: `${TENANTS}/current` }, [...signedIn, ...tenantCases(getApp)]);
  securityMatrix(context, { method: 'PATCH', url: `${TENANTS}/current`, payload: { name: 'Matrix' } }, [...signedIn, ...tenantCases(getApp, { lacking: 'member' })]);
  securityMatrix(context, { method: 'POST', url: `${TENANTS}`, payload: { name: 'Matrix' } }, signedIn);
  securityMatrix(
    context,
    { method: 'POST', url: `${TENANTS}/current/transfer-ownership`, payload: { userId: uuidv7(), password: TEST_PASSWORD } },
    [...signedIn, ...tenantCases(getApp, { lacking: 'admin' }), ...tenantCases(getApp, { lacking: 'member' }).slice(0, 1)],
  );
  securityMatrix(context, { method: 'POST', url: `${TENANTS}/current/leave` }, [...signedIn, ...tenantCases(getApp)]);
});
