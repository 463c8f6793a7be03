/**
 * Platform administration of tenants over HTTP: listing (search, status, sort, keyset pages) and reading
 * them across tenants; creating one whose owner is invited by mail (received on a real SMTP server) and
 * becomes the owner by accepting; renaming; suspending (members refused at their next request) and
 * reactivating; closing and restoring — each change checked in both audit trails, with its event, in the
 * change's own transaction. Who may do what is in tenants.admin.security.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { addMembership, createPerson, createStore, createTenantFor, signedInMember, signedInOwner, signedInPlatformAdmin } from '../../../test/auth.js';
import { inviteToken, NEW_PASSWORD, problemOf, uniqueEmail, useInvitationTestApp } from '../../../test/invitation-flows.js';
import { uuidv7 } from '../../core/db/ids.js';
import type { LoginResponse } from '../identity/index.js';

const ADMIN_TENANTS = '/api/v1/admin/tenants';
const DAY_MS = 24 * 60 * 60 * 1000;

const kit = useInvitationTestApp();
const { request, accept, invitationMail } = kit;
const t = () => kit.context.t;
const app = () => kit.app();

type Row = Record<string, unknown>;
const auditRows = (tenantId: string, action: string) => t().admin.query<Row>('SELECT *, xmin::text AS xid FROM audit_events WHERE tenant_id = $1 AND action = $2 ORDER BY id', [tenantId, action]);
const platformRows = (tenantId: string, action: string) =>
  t().admin.query<Row>('SELECT *, xmin::text AS xid FROM platform_audit_events WHERE target_tenant_id = $1 AND action = $2 ORDER BY id', [tenantId, action]);
const eventRows = (tenantId: string, type: string) => t().admin.query<Row>('SELECT * FROM outbox_events WHERE tenant_id = $1 AND type = $2 ORDER BY id', [tenantId, type]);
const tenantRow = async (id: string) => (await t().admin.query<Row>('SELECT *, xmin::text AS xid FROM tenants WHERE id = $1', [id]))[0]!;

/**
 * The change's tenant audit row (actor: the administrator) and platform audit row (same administrator,
 * target the tenant), both written by the transaction that changed the tenant row.
 */
async function expectAuditedByAdmin(tenantId: string, action: string, adminId: string, xid?: string) {
  const [tenantAudit] = await auditRows(tenantId, action);
  expect(tenantAudit).toMatchObject({ actor_type: 'platform_admin', actor_id: adminId, target_type: 'tenant', target_id: tenantId, user_agent: 'lightMyRequest' });
  const [platformAudit] = await platformRows(tenantId, `platform.${action.replace('.', '_')}`);
  expect(platformAudit).toMatchObject({ actor_id: adminId, target_type: 'tenant', target_id: tenantId, target_tenant_id: tenantId, user_agent: 'lightMyRequest' });
  expect(platformAudit!.request_id).toBe(tenantAudit!.request_id);
  expect(platformAudit!.xid).toBe(tenantAudit!.xid);
  if (xid) expect(tenantAudit!.xid).toBe(xid);
  return { tenantAudit: tenantAudit!, platformAudit: platformAudit! };
}

describe('GET /admin/tenants', () => {
  it('searches name or slug case-insensitively, filters by status, sorts by creation and pages by keyset', async () => {
    const { token } = await signedInPlatformAdmin(app());
    const tag = `Quokka${randomBytes(3).toString('hex')}`;
    const created = [];
    for (const letter of ['A', 'B', 'C']) created.push(await createTenantFor(app(), await createPerson(app()), { name: `${tag} ${letter}` }));
    const ids = created.map((tenant) => tenant.id);
    const list = async (query: string) => {
      const response = await request('GET', `${ADMIN_TENANTS}?${query}`, token);
      expect(response.statusCode, response.body).toBe(200);
      return response.json<{ data: Array<{ id: string; name: string; slug: string; status: string }>; nextCursor: string | null }>();
    };

    const newest = await list(`search=${tag.toUpperCase()}`);
    expect(newest.data.map((tenant) => tenant.id)).toEqual([...ids].reverse());
    expect(Object.keys(newest.data[0]!).sort()).toEqual(['createdAt', 'id', 'name', 'slug', 'status', 'updatedAt']);
    expect((await list(`search=${tag}&sort=created`)).data.map((tenant) => tenant.id)).toEqual(ids);
    // The slug matches too (fixtures' slugs are not derived from their names).
    expect((await list(`search=${created[1]!.slug.slice(-8)}`)).data.map((tenant) => tenant.id)).toEqual([ids[1]]);
    // LIKE wildcards typed in a search mean themselves.
    expect((await list(`search=${encodeURIComponent(`${tag}%`)}`)).data).toEqual([]);

    const first = await list(`search=${tag}&sort=created&limit=2`);
    expect(first.data.map((tenant) => tenant.id)).toEqual(ids.slice(0, 2));
    const second = await list(`search=${tag}&sort=created&limit=2&cursor=${first.nextCursor!}`);
    expect(second).toEqual({ data: [expect.objectContaining({ id: ids[2] })], nextCursor: null });
    const backwards = await list(`search=${tag}&limit=2`);
    expect((await list(`search=${tag}&limit=2&cursor=${backwards.nextCursor!}`)).data.map((tenant) => tenant.id)).toEqual([ids[0]]);

    await t().admin.query(`UPDATE tenants SET status = 'suspended', suspended_reason = 'test' WHERE id = $1`, [ids[1]]);
    expect((await list(`search=${tag}&status=suspended`)).data.map((tenant) => [tenant.id, tenant.status])).toEqual([[ids[1], 'suspended']]);
    expect((await list(`search=${tag}&status=active`)).data.map((tenant) => tenant.id)).toEqual([ids[2], ids[0]]);

    expect(problemOf(await request('GET', `${ADMIN_TENANTS}?cursor=bm9wZQ`, token)).code).toBe('request.validation_failed');
    expect(problemOf(await request('GET', `${ADMIN_TENANTS}?sort=name`, token)).code).toBe('request.validation_failed');
  });
});

describe('GET /admin/tenants/:id', () => {
  it('counts active members and live stores and names the owner; an unknown id is 404', async () => {
    const { token } = await signedInPlatformAdmin(app());
    const { person: owner, tenant } = await signedInOwner(app());
    await signedInMember(app(), tenant.id, 'admin');
    await addMembership(app(), tenant.id, await createPerson(app()), 'member', 'deactivated');
    await createStore(app(), tenant.id);
    await createStore(app(), tenant.id);
    await createStore(app(), tenant.id, { deleted: true });

    const response = await request('GET', `${ADMIN_TENANTS}/${tenant.id}`, token);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ id: tenant.id, name: tenant.name, slug: tenant.slug, status: 'active', memberCount: 2, storeCount: 2, suspendedReason: null, closedAt: null, restorableUntil: null });
    expect(body.owner).toEqual({ id: owner.id, email: owner.email, name: owner.name });
    expect(body.settings).toMatchObject({ branding: expect.any(Object), security: expect.any(Object) });

    const unknown = await request('GET', `${ADMIN_TENANTS}/${uuidv7()}`, token);
    expect(unknown.statusCode).toBe(404);
    expect(problemOf(unknown).code).toBe('tenant.not_found');
  });
});

describe('POST /admin/tenants', () => {
  it('creates a tenant with no member and mails the owner an invitation whose acceptance makes them the owner', async () => {
    const { person: admin, token } = await signedInPlatformAdmin(app());
    const ownerEmail = uniqueEmail('owner');
    const name = `Harbour Books ${randomBytes(3).toString('hex')}`;
    const response = await request('POST', ADMIN_TENANTS, token, { name: `  ${name} `, ownerEmail });
    expect(response.statusCode, response.body).toBe(201);
    const created = response.json();
    expect(created).toMatchObject({ name, slug: name.toLowerCase().replace(/ /g, '-'), status: 'active', memberCount: 0, storeCount: 0, owner: null });
    expect(created.ownerInvitation).toMatchObject({ email: ownerEmail });
    const tenantId: string = created.id;

    // Both audit trails, the events and the invitation: the creating transaction.
    const row = await tenantRow(tenantId);
    const { tenantAudit } = await expectAuditedByAdmin(tenantId, 'tenant.created', admin.id, row.xid as string);
    expect(tenantAudit.after).toMatchObject({ name, ownerEmail, invitationId: created.ownerInvitation.id });
    const [invitedAudit] = await auditRows(tenantId, 'member.invited');
    expect(invitedAudit).toMatchObject({ actor_type: 'platform_admin', actor_id: admin.id, xid: row.xid, after: expect.objectContaining({ email: ownerEmail, role: 'owner' }) });
    const [event] = await eventRows(tenantId, 'tenant.created');
    expect(event!.payload).toMatchObject({ tenantId, name, ownerUserId: null, ownerEmail, source: 'platform_admin', createdBy: admin.id });
    expect(await eventRows(tenantId, 'member.invited')).toHaveLength(1);
    const roles = await t().admin.query<{ key: string }>('SELECT key FROM roles WHERE tenant_id = $1 AND key IS NOT NULL ORDER BY key', [tenantId]);
    expect(roles.map((role) => role.key)).toEqual(['admin', 'member', 'owner', 'store_manager', 'store_staff']);

    const mail = await invitationMail(ownerEmail);
    expect(mail.subject).toBe(`${admin.name} invited you to join ${name}`);
    expect(mail.text).toContain('as the owner');
    const accepted = await accept({ token: inviteToken(mail), name: 'Olu Owner', password: NEW_PASSWORD });
    expect(accepted.statusCode, accepted.body).toBe(200);
    const login = accepted.json<LoginResponse>();
    expect(login.memberships).toEqual([expect.objectContaining({ tenantId, role: 'owner', status: 'active' })]);

    const detail = (await request('GET', `${ADMIN_TENANTS}/${tenantId}`, token)).json();
    expect(detail).toMatchObject({ memberCount: 1, owner: { id: login.user.id, email: ownerEmail, name: 'Olu Owner' } });
    // The new owner holds the owner's permissions, and sees the accepted owner invitation.
    const renamed = await request('PATCH', '/api/v1/tenants/current', login.accessToken, { name: `${name} Ltd` });
    expect(renamed.statusCode, renamed.body).toBe(200);
    const invitations = await request('GET', '/api/v1/invitations', login.accessToken);
    expect(invitations.statusCode, invitations.body).toBe(200);
    expect(invitations.json().data).toEqual([expect.objectContaining({ email: ownerEmail, role: 'owner', status: 'accepted' })]);
  });

  it('takes a given slug (409 tenant.slug_taken when held, 400 when reserved) and honours Idempotency-Key', async () => {
    const { token } = await signedInPlatformAdmin(app());
    const slug = `given-${randomBytes(3).toString('hex')}`;
    const headers = { 'idempotency-key': randomBytes(8).toString('hex') };
    const body = { name: 'Given Slug', ownerEmail: uniqueEmail('owner'), slug };
    const first = await request('POST', ADMIN_TENANTS, token, body, headers);
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json().slug).toBe(slug);
    const replay = await request('POST', ADMIN_TENANTS, token, body, headers);
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json().id).toBe(first.json().id);
    expect(await t().admin.query('SELECT id FROM tenants WHERE name = $1 AND slug LIKE $2', ['Given Slug', `${slug}%`])).toHaveLength(1);

    const taken = await request('POST', ADMIN_TENANTS, token, { ...body, ownerEmail: uniqueEmail('owner') });
    expect(taken.statusCode).toBe(409);
    expect(problemOf(taken).code).toBe('tenant.slug_taken');
    const reserved = await request('POST', ADMIN_TENANTS, token, { ...body, slug: 'admin' });
    expect(problemOf(reserved)).toMatchObject({ code: 'request.validation_failed', errors: [expect.objectContaining({ field: '/slug' })] });
    expect(problemOf(await request('POST', ADMIN_TENANTS, token, { name: '   ', ownerEmail: uniqueEmail() })).code).toBe('request.validation_failed');
  });
});

describe('PATCH /admin/tenants/:id', () => {
  it('renames and re-slugs with the tenant.updated audit rows and event; a held slug is 409', async () => {
    const { person: admin, token } = await signedInPlatformAdmin(app());
    const { tenant } = await signedInOwner(app());
    const other = await createTenantFor(app(), await createPerson(app()));
    const slug = `renamed-${randomBytes(3).toString('hex')}`;
    const response = await request('PATCH', `${ADMIN_TENANTS}/${tenant.id}`, token, { name: 'Renamed', slug });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ id: tenant.id, name: 'Renamed', slug });
    const { tenantAudit } = await expectAuditedByAdmin(tenant.id, 'tenant.updated', admin.id, (await tenantRow(tenant.id)).xid as string);
    expect(tenantAudit).toMatchObject({ before: { name: tenant.name, slug: tenant.slug }, after: { name: 'Renamed', slug } });
    const [event] = await eventRows(tenant.id, 'tenant.updated');
    expect(event!.payload).toEqual({ tenantId: tenant.id, before: { name: tenant.name, slug: tenant.slug }, after: { name: 'Renamed', slug } });

    const taken = await request('PATCH', `${ADMIN_TENANTS}/${tenant.id}`, token, { slug: other.slug });
    expect(problemOf(taken)).toMatchObject({ status: 409, code: 'tenant.slug_taken' });
    expect(problemOf(await request('PATCH', `${ADMIN_TENANTS}/${tenant.id}`, token, { name: ' ' })).code).toBe('request.validation_failed');
    expect(problemOf(await request('PATCH', `${ADMIN_TENANTS}/${uuidv7()}`, token, { name: 'X' })).code).toBe('tenant.not_found');
  });
});

describe('suspension', () => {
  it('refuses the members at their next request until reactivated, audited in both trails', async () => {
    const { person: admin, token } = await signedInPlatformAdmin(app());
    const { tenant, token: ownerToken } = await signedInOwner(app());
    const member = await signedInMember(app(), tenant.id);
    const current = (accessToken: string) => request('GET', '/api/v1/tenants/current', accessToken);
    expect((await current(member.token)).statusCode).toBe(200);

    const suspended = await request('POST', `${ADMIN_TENANTS}/${tenant.id}/suspend`, token, { reason: 'Unpaid invoices' });
    expect(suspended.statusCode, suspended.body).toBe(200);
    expect(suspended.json()).toMatchObject({ status: 'suspended', suspendedReason: 'Unpaid invoices' });
    for (const accessToken of [member.token, ownerToken]) {
      const refused = await current(accessToken);
      expect(refused.statusCode).toBe(403);
      expect(problemOf(refused).code).toBe('auth.tenant_access_revoked');
    }
    const { tenantAudit } = await expectAuditedByAdmin(tenant.id, 'tenant.suspended', admin.id, (await tenantRow(tenant.id)).xid as string);
    expect(tenantAudit).toMatchObject({ before: { status: 'active' }, after: { status: 'suspended', reason: 'Unpaid invoices' } });
    expect((await eventRows(tenant.id, 'tenant.suspended'))[0]!.payload).toEqual({ tenantId: tenant.id, reason: 'Unpaid invoices', suspendedBy: admin.id });
    expect(problemOf(await request('POST', `${ADMIN_TENANTS}/${tenant.id}/suspend`, token, { reason: 'Again' })).code).toBe('tenant.not_active');

    const reactivated = await request('POST', `${ADMIN_TENANTS}/${tenant.id}/reactivate`, token);
    expect(reactivated.statusCode, reactivated.body).toBe(200);
    expect(reactivated.json()).toMatchObject({ status: 'active', suspendedReason: null });
    expect((await current(member.token)).statusCode).toBe(200);
    await expectAuditedByAdmin(tenant.id, 'tenant.reactivated', admin.id, (await tenantRow(tenant.id)).xid as string);
    expect(await eventRows(tenant.id, 'tenant.reactivated')).toHaveLength(1);
    expect(problemOf(await request('POST', `${ADMIN_TENANTS}/${tenant.id}/reactivate`, token)).code).toBe('tenant.not_suspended');
    expect(problemOf(await request('POST', `${ADMIN_TENANTS}/${uuidv7()}/suspend`, token, { reason: 'x' })).code).toBe('tenant.not_found');
  });
});

describe('closure', () => {
  it('closes as the owner would (purge scheduled), answers a repeat with the closure, and restores within the window', async () => {
    const { person: admin, token } = await signedInPlatformAdmin(app());
    const { tenant, token: ownerToken } = await signedInOwner(app());
    const closed = await request('DELETE', `${ADMIN_TENANTS}/${tenant.id}?reason=${encodeURIComponent('Owner asked by phone')}`, token);
    expect(closed.statusCode, closed.body).toBe(202);
    const closure = closed.json();
    expect(Object.keys(closure).sort()).toEqual(['closedAt', 'id', 'restorableUntil', 'status']);
    expect(new Date(closure.restorableUntil).getTime() - new Date(closure.closedAt).getTime()).toBe(30 * DAY_MS);
    expect(problemOf(await request('GET', '/api/v1/tenants/current', ownerToken)).code).toBe('auth.tenant_access_revoked');

    const xid = (await tenantRow(tenant.id)).xid as string;
    const { tenantAudit, platformAudit } = await expectAuditedByAdmin(tenant.id, 'tenant.closed', admin.id, xid);
    expect(tenantAudit.after).toMatchObject({ status: 'closed', note: 'Owner asked by phone' });
    expect(platformAudit.details).toMatchObject({ after: { status: 'closed', reason: 'Owner asked by phone' } });
    expect((await eventRows(tenant.id, 'tenant.closed'))[0]!.payload).toMatchObject({ closedBy: admin.id, reason: 'platform_admin', note: 'Owner asked by phone' });
    const [job] = await t().admin.query<{ start_after: Date; xid: string }>(`SELECT start_after, xmin::text AS xid FROM pgboss.job WHERE name = 'tenant.purge' AND data->>'tenantId' = $1`, [tenant.id]);
    expect(job).toEqual({ start_after: new Date(closure.restorableUntil), xid });

    const again = await request('DELETE', `${ADMIN_TENANTS}/${tenant.id}`, token);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(closure);
    expect(await auditRows(tenant.id, 'tenant.closed')).toHaveLength(1);
    expect((await request('GET', `${ADMIN_TENANTS}/${tenant.id}`, token)).json()).toMatchObject({ status: 'closed', closedAt: closure.closedAt, restorableUntil: closure.restorableUntil });

    const restored = await request('POST', `${ADMIN_TENANTS}/${tenant.id}/restore`, token);
    expect(restored.statusCode, restored.body).toBe(200);
    expect(restored.json()).toMatchObject({ id: tenant.id, status: 'active', closedAt: null, restorableUntil: null, memberCount: 1 });
    expect((await request('GET', '/api/v1/tenants/current', ownerToken)).statusCode).toBe(200);
    await expectAuditedByAdmin(tenant.id, 'tenant.restored', admin.id, (await tenantRow(tenant.id)).xid as string);
    expect(await eventRows(tenant.id, 'tenant.restored')).toHaveLength(1);
    expect(problemOf(await request('POST', `${ADMIN_TENANTS}/${tenant.id}/restore`, token)).code).toBe('tenant.not_closed');
  });

  it('closes a suspended tenant (reason in the body), refuses a restore past the window, and 404s an unknown id', async () => {
    const { token } = await signedInPlatformAdmin(app());
    const { tenant } = await signedInOwner(app());
    await request('POST', `${ADMIN_TENANTS}/${tenant.id}/suspend`, token, { reason: 'Fraud review' });
    const closed = await request('DELETE', `${ADMIN_TENANTS}/${tenant.id}`, token, { reason: 'Fraud confirmed' });
    expect(closed.statusCode, closed.body).toBe(202);
    expect((await auditRows(tenant.id, 'tenant.closed'))[0]).toMatchObject({ before: { status: 'suspended' }, after: expect.objectContaining({ note: 'Fraud confirmed' }) });

    await t().admin.query(`UPDATE tenants SET closed_at = now() - interval '31 days' WHERE id = $1`, [tenant.id]);
    expect(problemOf(await request('POST', `${ADMIN_TENANTS}/${tenant.id}/restore`, token)).code).toBe('tenant.restore_window_expired');
    expect(problemOf(await request('DELETE', `${ADMIN_TENANTS}/${uuidv7()}`, token)).code).toBe('tenant.not_found');
    expect(problemOf(await request('POST', `${ADMIN_TENANTS}/${uuidv7()}/restore`, token)).code).toBe('tenant.not_found');
  });
});

describe('who may', () => {
  const routes = (tenantId: string) => ({
    reads: [
      ['GET', ADMIN_TENANTS],
      ['GET', `${ADMIN_TENANTS}/${tenantId}`],
    ] as const,
    writes: [
      ['POST', ADMIN_TENANTS, { name: 'Intruder', ownerEmail: uniqueEmail() }],
      ['PATCH', `${ADMIN_TENANTS}/${tenantId}`, { name: 'Intruder' }],
      ['POST', `${ADMIN_TENANTS}/${tenantId}/suspend`, { reason: 'Intruder' }],
      ['POST', `${ADMIN_TENANTS}/${tenantId}/reactivate`, undefined],
      ['DELETE', `${ADMIN_TENANTS}/${tenantId}`, undefined],
      ['POST', `${ADMIN_TENANTS}/${tenantId}/restore`, undefined],
    ] as const,
  });

  it('lets a platform operator read but change nothing (403 auth.forbidden)', async () => {
    const { token } = await signedInPlatformAdmin(app(), 'platform_operator');
    const { tenant } = await signedInOwner(app());
    const before = await tenantRow(tenant.id);
    const { reads, writes } = routes(tenant.id);
    for (const [method, url] of reads) expect((await request(method, url, token)).statusCode, `${method} ${url}`).toBe(200);
    for (const [method, url, payload] of writes) {
      const response = await request(method, url, token, payload);
      expect(response.statusCode, `${method} ${url}`).toBe(403);
      expect(problemOf(response).code).toBe('auth.forbidden');
    }
    expect(await tenantRow(tenant.id)).toEqual(before);
    expect(await platformRows(tenant.id, 'platform.tenant_updated')).toEqual([]);
  });

  it('refuses a tenant owner without a platform role on every route, their own tenant included', async () => {
    const { tenant, token } = await signedInOwner(app());
    const before = await tenantRow(tenant.id);
    const { reads, writes } = routes(tenant.id);
    for (const [method, url, payload] of [...reads.map(([method, url]) => [method, url, undefined] as const), ...writes]) {
      const response = await request(method, url, token, payload);
      expect(response.statusCode, `${method} ${url}`).toBe(403);
      expect(problemOf(response).code).toBe('auth.forbidden');
    }
    expect(await tenantRow(tenant.id)).toEqual(before);
  });
});
