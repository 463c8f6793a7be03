/**
 * Members of the current tenant under /api/v1/users: list (search, filters, keyset pages), read, change
 * and remove; access cut at once by deactivation and removal; one person in two tenants. Creating members
 * is in members.create.test.ts, the security matrix in members.security.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMembership, bearer, createPerson, createTenantFor, type Person, signedInMember, signInAs } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

type Method = 'GET' | 'PATCH' | 'DELETE' | 'POST';
const call = (method: Method, url: string, token: string, payload?: unknown) =>
  t.app.inject({ method, url: `/api/v1/users${url}`, headers: bearer(token), ...(payload === undefined ? {} : { payload: payload as object }) });

interface MemberBody {
  id: string;
  email: string;
  name: string;
  role: string;
  status: string;
  title: string | null;
  createdAt: string;
  storeIds: string[];
}
interface PageBody {
  data: MemberBody[];
  nextCursor: string | null;
}

async function tenantWithOwner() {
  const owner = await createPerson(t.app, { name: 'Owner' });
  const tenant = await createTenantFor(t.app, owner);
  const login = await signInAs(t.app, owner, tenant.id);
  return { owner, tenant, token: login.accessToken };
}

/** A new person as a member of the tenant, signed in there. */
async function memberOf(tenantId: string, role: 'admin' | 'member' = 'member', options: { name?: string; email?: string } = {}) {
  const { person, token } = await signedInMember(t.app, tenantId, role, options);
  return { person, token };
}

async function createStore(tenantId: string, options: { deleted?: boolean } = {}): Promise<string> {
  const id = randomUUID();
  await t.admin.query(`INSERT INTO stores (tenant_id, id, name, code, deleted_at) VALUES ($1, $2, 'Store', $3, $4)`, [
    tenantId,
    id,
    `S${id.slice(0, 8)}`,
    options.deleted ? new Date() : null,
  ]);
  return id;
}

const assign = (tenantId: string, storeId: string, person: Pick<Person, 'id'>) =>
  t.admin.query(`INSERT INTO store_members (tenant_id, store_id, user_id) VALUES ($1, $2, $3)`, [tenantId, storeId, person.id]);

const ids = (page: PageBody) => page.data.map((member) => member.id);

describe('GET /users (members of the current tenant)', () => {
  it('lists the tenant’s members with their membership and live stores, and nobody from another tenant', async () => {
    const { owner, tenant, token } = await tenantWithOwner();
    const { person: ann } = await memberOf(tenant.id, 'admin', { name: 'Ann Admin' });
    const store = await createStore(tenant.id);
    const gone = await createStore(tenant.id, { deleted: true });
    await assign(tenant.id, store, ann);
    await assign(tenant.id, gone, ann);
    await t.admin.query(`UPDATE memberships SET title = 'Manager' WHERE tenant_id = $1 AND user_id = $2`, [tenant.id, ann.id]);
    const { tenant: elsewhere } = await tenantWithOwner();
    await memberOf(elsewhere.id);

    const response = await call('GET', '', token);
    expect(response.statusCode).toBe(200);
    const page = response.json<PageBody>();
    expect(page.nextCursor).toBeNull();
    expect(ids(page)).toEqual([owner.id, ann.id]);
    expect(page.data[1]).toEqual({ id: ann.id, email: ann.email, name: 'Ann Admin', role: 'admin', status: 'active', title: 'Manager', createdAt: expect.stringMatching(/Z$/), storeIds: [store] });
    expect(page.data[0]).toMatchObject({ role: 'owner', storeIds: [] });
    expect(response.body).not.toMatch(/argon2|password/i);
  });

  it('a plain member may list (users.view)', async () => {
    const { tenant } = await tenantWithOwner();
    const { person, token } = await memberOf(tenant.id);
    const response = await call('GET', '', token);
    expect(response.statusCode).toBe(200);
    expect(ids(response.json<PageBody>())).toContain(person.id);
  });

  it('searches name and email case-insensitively, taking % and _ literally', async () => {
    const { tenant, token } = await tenantWithOwner();
    const { person: grace } = await memberOf(tenant.id, 'member', { name: 'Grace Hopper' });
    const { person: byMail } = await memberOf(tenant.id, 'member', { name: 'Someone', email: `HOPPER.fan-${randomUUID().slice(0, 8)}@example.test` });
    const { person: percent } = await memberOf(tenant.id, 'member', { name: '100% Sure_Thing' });
    await memberOf(tenant.id, 'member', { name: '100 Sure Thing' });
    const search = async (text: string) => ids((await call('GET', `?search=${encodeURIComponent(text)}`, token)).json<PageBody>()).sort();

    expect(await search('hopper')).toEqual([grace.id, byMail.id].sort());
    expect(await search('GRACE')).toEqual([grace.id]);
    expect(await search('0%')).toEqual([percent.id]);
    expect(await search('_t')).toEqual([percent.id]);
    expect(await search('nobody-here')).toEqual([]);
  });

  it('filters by status, role and store; another tenant’s store matches nobody', async () => {
    const { owner, tenant, token } = await tenantWithOwner();
    const { person: admin } = await memberOf(tenant.id, 'admin');
    const { person: member } = await memberOf(tenant.id, 'member');
    const { person: inactive } = await memberOf(tenant.id, 'member');
    await t.admin.query(`UPDATE memberships SET status = 'deactivated' WHERE tenant_id = $1 AND user_id = $2`, [tenant.id, inactive.id]);
    const store = await createStore(tenant.id);
    await assign(tenant.id, store, member);
    await assign(tenant.id, store, inactive);
    const { tenant: other } = await tenantWithOwner();
    const { person: foreigner } = await memberOf(other.id);
    const foreignStore = await createStore(other.id);
    await assign(other.id, foreignStore, foreigner);
    const list = async (query: string) => ids((await call('GET', `?${query}`, token)).json<PageBody>());

    expect(await list('status=deactivated')).toEqual([inactive.id]);
    expect(await list('status=active')).toEqual([owner.id, admin.id, member.id]);
    expect(await list('role=admin')).toEqual([admin.id]);
    expect(await list('role=member&status=active')).toEqual([member.id]);
    expect(await list(`storeId=${store}`)).toEqual([member.id, inactive.id]);
    expect(await list(`storeId=${store}&status=active`)).toEqual([member.id]);
    expect(await list(`storeId=${foreignStore}`)).toEqual([]);
    expect(await list(`storeId=${randomUUID()}`)).toEqual([]);
  });

  it.each([['status=gone'], ['role=boss'], ['storeId=not-a-uuid'], ['limit=0'], ['limit=101'], ['cursor=bogus'], ['roleId=owner'], ['search=']])('refuses ?%s with 400', async (query) => {
    const { token } = await tenantWithOwner();
    const response = await call('GET', `?${query}`, token);
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('request.validation_failed');
  });

  it('pages in join order, neither skipping nor repeating anyone while members join', async () => {
    const { owner, tenant, token } = await tenantWithOwner();
    const initial = [owner.id];
    for (let i = 0; i < 6; i++) initial.push((await memberOf(tenant.id)).person.id);

    const seen: string[] = [];
    const joinedMeanwhile: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `?limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const page: PageBody = (await call('GET', url, token)).json<PageBody>();
      expect(page.data.length).toBeLessThanOrEqual(3);
      seen.push(...ids(page));
      cursor = page.nextCursor;
      pages++;
      // Someone joins after every page; they sort after everyone already there.
      if (pages <= 2) joinedMeanwhile.push((await memberOf(tenant.id)).person.id);
    } while (cursor);

    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...initial, ...joinedMeanwhile]);
    // Same order as a single page of everything.
    expect(ids((await call('GET', '?limit=100', token)).json<PageBody>())).toEqual(seen);
  });

  it('keeps its place when members share the same join instant (ties broken by id)', async () => {
    const { tenant, token } = await tenantWithOwner();
    for (let i = 0; i < 5; i++) await memberOf(tenant.id);
    await t.admin.query(`UPDATE memberships SET created_at = '2024-01-01T00:00:00.123456Z' WHERE tenant_id = $1`, [tenant.id]);
    const all = ids((await call('GET', '?limit=100', token)).json<PageBody>());
    expect(all).toEqual([...all].sort());
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: PageBody = (await call('GET', `?limit=2${cursor ? `&cursor=${cursor}` : ''}`, token)).json<PageBody>();
      seen.push(...ids(page));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all);
  });
});

describe('GET /users/:id', () => {
  it('answers a member of the tenant; another tenant’s member or an unknown id is 404', async () => {
    const { tenant, token } = await tenantWithOwner();
    const { person } = await memberOf(tenant.id, 'admin', { name: 'Found' });
    const { tenant: other } = await tenantWithOwner();
    const { person: foreigner } = await memberOf(other.id);

    const found = await call('GET', `/${person.id}`, token);
    expect(found.statusCode).toBe(200);
    expect(found.json()).toMatchObject({ id: person.id, name: 'Found', role: 'admin', status: 'active', storeIds: [] });

    for (const id of [foreigner.id, randomUUID()]) {
      const response = await call('GET', `/${id}`, token);
      expect(response.statusCode).toBe(404);
      expect(response.json().code).toBe('member.not_found');
    }
    expect((await call('GET', '/not-a-uuid', token)).statusCode).toBe(400);
  });
});

describe('PATCH /users/:id', () => {
  const events = (tenantId: string, userId: string) =>
    t.admin.query<{ type: string; payload: Record<string, unknown> }>(`SELECT type, payload FROM outbox_events WHERE tenant_id = $1 AND payload->>'userId' = $2 ORDER BY id`, [tenantId, userId]);
  const audits = (tenantId: string, userId: string) =>
    t.admin.query<{ action: string; actor_id: string; before: unknown; after: unknown }>(
      `SELECT action, actor_id, before, after FROM audit_events WHERE tenant_id = $1 AND target_id = $2 ORDER BY occurred_at, id`,
      [tenantId, userId],
    );

  it('changes title and role, with an audit row and an event; a change that changes nothing writes nothing', async () => {
    const { owner, tenant, token } = await tenantWithOwner();
    const { person } = await memberOf(tenant.id);
    const response = await call('PATCH', `/${person.id}`, token, { title: 'Cashier', role: 'admin' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ id: person.id, title: 'Cashier', role: 'admin', status: 'active' });
    expect(await audits(tenant.id, person.id)).toEqual([
      { action: 'member.updated', actor_id: owner.id, before: { title: null, role: 'member' }, after: { title: 'Cashier', role: 'admin' } },
    ]);
    expect(await events(tenant.id, person.id)).toEqual([{ type: 'member.updated', payload: expect.objectContaining({ after: { title: 'Cashier', role: 'admin' } }) }]);

    expect((await call('PATCH', `/${person.id}`, token, { title: 'Cashier' })).statusCode).toBe(200);
    expect(await audits(tenant.id, person.id)).toHaveLength(1);
    const cleared = await call('PATCH', `/${person.id}`, token, { title: null });
    expect(cleared.json().title).toBeNull();
  });

  it('deactivation cuts the member’s live token in this tenant at once, their other tenant still works; reactivation restores it', async () => {
    const { tenant, token } = await tenantWithOwner();
    const { person, token: memberToken } = await memberOf(tenant.id);
    const { tenant: otherShop } = await tenantWithOwner();
    await addMembership(t.app, otherShop.id, person, 'member');
    const otherLogin = await signInAs(t.app, person, otherShop.id);
    expect((await call('GET', '', memberToken)).statusCode).toBe(200);

    const response = await call('PATCH', `/${person.id}`, token, { status: 'deactivated' });
    expect(response.statusCode).toBe(200);
    expect(response.json().status).toBe('deactivated');

    const cut = await call('GET', '', memberToken);
    expect(cut.statusCode).toBe(403);
    expect(cut.json().code).toBe('auth.tenant_access_revoked');
    expect((await call('GET', '', otherLogin.accessToken)).statusCode).toBe(200);
    // Switching back into the tenant is refused too.
    const switched = await t.app.inject({ method: 'POST', url: '/api/v1/auth/switch-tenant', headers: bearer(otherLogin.accessToken), payload: { tenantId: tenant.id } });
    expect(switched.statusCode).toBe(404);

    expect((await call('PATCH', `/${person.id}`, token, { status: 'active' })).statusCode).toBe(200);
    expect((await call('GET', '', memberToken)).statusCode).toBe(200);
  });

  it('the owner cannot be deactivated or re-roled (409), but an admin may set their title', async () => {
    const { owner, tenant } = await tenantWithOwner();
    const { token: adminToken } = await memberOf(tenant.id, 'admin');
    for (const payload of [{ status: 'deactivated' }, { role: 'member' }]) {
      const response = await call('PATCH', `/${owner.id}`, adminToken, payload);
      expect(response.statusCode).toBe(409);
      expect(response.json().code).toBe('member.owner_protected');
    }
    expect((await call('PATCH', `/${owner.id}`, adminToken, { title: 'CEO' })).json().title).toBe('CEO');
  });

  it('nobody deactivates or re-roles themselves (409); their own title is fine', async () => {
    const { tenant } = await tenantWithOwner();
    const { person, token } = await memberOf(tenant.id, 'admin');
    for (const payload of [{ status: 'deactivated' }, { role: 'member' }]) {
      const response = await call('PATCH', `/${person.id}`, token, payload);
      expect(response.statusCode).toBe(409);
      expect(response.json().code).toBe('member.self_protected');
    }
    expect((await call('PATCH', `/${person.id}`, token, { title: 'Lead' })).statusCode).toBe(200);
  });

  it('only the owner changes an administrator; an admin may promote a member', async () => {
    const { tenant, token: ownerToken } = await tenantWithOwner();
    const { token: adminToken } = await memberOf(tenant.id, 'admin');
    const { person: otherAdmin } = await memberOf(tenant.id, 'admin');
    const { person: member } = await memberOf(tenant.id);

    const refused = await call('PATCH', `/${otherAdmin.id}`, adminToken, { status: 'deactivated' });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('auth.forbidden');
    expect((await call('PATCH', `/${member.id}`, adminToken, { role: 'admin' })).json().role).toBe('admin');
    expect((await call('PATCH', `/${otherAdmin.id}`, ownerToken, { role: 'member' })).json().role).toBe('member');
  });

  it.each([[{ role: 'owner' }], [{ status: 'gone' }], [{}], [{ title: 'x'.repeat(201) }], [{ tenantId: randomUUID() }]])('refuses %j with 400', async (payload) => {
    const { tenant, token } = await tenantWithOwner();
    const { person } = await memberOf(tenant.id);
    const response = await call('PATCH', `/${person.id}`, token, payload);
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('request.validation_failed');
  });

  it('another tenant’s member is 404 and stays unchanged', async () => {
    const { token } = await tenantWithOwner();
    const { tenant: other } = await tenantWithOwner();
    const { person: foreigner } = await memberOf(other.id);
    const response = await call('PATCH', `/${foreigner.id}`, token, { status: 'deactivated' });
    expect(response.statusCode).toBe(404);
    expect(response.json().code).toBe('member.not_found');
    expect(await t.admin.query('SELECT status FROM memberships WHERE tenant_id = $1 AND user_id = $2', [other.id, foreigner.id])).toEqual([{ status: 'active' }]);
  });

  it('a member without users.manage is refused', async () => {
    const { tenant } = await tenantWithOwner();
    const { token } = await memberOf(tenant.id);
    const { person } = await memberOf(tenant.id);
    const response = await call('PATCH', `/${person.id}`, token, { title: 'Boss' });
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('auth.forbidden');
  });
});

describe('DELETE /users/:id', () => {
  it('removes the membership and its store assignments, audits it, and cuts the member’s access at once', async () => {
    const { owner, tenant, token } = await tenantWithOwner();
    const { person, token: memberToken } = await memberOf(tenant.id);
    const store = await createStore(tenant.id);
    await assign(tenant.id, store, person);

    const response = await call('DELETE', `/${person.id}`, token);
    expect(response.statusCode).toBe(204);
    expect(await t.admin.query('SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id = $2', [tenant.id, person.id])).toEqual([]);
    expect(await t.admin.query('SELECT 1 FROM store_members WHERE tenant_id = $1 AND user_id = $2', [tenant.id, person.id])).toEqual([]);
    // The person's account stays.
    expect(await t.admin.query('SELECT id FROM users WHERE id = $1', [person.id])).toHaveLength(1);
    expect(await t.admin.query(`SELECT action, actor_id FROM audit_events WHERE tenant_id = $1 AND target_id = $2`, [tenant.id, person.id])).toEqual([
      { action: 'member.removed', actor_id: owner.id },
    ]);
    expect(await t.admin.query(`SELECT type FROM outbox_events WHERE tenant_id = $1 AND payload->>'userId' = $2`, [tenant.id, person.id])).toEqual([{ type: 'member.removed' }]);

    const cut = await call('GET', '', memberToken);
    expect(cut.statusCode).toBe(403);
    expect(cut.json().code).toBe('auth.tenant_access_revoked');
    expect((await call('GET', `/${person.id}`, token)).statusCode).toBe(404);
    expect((await call('DELETE', `/${person.id}`, token)).statusCode).toBe(404);
  });

  it('never the owner, never yourself, an admin only by the owner; another tenant’s member is 404', async () => {
    const { owner, tenant, token: ownerToken } = await tenantWithOwner();
    const { person: admin, token: adminToken } = await memberOf(tenant.id, 'admin');
    const { person: otherAdmin } = await memberOf(tenant.id, 'admin');
    const { tenant: other } = await tenantWithOwner();
    const { person: foreigner } = await memberOf(other.id);

    const expectProblem = async (token: string, id: string, status: number, code: string) => {
      const response = await call('DELETE', `/${id}`, token);
      expect(response.statusCode).toBe(status);
      expect(response.json().code).toBe(code);
    };
    await expectProblem(adminToken, owner.id, 409, 'member.owner_protected');
    await expectProblem(ownerToken, owner.id, 409, 'member.owner_protected');
    await expectProblem(adminToken, admin.id, 409, 'member.self_protected');
    await expectProblem(adminToken, otherAdmin.id, 403, 'auth.forbidden');
    await expectProblem(ownerToken, foreigner.id, 404, 'member.not_found');
    expect(await t.admin.query('SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id = $2', [other.id, foreigner.id])).toHaveLength(1);
    expect((await call('DELETE', `/${otherAdmin.id}`, ownerToken)).statusCode).toBe(204);
  });
});

describe('one person in two tenants', () => {
  it('switching tenant switches whose members they see and act on', async () => {
    const { tenant: a } = await tenantWithOwner();
    const { tenant: b } = await tenantWithOwner();
    const person = await createPerson(t.app);
    await addMembership(t.app, a.id, person, 'admin');
    await addMembership(t.app, b.id, person, 'member');
    const { person: onlyInA } = await memberOf(a.id);
    const { person: onlyInB } = await memberOf(b.id);
    const login = await signInAs(t.app, person, a.id);

    const inA = ids((await call('GET', '', login.accessToken)).json<PageBody>());
    expect(inA).toContain(onlyInA.id);
    expect(inA).not.toContain(onlyInB.id);
    expect((await call('PATCH', `/${onlyInA.id}`, login.accessToken, { title: 'Set in A' })).statusCode).toBe(200);

    const switched = await t.app.inject({ method: 'POST', url: '/api/v1/auth/switch-tenant', headers: bearer(login.accessToken), payload: { tenantId: b.id } });
    expect(switched.statusCode).toBe(200);
    const tokenB = switched.json().accessToken as string;
    const inB = ids((await call('GET', '', tokenB)).json<PageBody>());
    expect(inB).toContain(onlyInB.id);
    expect(inB).not.toContain(onlyInA.id);
    expect((await call('GET', `/${onlyInA.id}`, tokenB)).statusCode).toBe(404);
    // A member in B: no users.manage there, whatever they may do in A.
    expect((await call('PATCH', `/${onlyInB.id}`, tokenB, { title: 'Nope' })).statusCode).toBe(403);
    expect((await call('GET', '/me', tokenB)).json()).toMatchObject({ tenant: { id: b.id }, roles: ['member'] });
    // The token of A still acts in A (it names its tenant).
    expect((await call('GET', `/${onlyInA.id}`, login.accessToken)).json().title).toBe('Set in A');
  });
});
