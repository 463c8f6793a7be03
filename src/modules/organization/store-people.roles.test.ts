/**
 * A store's people and the role catalog: POST /stores/:id/users with `roleId` (built-in store roles, custom
 * store roles given in the store, tenant roles and unknown ids refused), what a store-scoped granter may
 * grant and take in their store (privilege escalation refused, own role refused), the custom roles going
 * with an unassignment; and moving the headquarters needing stores.manage tenant-wide.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMembership, assignToStore, bearer, createPerson, createStore, signedInMember, signedInOwner, signInAs, type Person } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { builtinRoleId, createCustomRole, giveCustomRole, heldCustomRoles } from '../../../test/organization-roles.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
const call = (token: string, method: Method, url: string, payload?: unknown, headers: Record<string, string> = {}) =>
  t.app.inject({ method, url: `/api/v1${url}`, headers: { ...bearer(token), ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });

/** A tenant with a signed-in owner, a store (the headquarters) and a second store. */
async function shop() {
  const owner = await signedInOwner(t.app);
  const headquarters = await createStore(t.app, owner.tenant.id);
  const store = await createStore(t.app, owner.tenant.id);
  return { ...owner, tenantId: owner.tenant.id, headquarters, store };
}

async function memberOf(tenantId: string): Promise<Person> {
  const person = await createPerson(t.app, { name: `Member ${randomBytes(2).toString('hex')}` });
  await addMembership(t.app, tenantId, person);
  return person;
}

/** A member assigned to `storeId` with `role`, signed in; requests act in that store. */
async function storeWorker(tenantId: string, storeId: string, role: 'store_manager' | 'store_staff') {
  const worker = await signedInMember(t.app, tenantId);
  await assignToStore(t.app, tenantId, storeId, worker.person, role);
  return { ...worker, inStore: { 'x-store-id': storeId } };
}

const storeRoles = (tenantId: string, storeId: string) =>
  t.admin.query<{ user_id: string; role: string }>('SELECT user_id, role FROM store_members WHERE tenant_id = $1 AND store_id = $2 ORDER BY user_id', [tenantId, storeId]);
const auditAfter = (tenantId: string) =>
  t.admin.query<{ after: Record<string, unknown> }>(`SELECT after FROM audit_events WHERE tenant_id = $1 AND action = 'store.members_changed' ORDER BY occurred_at, id`, [tenantId]);

describe('POST /stores/:id/users with roleId', () => {
  it('a built-in store role works as `role`; `role` beside it must agree', async () => {
    const { tenantId, token, store } = await shop();
    const person = await memberOf(tenantId);
    const managerId = await builtinRoleId(t.app, tenantId, 'store_manager');
    const response = await call(token, 'POST', `/stores/${store.id}/users`, { userIds: [person.id], roleId: managerId });
    expect(response.statusCode).toBe(200);
    expect(response.json().data).toEqual([expect.objectContaining({ userId: person.id, role: 'store_manager' })]);
    expect(await heldCustomRoles(t.app, tenantId, person.id)).toEqual([]);

    const disagree = await call(token, 'POST', `/stores/${store.id}/users`, { userIds: [person.id], roleId: managerId, role: 'store_staff' });
    expect(disagree.statusCode).toBe(400);
    expect(disagree.json().errors).toEqual([expect.objectContaining({ field: '/role' })]);
  });

  it('a custom store role is given in the store: newcomers join as store_staff, others keep their store role; it takes effect; again changes nothing', async () => {
    const { tenantId, token, store } = await shop();
    const [newcomer, manager] = [await memberOf(tenantId), await memberOf(tenantId)];
    await assignToStore(t.app, tenantId, store.id, manager, 'store_manager');
    const editor = await createCustomRole(t.app, tenantId, { scope: 'store', permissions: ['stores.update'] });

    const response = await call(token, 'POST', `/stores/${store.id}/users`, { userIds: [newcomer.id, manager.id], roleId: editor });
    expect(response.statusCode).toBe(200);
    const byUser = Object.fromEntries(response.json<{ data: Array<{ userId: string; role: string }> }>().data.map((row) => [row.userId, row.role]));
    expect(byUser).toEqual({ [newcomer.id]: 'store_staff', [manager.id]: 'store_manager' });
    for (const person of [newcomer, manager]) expect(await heldCustomRoles(t.app, tenantId, person.id)).toEqual([`${editor}@${store.id}`]);
    expect(await auditAfter(tenantId)).toEqual([
      { after: { assigned: [{ userId: newcomer.id, role: 'store_staff' }], unassigned: [], customRole: { roleId: editor, userIds: [newcomer.id, manager.id] } } },
    ]);

    // The newcomer, a plain member, now changes this store's settings when acting in it.
    const login = (await signInAs(t.app, newcomer, tenantId)).accessToken;
    const settings = await call(login, 'PATCH', `/stores/${store.id}/settings`, { receiptFooter: 'Thanks!' }, { 'x-store-id': store.id });
    expect(settings.statusCode).toBe(200);

    expect((await call(token, 'POST', `/stores/${store.id}/users`, { userIds: [newcomer.id], roleId: editor })).statusCode).toBe(200);
    expect(await auditAfter(tenantId)).toHaveLength(1);
    // Unassigning takes the custom roles held there too.
    expect((await call(token, 'DELETE', `/stores/${store.id}/users/${newcomer.id}`)).statusCode).toBe(204);
    expect(await heldCustomRoles(t.app, tenantId, newcomer.id)).toEqual([]);
  });

  it('a tenant-wide role → 400 role.scope_mismatch; another tenant’s store role → 404 role.not_found; nobody assigned', async () => {
    const { tenantId, token, store } = await shop();
    const other = await shop();
    const person = await memberOf(tenantId);
    const refusals: Array<[string, number, string]> = [
      [await builtinRoleId(t.app, tenantId, 'admin'), 400, 'role.scope_mismatch'],
      [await createCustomRole(t.app, tenantId, { permissions: ['audit.view'] }), 400, 'role.scope_mismatch'],
      [await builtinRoleId(t.app, other.tenantId, 'store_manager'), 404, 'role.not_found'],
    ];
    for (const [roleId, status, code] of refusals) {
      const response = await call(token, 'POST', `/stores/${store.id}/users`, { userIds: [person.id], roleId });
      expect(response.statusCode).toBe(status);
      expect(response.json().code).toBe(code);
    }
    expect(await storeRoles(tenantId, store.id)).toEqual([]);
  });
});

describe('granting and taking in one store', () => {
  it('a store manager in their store assigns staff and managers, but not in another store, and never their own role', async () => {
    const { tenantId, store, headquarters } = await shop();
    const manager = await storeWorker(tenantId, store.id, 'store_manager');
    const [a, b] = [await memberOf(tenantId), await memberOf(tenantId)];
    expect((await call(manager.token, 'POST', `/stores/${store.id}/users`, { userIds: [a.id] }, manager.inStore)).statusCode).toBe(200);
    expect((await call(manager.token, 'POST', `/stores/${store.id}/users`, { userIds: [b.id], role: 'store_manager' }, manager.inStore)).statusCode).toBe(200);
    const elsewhere = await call(manager.token, 'POST', `/stores/${headquarters.id}/users`, { userIds: [a.id] }, manager.inStore);
    expect(elsewhere.statusCode).toBe(403);
    expect(elsewhere.json().code).toBe('store.access_denied');

    const self = await call(manager.token, 'POST', `/stores/${store.id}/users`, { userIds: [a.id, manager.person.id], role: 'store_staff' }, manager.inStore);
    expect(self.statusCode).toBe(403);
    expect(self.json().code).toBe('role.self_assignment');
    expect(await storeRoles(tenantId, store.id)).toEqual(
      [
        { user_id: manager.person.id, role: 'store_manager' },
        { user_id: a.id, role: 'store_staff' },
        { user_id: b.id, role: 'store_manager' },
      ].sort((x, y) => (x.user_id < y.user_id ? -1 : 1)),
    );
  });

  it('someone who manages the store’s people through a custom role grants and takes only what they hold there', async () => {
    const { tenantId, token: ownerToken, store } = await shop();
    const clerk = await storeWorker(tenantId, store.id, 'store_staff');
    await giveCustomRole(t.app, tenantId, clerk.person.id, await createCustomRole(t.app, tenantId, { scope: 'store', permissions: ['store_people.manage'] }), store.id);
    const editor = await createCustomRole(t.app, tenantId, { scope: 'store', permissions: ['stores.update'] });
    const [newcomer, manager, edited] = [await memberOf(tenantId), await memberOf(tenantId), await memberOf(tenantId)];
    await assignToStore(t.app, tenantId, store.id, manager, 'store_manager');
    await assignToStore(t.app, tenantId, store.id, edited);
    await giveCustomRole(t.app, tenantId, edited.id, editor, store.id);
    const post = (body: Record<string, unknown>) => call(clerk.token, 'POST', `/stores/${store.id}/users`, body, clerk.inStore);
    const escalation = (response: Awaited<ReturnType<typeof post>>) => {
      expect(response.statusCode).toBe(403);
      expect(response.json().code).toBe('role.privilege_escalation');
      return response.json<{ detail: string }>().detail;
    };

    expect((await post({ userIds: [newcomer.id] })).statusCode).toBe(200);
    expect(escalation(await post({ userIds: [newcomer.id], role: 'store_manager' }))).toContain('stores.update');
    escalation(await post({ userIds: [newcomer.id], roleId: editor }));
    // Taking: demoting or unassigning a manager, or unassigning someone with a custom role beyond theirs.
    escalation(await post({ userIds: [manager.id], role: 'store_staff' }));
    escalation(await call(clerk.token, 'DELETE', `/stores/${store.id}/users/${manager.id}`, undefined, clerk.inStore));
    escalation(await call(clerk.token, 'DELETE', `/stores/${store.id}/users`, { userIds: [newcomer.id, edited.id] }, clerk.inStore));
    expect((await call(clerk.token, 'DELETE', `/stores/${store.id}/users/${newcomer.id}`, undefined, clerk.inStore)).statusCode).toBe(204);
    expect(await storeRoles(tenantId, store.id)).toHaveLength(3);
    // The owner holds everything: the same changes go through.
    expect((await call(ownerToken, 'DELETE', `/stores/${store.id}/users`, { userIds: [manager.id, edited.id] })).statusCode).toBe(204);
    expect(await heldCustomRoles(t.app, tenantId, edited.id)).toEqual([]);
  });
});

describe('PATCH /stores/:id and the headquarters', () => {
  it('a store manager changes their store’s details, but moving the headquarters needs stores.manage tenant-wide', async () => {
    const { tenantId, token: ownerToken, store, headquarters } = await shop();
    const manager = await storeWorker(tenantId, store.id, 'store_manager');
    const patch = (token: string, body: Record<string, unknown>, headers: Record<string, string> = {}) => call(token, 'PATCH', `/stores/${store.id}`, body, headers);

    expect((await patch(manager.token, { name: 'Renamed by manager' }, manager.inStore)).json()).toMatchObject({ name: 'Renamed by manager' });
    const move = await patch(manager.token, { isHeadquarters: true }, manager.inStore);
    expect(move.statusCode).toBe(403);
    expect(move.json().code).toBe('auth.forbidden');
    expect((await call(ownerToken, 'GET', `/stores/${headquarters.id}`)).json()).toMatchObject({ isHeadquarters: true });

    // Someone managing the headquarters store may state its flag unchanged; the owner moves it.
    const hqManager = await storeWorker(tenantId, headquarters.id, 'store_manager');
    expect((await call(hqManager.token, 'PATCH', `/stores/${headquarters.id}`, { isHeadquarters: true }, hqManager.inStore)).statusCode).toBe(200);
    expect((await patch(ownerToken, { isHeadquarters: true })).json()).toMatchObject({ isHeadquarters: true });
  });
});
