/**
 * No privilege escalation through a role's content: nobody puts into a role, or changes or deletes a role
 * that grants, a permission they do not hold; nobody changes or deletes a custom role they hold
 * themselves. And a role's change reaches its holders at their very next request (the versioned grants
 * cache), tenant-wide and in a store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assignToStore, createStore, signedInMember, signedInOwner } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { roleApi } from '../../../test/role-api.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

const { call, createRole, holdRole, roleExists, auditRows } = roleApi(() => t);

/** An owner's tenant with an admin (who lacks billing.manage, tenant.delete and tenant.transfer). */
async function tenantWithAdmin() {
  const owner = await signedInOwner(t.app);
  const admin = await signedInMember(t.app, owner.tenant.id, 'admin');
  return { owner, admin, tenantId: owner.tenant.id };
}

describe('granting what you lack', () => {
  it('an admin cannot create a role with billing.manage (403 role.privilege_escalation); nothing is written', async () => {
    const { admin, tenantId } = await tenantWithAdmin();
    const response = await call(admin.token, 'POST', '/roles', { name: 'Treasurer', scope: 'tenant', permissions: ['billing.view', 'billing.manage'] });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ code: 'role.privilege_escalation', detail: expect.stringContaining('billing.manage') });
    expect(response.json().detail).not.toContain('billing.view');
    expect(await auditRows(tenantId, 'role.created')).toEqual([]);
    // What the admin holds, they may grant.
    await createRole(admin.token, { name: 'Bookkeeper', permissions: ['billing.view', 'audit.view'] });
  });

  it('an admin cannot change or delete a role granting billing.manage, nor add it to one', async () => {
    const { owner, admin } = await tenantWithAdmin();
    const treasurer = await createRole(owner.token, { permissions: ['billing.manage'] });
    const plain = await createRole(owner.token, { permissions: ['billing.view'] });
    const rename = await call(admin.token, 'PATCH', `/roles/${treasurer.id}`, { name: 'Renamed' });
    expect(rename.statusCode).toBe(403);
    expect(rename.json().code).toBe('role.privilege_escalation');
    const add = await call(admin.token, 'PATCH', `/roles/${plain.id}`, { permissions: ['billing.view', 'billing.manage'] });
    expect(add.statusCode).toBe(403);
    expect(add.json().code).toBe('role.privilege_escalation');
    const remove = await call(admin.token, 'DELETE', `/roles/${treasurer.id}`);
    expect(remove.statusCode).toBe(403);
    expect(remove.json().code).toBe('role.privilege_escalation');
    expect((await call(owner.token, 'GET', `/roles/${plain.id}`)).json().permissions).toEqual(['billing.view']);
    expect(await roleExists(owner.tenant.id, treasurer.id)).toBe(true);
  });

  it('a member without roles.manage is refused before anything else (403 auth.forbidden)', async () => {
    const { owner } = await tenantWithAdmin();
    const member = await signedInMember(t.app, owner.tenant.id);
    const role = await createRole(owner.token);
    for (const [method, url] of [['PATCH', `/roles/${role.id}`], ['DELETE', `/roles/${role.id}`]] as const) {
      const response = await call(member.token, method, url, method === 'PATCH' ? { name: 'Mine' } : undefined);
      expect(response.statusCode).toBe(403);
      expect(response.json().code).toBe('auth.forbidden');
    }
  });
});

describe('nobody edits their own roles', () => {
  it('a member holding a custom role with roles.manage manages other roles within their grants, but not their own (403 role.self_assignment)', async () => {
    const { owner, tenantId } = await tenantWithAdmin();
    const manager = await createRole(owner.token, { name: 'Role manager', permissions: ['roles.view', 'roles.manage', 'audit.view'] });
    const holder = await signedInMember(t.app, tenantId);
    await holdRole(tenantId, holder.person.id, manager.id);

    // Custom grants count: audit.view comes from the custom role, users.view from the member role.
    const made = await createRole(holder.token, { permissions: ['audit.view', 'users.view'] });
    expect((await call(holder.token, 'PATCH', `/roles/${made.id}`, { name: 'Made by holder' })).statusCode).toBe(200);
    expect((await call(holder.token, 'POST', '/roles', { name: 'Too much', scope: 'tenant', permissions: ['audit.export'] })).json().code).toBe('role.privilege_escalation');

    const patch = await call(holder.token, 'PATCH', `/roles/${manager.id}`, { permissions: ['roles.view', 'roles.manage', 'audit.view', 'users.manage'] });
    expect(patch.statusCode).toBe(403);
    expect(patch.json().code).toBe('role.self_assignment');
    const rename = await call(holder.token, 'PATCH', `/roles/${manager.id}`, { name: 'Mine now' });
    expect(rename.json().code).toBe('role.self_assignment');
    const remove = await call(holder.token, 'DELETE', `/roles/${manager.id}`);
    expect(remove.statusCode).toBe(403);
    expect(remove.json().code).toBe('role.self_assignment');
    expect((await call(owner.token, 'GET', `/roles/${manager.id}`)).json()).toMatchObject({ name: 'Role manager', permissions: ['roles.view', 'roles.manage', 'audit.view'] });
  });

  it('holding a store role in any store counts as holding it', async () => {
    const { owner, admin, tenantId } = await tenantWithAdmin();
    const store = await createStore(t.app, tenantId);
    const cashier = await createRole(owner.token, { scope: 'store', permissions: ['stores.view'] });
    await assignToStore(t.app, tenantId, store.id, admin.person);
    await holdRole(tenantId, admin.person.id, cashier.id, store.id);
    const response = await call(admin.token, 'PATCH', `/roles/${cashier.id}`, { permissions: ['stores.view', 'stores.update'] });
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('role.self_assignment');
  });
});

describe('a role change reaches its holders at their next request', () => {
  it('tenant scope: adding settings.manage lets the holder change settings; removing it refuses the next request', async () => {
    const { owner, tenantId } = await tenantWithAdmin();
    const role = await createRole(owner.token, { permissions: ['users.view'] });
    const holder = await signedInMember(t.app, tenantId);
    await holdRole(tenantId, holder.person.id, role.id);
    const changeSettings = () => call(holder.token, 'PATCH', '/tenants/current/settings', { locale: 'en-GB' });

    expect((await changeSettings()).statusCode).toBe(403);
    expect((await call(owner.token, 'PATCH', `/roles/${role.id}`, { permissions: ['users.view', 'settings.manage'] })).statusCode).toBe(200);
    expect((await changeSettings()).statusCode).toBe(200);
    expect((await call(owner.token, 'PATCH', `/roles/${role.id}`, { permissions: ['users.view'] })).statusCode).toBe(200);
    const refused = await changeSettings();
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('auth.forbidden');
  });

  it('store scope: adding stores.update lets the holder change that store (X-Store-ID), not another', async () => {
    const { owner, tenantId } = await tenantWithAdmin();
    const store = await createStore(t.app, tenantId);
    const other = await createStore(t.app, tenantId);
    const role = await createRole(owner.token, { scope: 'store', permissions: ['stores.view'] });
    const holder = await signedInMember(t.app, tenantId);
    await assignToStore(t.app, tenantId, store.id, holder.person);
    await assignToStore(t.app, tenantId, other.id, holder.person);
    await holdRole(tenantId, holder.person.id, role.id, store.id);
    const rename = (storeId: string) => call(holder.token, 'PATCH', `/stores/${storeId}`, { name: 'Renamed by holder' }, { 'x-store-id': storeId });

    expect((await rename(store.id)).statusCode).toBe(403);
    expect((await call(owner.token, 'PATCH', `/roles/${role.id}`, { permissions: ['stores.view', 'stores.update'] })).statusCode).toBe(200);
    expect((await rename(store.id)).statusCode).toBe(200);
    expect((await rename(other.id)).statusCode).toBe(403);
  });
});
