/**
 * /api/v1/users/:id/roles: listing what a member holds; giving and taking built-in tenant roles, built-in
 * store roles and custom roles (tenant-wide and per store); every refusal (scope, unknown ids, self,
 * escalation, the owner, deactivated members); audit rows and events; a store-scope permission that holds
 * in its store only; and no clash with the organization module's routes under the same prefix.
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMembership, assignToStore, bearer, createPerson, createStore, signedInMember, signedInOwner } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { uuidv7 } from '../../core/db/ids.js';
import { roleAssignments, roles, type BuiltinRoleKey } from './authorization.table.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

type Method = 'GET' | 'POST' | 'DELETE' | 'PATCH';
const call = (token: string, method: Method, url: string, payload?: object, headers: Record<string, string> = {}) =>
  t.app.inject({ method, url, headers: { ...bearer(token), ...headers }, ...(payload === undefined ? {} : { payload }) });
const give = (token: string, userId: string, body: { roleId: string; storeId?: string }, headers: Record<string, string> = {}) =>
  call(token, 'POST', `/api/v1/users/${userId}/roles`, body, headers);
const take = (token: string, userId: string, roleId: string, storeId?: string) =>
  call(token, 'DELETE', `/api/v1/users/${userId}/roles/${roleId}${storeId ? `?storeId=${storeId}` : ''}`);
const rolesOf = async (token: string, userId: string) => (await call(token, 'GET', `/api/v1/users/${userId}/roles`)).json<{ data: HeldRole[] }>().data;

interface HeldRole {
  role: { id: string; key: string | null; name: string; scope: string; builtIn: boolean };
  storeId: string | null;
  source: string;
  assignedAt: string;
}

async function builtin(tenantId: string, key: BuiltinRoleKey): Promise<string> {
  const [row] = await t.platform.db.withTenant(tenantId, (tx) => tx.select({ id: roles.id }).from(roles).where(and(eq(roles.tenantId, tenantId), eq(roles.key, key))));
  return row!.id;
}

async function customRole(tenantId: string, scope: 'tenant' | 'store', permissions: string[]): Promise<string> {
  const id = uuidv7();
  await t.platform.db.withTenant(tenantId, (tx) => tx.insert(roles).values({ tenantId, id, name: `Role ${id}`, scope, permissions }));
  return id;
}

/** Gives a custom role directly (not through the route), e.g. to set up an actor. */
async function holdRole(tenantId: string, userId: string, roleId: string, storeId: string | null = null) {
  await t.platform.db.withTenant(tenantId, (tx) => tx.insert(roleAssignments).values({ tenantId, userId, roleId, storeId }));
}

/** A tenant with a signed-in owner and admin, and a plain member (signed in too). */
async function org() {
  const owner = await signedInOwner(t.app);
  const admin = await signedInMember(t.app, owner.tenant.id, 'admin');
  const member = await signedInMember(t.app, owner.tenant.id, 'member');
  return { tenant: owner.tenant, owner, admin, member };
}

const baseRole = (tenantId: string, userId: string) =>
  t.admin.query<{ role: string }>('SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2', [tenantId, userId]).then((rows) => rows[0]?.role);
const storeRows = (tenantId: string, userId: string) =>
  t.admin.query<{ store_id: string; role: string }>('SELECT store_id, role FROM store_members WHERE tenant_id = $1 AND user_id = $2 ORDER BY store_id', [tenantId, userId]);
const assignmentRows = (tenantId: string, userId: string) =>
  t.admin.query<{ role_id: string; store_id: string | null }>('SELECT role_id, store_id FROM role_assignments WHERE tenant_id = $1 AND user_id = $2 ORDER BY id', [tenantId, userId]);
const roleAudit = (tenantId: string) =>
  t.admin.query<{ action: string; actor_id: string; target_id: string; before: unknown; after: unknown }>(
    `SELECT action, actor_id, target_id, before, after FROM audit_events WHERE tenant_id = $1 AND action LIKE 'member.role_%' ORDER BY occurred_at, id`,
    [tenantId],
  );
const roleEvents = (tenantId: string) =>
  t.admin.query<{ type: string; payload: unknown }>(`SELECT type, payload FROM outbox_events WHERE tenant_id = $1 AND type LIKE 'member.role_%' ORDER BY id`, [tenantId]);

describe('GET /users/:id/roles', () => {
  it('lists the built-in tenant role, store roles in live stores and custom roles, tenant-wide first, then by store', async () => {
    const { tenant, member, admin } = await org();
    const [a, b] = [await createStore(t.app, tenant.id), await createStore(t.app, tenant.id)];
    const gone = await createStore(t.app, tenant.id, { deleted: true });
    const [first, second] = [a, b].sort((x, y) => (x.id < y.id ? -1 : 1)) as [typeof a, typeof b];
    await assignToStore(t.app, tenant.id, first.id, member.person, 'store_manager');
    await assignToStore(t.app, tenant.id, second.id, member.person, 'store_staff');
    await assignToStore(t.app, tenant.id, gone.id, member.person, 'store_staff');
    const tenantRole = await customRole(tenant.id, 'tenant', ['audit.view']);
    const storeRole = await customRole(tenant.id, 'store', ['stores.update']);
    await holdRole(tenant.id, member.person.id, tenantRole);
    await holdRole(tenant.id, member.person.id, storeRole, second.id);
    await holdRole(tenant.id, member.person.id, storeRole, gone.id);

    const response = await call(admin.token, 'GET', `/api/v1/users/${member.person.id}/roles`);
    expect(response.statusCode).toBe(200);
    const data = response.json<{ data: HeldRole[] }>().data;
    expect(data.map((item) => [item.source, item.role.key ?? item.role.id, item.storeId])).toEqual([
      ['membership', 'member', null],
      ['assignment', tenantRole, null],
      ['store', 'store_manager', first.id],
      ['store', 'store_staff', second.id],
      ['assignment', storeRole, second.id],
    ]);
    expect(data[0]).toEqual({
      role: { id: await builtin(tenant.id, 'member'), key: 'member', name: 'Member', scope: 'tenant', builtIn: true },
      storeId: null,
      source: 'membership',
      assignedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(data[1]!.role).toEqual({ id: tenantRole, key: null, name: `Role ${tenantRole}`, scope: 'tenant', builtIn: false });
  });

  it('is readable with users.view (a plain member), lists deactivated members, and answers 404 for strangers and other tenants’ members', async () => {
    const { tenant, member } = await org();
    const deactivated = await createPerson(t.app);
    await addMembership(t.app, tenant.id, deactivated, 'admin', 'deactivated');
    expect((await rolesOf(member.token, deactivated.id)).map((item) => item.role.key)).toEqual(['admin']);

    const other = await signedInOwner(t.app);
    for (const id of [other.person.id, uuidv7()]) {
      const response = await call(member.token, 'GET', `/api/v1/users/${id}/roles`);
      expect(response.statusCode).toBe(404);
      expect(response.json().code).toBe('member.not_found');
    }
  });
});

describe('POST /users/:id/roles: built-in tenant roles', () => {
  it('replaces the member’s built-in tenant role (201), is idempotent (200, nothing written), and audits and announces the change', async () => {
    const { tenant, owner, member } = await org();
    const adminRole = await builtin(tenant.id, 'admin');
    const response = await give(owner.token, member.person.id, { roleId: adminRole });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ role: { id: adminRole, key: 'admin', builtIn: true }, storeId: null, source: 'membership' });
    expect(await baseRole(tenant.id, member.person.id)).toBe('admin');
    // One built-in tenant role: the old one is gone.
    expect((await rolesOf(owner.token, member.person.id)).map((item) => item.role.key)).toEqual(['admin']);

    const again = await give(owner.token, member.person.id, { roleId: adminRole });
    expect(again.statusCode).toBe(200);
    expect(await roleAudit(tenant.id)).toEqual([
      { action: 'member.role_assigned', actor_id: owner.person.id, target_id: member.person.id, before: { role: 'member' }, after: { role: 'admin', roleId: adminRole, storeId: null } },
    ]);
    expect(await roleEvents(tenant.id)).toEqual([{ type: 'member.role_assigned', payload: { userId: member.person.id, roleId: adminRole, storeId: null } }]);
  });

  it('never gives the owner role, and never changes the owner’s built-in role (409 role.owner_transfer_only)', async () => {
    const { tenant, owner, admin, member } = await org();
    const ownerRole = await builtin(tenant.id, 'owner');
    for (const [token, target, roleId] of [
      [owner.token, member.person.id, ownerRole],
      [admin.token, owner.person.id, await builtin(tenant.id, 'member')],
      [admin.token, owner.person.id, await builtin(tenant.id, 'admin')],
    ] as const) {
      const response = await give(token, target, { roleId });
      expect(response.statusCode).toBe(409);
      expect(response.json().code).toBe('role.owner_transfer_only');
    }
    expect(await baseRole(tenant.id, owner.person.id)).toBe('owner');
    expect(await baseRole(tenant.id, member.person.id)).toBe('member');
  });

  it('refuses a storeId for a tenant role (400 role.scope_mismatch)', async () => {
    const { tenant, owner, member } = await org();
    const store = await createStore(t.app, tenant.id);
    const response = await give(owner.token, member.person.id, { roleId: await builtin(tenant.id, 'admin'), storeId: store.id });
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('role.scope_mismatch');
  });
});

describe('POST /users/:id/roles: store roles', () => {
  it('a built-in store role assigns the person to the store with it, and replaces their role there', async () => {
    const { tenant, owner, member } = await org();
    const store = await createStore(t.app, tenant.id);
    const [manager, staff] = [await builtin(tenant.id, 'store_manager'), await builtin(tenant.id, 'store_staff')];
    const response = await give(owner.token, member.person.id, { roleId: manager, storeId: store.id });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ role: { id: manager, key: 'store_manager', scope: 'store' }, storeId: store.id, source: 'store' });
    expect(await storeRows(tenant.id, member.person.id)).toEqual([{ store_id: store.id, role: 'store_manager' }]);

    expect((await give(owner.token, member.person.id, { roleId: manager, storeId: store.id })).statusCode).toBe(200);
    expect((await give(owner.token, member.person.id, { roleId: staff, storeId: store.id })).statusCode).toBe(201);
    expect(await storeRows(tenant.id, member.person.id)).toEqual([{ store_id: store.id, role: 'store_staff' }]);
    expect((await roleEvents(tenant.id)).map((event) => event.payload)).toEqual([
      { userId: member.person.id, roleId: manager, storeId: store.id },
      { userId: member.person.id, roleId: staff, storeId: store.id },
    ]);
  });

  it('a custom store role is held in its store, the person joining it as store_staff if need be', async () => {
    const { tenant, owner, member } = await org();
    const store = await createStore(t.app, tenant.id);
    const roleId = await customRole(tenant.id, 'store', ['stores.update']);
    const response = await give(owner.token, member.person.id, { roleId, storeId: store.id.toUpperCase() });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ role: { id: roleId, key: null, builtIn: false }, storeId: store.id, source: 'assignment' });
    expect(await storeRows(tenant.id, member.person.id)).toEqual([{ store_id: store.id, role: 'store_staff' }]);
    expect(await assignmentRows(tenant.id, member.person.id)).toEqual([{ role_id: roleId, store_id: store.id }]);
    expect((await give(owner.token, member.person.id, { roleId, storeId: store.id })).statusCode).toBe(200);
    expect(await roleAudit(tenant.id)).toHaveLength(1);
    expect((await roleAudit(tenant.id))[0]!.after).toEqual({ roleId, storeId: store.id, joinedStoreAs: 'store_staff' });
  });

  it('needs a live store of this tenant: no storeId → 400 role.scope_mismatch; another tenant’s or a deleted store → 404 store.not_found', async () => {
    const { tenant, owner, member } = await org();
    const manager = await builtin(tenant.id, 'store_manager');
    const custom = await customRole(tenant.id, 'store', ['stores.view']);
    for (const roleId of [manager, custom]) {
      const response = await give(owner.token, member.person.id, { roleId });
      expect(response.statusCode).toBe(400);
      expect(response.json().code).toBe('role.scope_mismatch');
    }
    const elsewhere = await createStore(t.app, (await signedInOwner(t.app)).tenant.id);
    const deleted = await createStore(t.app, tenant.id, { deleted: true });
    for (const storeId of [elsewhere.id, deleted.id, uuidv7()]) {
      const response = await give(owner.token, member.person.id, { roleId: manager, storeId });
      expect(response.statusCode).toBe(404);
      expect(response.json().code).toBe('store.not_found');
    }
    expect(await storeRows(tenant.id, member.person.id)).toEqual([]);
  });
});

describe('POST /users/:id/roles: custom tenant roles and refusals', () => {
  it('a custom tenant role is held tenant-wide (201, then 200)', async () => {
    const { tenant, admin, member } = await org();
    const roleId = await customRole(tenant.id, 'tenant', ['audit.view', 'users.view']);
    const response = await give(admin.token, member.person.id, { roleId });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ role: { id: roleId, scope: 'tenant' }, storeId: null, source: 'assignment' });
    expect(await assignmentRows(tenant.id, member.person.id)).toEqual([{ role_id: roleId, store_id: null }]);
    expect((await give(admin.token, member.person.id, { roleId })).statusCode).toBe(200);
    const refused = await give(admin.token, member.person.id, { roleId, storeId: (await createStore(t.app, tenant.id)).id });
    expect(refused.json().code).toBe('role.scope_mismatch');
  });

  it('404 for an unknown role, another tenant’s role, an unknown person and another tenant’s member', async () => {
    const { tenant, owner, member } = await org();
    const other = await signedInOwner(t.app);
    for (const roleId of [uuidv7(), await builtin(other.tenant.id, 'member'), await customRole(other.tenant.id, 'tenant', [])]) {
      const response = await give(owner.token, member.person.id, { roleId });
      expect(response.statusCode).toBe(404);
      expect(response.json().code).toBe('role.not_found');
    }
    const memberRole = await builtin(tenant.id, 'member');
    for (const userId of [uuidv7(), other.person.id]) {
      const response = await give(owner.token, userId, { roleId: memberRole });
      expect(response.statusCode).toBe(404);
      expect(response.json().code).toBe('member.not_found');
    }
  });

  it('gives no role to a deactivated member (409 member.inactive), but takes theirs', async () => {
    const { tenant, owner } = await org();
    const person = await createPerson(t.app);
    await addMembership(t.app, tenant.id, person, 'member', 'deactivated');
    const roleId = await customRole(tenant.id, 'tenant', ['audit.view']);
    const response = await give(owner.token, person.id, { roleId });
    expect(response.statusCode).toBe(409);
    expect(response.json().code).toBe('member.inactive');
    await holdRole(tenant.id, person.id, roleId);
    expect((await take(owner.token, person.id, roleId)).statusCode).toBe(204);
  });

  it('nobody changes their own roles (403 role.self_assignment), not even the owner', async () => {
    const { tenant, owner, admin } = await org();
    const roleId = await customRole(tenant.id, 'tenant', ['audit.view']);
    for (const { token, person } of [owner, admin]) {
      for (const response of [await give(token, person.id, { roleId }), await take(token, person.id, roleId)]) {
        expect(response.statusCode).toBe(403);
        expect(response.json().code).toBe('role.self_assignment');
      }
    }
  });

  it('without users.manage: 403 auth.forbidden', async () => {
    const { tenant, member, admin } = await org();
    const response = await give(member.token, admin.person.id, { roleId: await builtin(tenant.id, 'member') });
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('auth.forbidden');
  });
});

describe('no privilege escalation', () => {
  it('an admin cannot grant a custom role holding billing.manage (403), nor take one', async () => {
    const { tenant, owner, admin, member } = await org();
    const roleId = await customRole(tenant.id, 'tenant', ['billing.view', 'billing.manage']);
    const response = await give(admin.token, member.person.id, { roleId });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ code: 'role.privilege_escalation', detail: expect.stringContaining('billing.manage') });
    expect(await assignmentRows(tenant.id, member.person.id)).toEqual([]);

    // The owner may; then the admin may not take it back either (nor touch that member's roles at all).
    expect((await give(owner.token, member.person.id, { roleId })).statusCode).toBe(201);
    expect((await take(admin.token, member.person.id, roleId)).json().code).toBe('role.privilege_escalation');
    const other = await give(admin.token, member.person.id, { roleId: await customRole(tenant.id, 'tenant', ['audit.view']) });
    expect(other.statusCode).toBe(403);
    expect(other.json().code).toBe('role.privilege_escalation');
  });

  it('a member holding users.manage through a custom role cannot make anyone admin, nor change an admin’s roles', async () => {
    const { tenant, admin } = await org();
    const manager = await signedInMember(t.app, tenant.id, 'member');
    await holdRole(tenant.id, manager.person.id, await customRole(tenant.id, 'tenant', ['users.view', 'users.manage']));
    const target = await signedInMember(t.app, tenant.id, 'member');
    const response = await give(manager.token, target.person.id, { roleId: await builtin(tenant.id, 'admin') });
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('role.privilege_escalation');
    expect(await baseRole(tenant.id, target.person.id)).toBe('member');

    const demote = await give(manager.token, admin.person.id, { roleId: await builtin(tenant.id, 'member') });
    expect(demote.json().code).toBe('role.privilege_escalation');
    // What they hold they may give: users.view to a plain member.
    const allowed = await give(manager.token, target.person.id, { roleId: await customRole(tenant.id, 'tenant', ['users.view']) });
    expect(allowed.statusCode).toBe(201);
  });

  it('only the owner changes an administrator’s roles (as PATCH /users/:id): another admin gets 403 auth.forbidden', async () => {
    const { tenant, owner, admin } = await org();
    const peer = await signedInMember(t.app, tenant.id, 'admin');
    const memberRole = await builtin(tenant.id, 'member');
    const refused = await give(admin.token, peer.person.id, { roleId: memberRole });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('auth.forbidden');
    expect((await give(owner.token, peer.person.id, { roleId: memberRole })).statusCode).toBe(201);
  });

  it('a custom role may be added to the owner by someone holding everything the owner holds', async () => {
    const { tenant, owner, admin } = await org();
    const denied = await give(admin.token, owner.person.id, { roleId: await customRole(tenant.id, 'tenant', ['audit.view']) });
    expect(denied.json().code).toBe('role.privilege_escalation');

    const deputy = await signedInMember(t.app, tenant.id, 'admin');
    await holdRole(tenant.id, deputy.person.id, await customRole(tenant.id, 'tenant', ['billing.manage', 'tenant.delete', 'tenant.transfer']));
    const roleId = await customRole(tenant.id, 'tenant', ['audit.view']);
    const response = await give(deputy.token, owner.person.id, { roleId });
    expect(response.statusCode).toBe(201);
    expect(await assignmentRows(tenant.id, owner.person.id)).toEqual([{ role_id: roleId, store_id: null }]);
    expect(await baseRole(tenant.id, owner.person.id)).toBe('owner');
  });
});

describe('DELETE /users/:id/roles/:roleId', () => {
  it('never takes the built-in tenant role (409 role.base_role_required)', async () => {
    const { tenant, owner, member } = await org();
    const response = await take(owner.token, member.person.id, await builtin(tenant.id, 'member'));
    expect(response.statusCode).toBe(409);
    expect(response.json().code).toBe('role.base_role_required');
  });

  it('takes a custom role (204, audited and announced), then 404 role.assignment_not_found', async () => {
    const { tenant, owner, member } = await org();
    const store = await createStore(t.app, tenant.id);
    const roleId = await customRole(tenant.id, 'store', ['stores.update']);
    await give(owner.token, member.person.id, { roleId, storeId: store.id });
    // Held in the store, not tenant-wide: without storeId the scope does not match.
    expect((await take(owner.token, member.person.id, roleId)).json().code).toBe('role.scope_mismatch');
    expect((await take(owner.token, member.person.id, roleId, uuidv7())).json().code).toBe('role.assignment_not_found');

    expect((await take(owner.token, member.person.id, roleId, store.id)).statusCode).toBe(204);
    expect(await assignmentRows(tenant.id, member.person.id)).toEqual([]);
    // The store assignment it came with stays.
    expect(await storeRows(tenant.id, member.person.id)).toEqual([{ store_id: store.id, role: 'store_staff' }]);
    const missing = await take(owner.token, member.person.id, roleId, store.id);
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('role.assignment_not_found');
    expect((await roleEvents(tenant.id)).at(-1)).toEqual({ type: 'member.role_removed', payload: { userId: member.person.id, roleId, storeId: store.id } });
    expect((await roleAudit(tenant.id)).at(-1)).toMatchObject({ action: 'member.role_removed', actor_id: owner.person.id, before: { roleId, storeId: store.id }, after: null });
  });

  it('a built-in store role removes the person from the store, with their custom roles there, only if it is their role there', async () => {
    const { tenant, owner, member } = await org();
    const [store, other] = [await createStore(t.app, tenant.id), await createStore(t.app, tenant.id)];
    const custom = await customRole(tenant.id, 'store', ['stores.update']);
    await give(owner.token, member.person.id, { roleId: custom, storeId: store.id });
    await give(owner.token, member.person.id, { roleId: custom, storeId: other.id });
    const [manager, staff] = [await builtin(tenant.id, 'store_manager'), await builtin(tenant.id, 'store_staff')];

    expect((await take(owner.token, member.person.id, manager, store.id)).json().code).toBe('role.assignment_not_found');
    expect((await take(owner.token, member.person.id, staff)).json().code).toBe('role.scope_mismatch');
    expect((await take(owner.token, member.person.id, staff, store.id)).statusCode).toBe(204);
    expect(await storeRows(tenant.id, member.person.id)).toEqual([{ store_id: other.id, role: 'store_staff' }]);
    expect(await assignmentRows(tenant.id, member.person.id)).toEqual([{ role_id: custom, store_id: other.id }]);
    expect((await roleAudit(tenant.id)).at(-1)!.before).toEqual({ roleId: staff, storeId: store.id, storeRole: 'store_staff', customRoleIds: [custom] });
  });
});

describe('a store-scope permission holds in its store only', () => {
  it('PATCH /stores/A: allowed with X-Store-ID A; refused for store B, with X-Store-ID B, and without X-Store-ID', async () => {
    const { tenant, owner, member } = await org();
    const [a, b] = [await createStore(t.app, tenant.id), await createStore(t.app, tenant.id)];
    const roleId = await customRole(tenant.id, 'store', ['stores.update']);
    expect((await give(owner.token, member.person.id, { roleId, storeId: a.id })).statusCode).toBe(201);

    const rename = (storeId: string, headers: Record<string, string>) => call(member.token, 'PATCH', `/api/v1/stores/${storeId}`, { name: 'Renamed' }, headers);
    expect((await rename(a.id, { 'x-store-id': a.id })).statusCode).toBe(200);
    for (const [storeId, headers, code] of [
      [b.id, { 'x-store-id': a.id }, 'store.access_denied'],
      [b.id, { 'x-store-id': b.id }, 'store.access_denied'],
      [a.id, {}, 'auth.forbidden'],
    ] as const) {
      const response = await rename(storeId, headers);
      expect(response.statusCode).toBe(403);
      expect(response.json().code).toBe(code);
    }
    const names = await t.admin.query<{ id: string; name: string }>('SELECT id, name FROM stores WHERE tenant_id = $1 ORDER BY id', [tenant.id]);
    expect(names.find((row) => row.id === b.id)!.name).toBe(b.name);

    // Taken away: refused at the next request, in its store too.
    expect((await take(owner.token, member.person.id, roleId, a.id)).statusCode).toBe(204);
    expect((await rename(a.id, { 'x-store-id': a.id })).json().code).toBe('auth.forbidden');
  });
});

describe('routes under /api/v1/users', () => {
  it('live beside the organization module’s: /me, /:id, /me/permissions and /:id/roles each answer their own', async () => {
    const { owner, member } = await org();
    const me = await call(owner.token, 'GET', '/api/v1/users/me');
    expect(me.statusCode).toBe(200);
    expect(me.json().user.id).toBe(owner.person.id);
    const one = await call(owner.token, 'GET', `/api/v1/users/${member.person.id}`);
    expect(one.json()).toMatchObject({ id: member.person.id, role: 'member' });
    const mine = await call(owner.token, 'GET', '/api/v1/users/me/permissions');
    expect(mine.json()).toMatchObject({ tenantId: owner.tenant.id, permissions: expect.arrayContaining(['billing.manage']) });
    expect((await rolesOf(owner.token, member.person.id)).map((item) => item.source)).toEqual(['membership']);
    // "me" is not a member id: /me/roles is the parametric route, refused by its schema.
    expect((await call(owner.token, 'GET', '/api/v1/users/me/roles')).statusCode).toBe(400);
    for (const [method, url] of [
      ['GET', '/api/v1/users/me'],
      ['GET', '/api/v1/users/:id'],
      ['PATCH', '/api/v1/users/:id'],
      ['GET', '/api/v1/users/me/permissions'],
      ['GET', '/api/v1/users/:id/roles'],
      ['POST', '/api/v1/users/:id/roles'],
      ['DELETE', '/api/v1/users/:id/roles/:roleId'],
    ] as const) {
      expect(t.app.hasRoute({ method, url }), `${method} ${url}`).toBe(true);
    }
  });

  it('honours Idempotency-Key: the same POST replays the first answer', async () => {
    const { tenant, owner, member } = await org();
    const roleId = await customRole(tenant.id, 'tenant', ['audit.view']);
    const headers = { 'idempotency-key': `assign-${uuidv7()}` };
    const first = await give(owner.token, member.person.id, { roleId }, headers);
    const replay = await give(owner.token, member.person.id, { roleId }, headers);
    expect([first.statusCode, replay.statusCode]).toEqual([201, 201]);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(await roleAudit(tenant.id)).toHaveLength(1);
  });
});
