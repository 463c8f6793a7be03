/**
 * GET /api/v1/users/me/permissions: the caller's roles and effective permissions in the token's tenant
 * (tenant-wide, plus a store's when asked and allowed), in catalog order; nothing without a tenant.
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assignToStore, bearer, createPerson, createStore, signedInMember, signedInOwner, signInAs } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { uuidv7 } from '../../core/db/ids.js';
import { roleAssignments, roles } from './authorization.table.js';
import { ALL_PERMISSIONS, BUILTIN_ROLE_PERMISSIONS } from './permissions.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

const mine = (token: string, storeId?: string) => t.app.inject({ method: 'GET', url: `/api/v1/users/me/permissions${storeId ? `?storeId=${storeId}` : ''}`, headers: bearer(token) });
const inCatalogOrder = (permissions: Iterable<string>) => ALL_PERMISSIONS.filter((permission) => new Set(permissions).has(permission));

async function customRole(tenantId: string, scope: 'tenant' | 'store', permissions: string[]): Promise<string> {
  const id = uuidv7();
  await t.platform.db.withTenant(tenantId, (tx) => tx.insert(roles).values({ tenantId, id, name: `Role ${id}`, scope, permissions }));
  return id;
}
const holdRole = (tenantId: string, userId: string, roleId: string, storeId: string | null = null) =>
  t.platform.db.withTenant(tenantId, (tx) => tx.insert(roleAssignments).values({ tenantId, userId, roleId, storeId }));

describe('GET /users/me/permissions', () => {
  it('the owner holds every permission, in catalog order', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    const response = await mine(token);
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ tenantId: tenant.id, storeId: null, permissions: ALL_PERMISSIONS });
    expect(body.roles).toEqual([expect.objectContaining({ source: 'membership', role: expect.objectContaining({ key: 'owner' }) })]);
  });

  it('a member: their built-in role’s permissions plus their custom tenant roles’, with the roles listed', async () => {
    const { tenant } = await signedInOwner(t.app);
    const member = await signedInMember(t.app, tenant.id, 'member');
    expect((await mine(member.token)).json().permissions).toEqual(inCatalogOrder(BUILTIN_ROLE_PERMISSIONS.member));

    const roleId = await customRole(tenant.id, 'tenant', ['audit.view', 'billing.view']);
    await holdRole(tenant.id, member.person.id, roleId);
    const body = (await mine(member.token)).json();
    expect(body.permissions).toEqual(inCatalogOrder([...BUILTIN_ROLE_PERMISSIONS.member, 'audit.view', 'billing.view']));
    expect(body.roles.map((item: { source: string }) => item.source)).toEqual(['membership', 'assignment']);
  });

  it('with storeId: adds the store role’s and the custom store roles’ permissions of that store only', async () => {
    const { tenant } = await signedInOwner(t.app);
    const member = await signedInMember(t.app, tenant.id, 'member');
    const [a, b] = [await createStore(t.app, tenant.id), await createStore(t.app, tenant.id)];
    await assignToStore(t.app, tenant.id, a.id, member.person, 'store_manager');
    await assignToStore(t.app, tenant.id, b.id, member.person, 'store_staff');
    await holdRole(tenant.id, member.person.id, await customRole(tenant.id, 'store', ['store_people.manage', 'stores.update']), b.id);

    const tenantWide = (await mine(member.token)).json();
    expect(tenantWide.permissions).toEqual(inCatalogOrder(BUILTIN_ROLE_PERMISSIONS.member));
    // Every role is listed whatever the store asked about.
    expect(tenantWide.roles).toHaveLength(4);
    const inA = (await mine(member.token, a.id)).json();
    expect(inA).toMatchObject({ storeId: a.id, permissions: inCatalogOrder([...BUILTIN_ROLE_PERMISSIONS.member, ...BUILTIN_ROLE_PERMISSIONS.store_manager]) });
    const inB = (await mine(member.token, b.id.toUpperCase())).json();
    expect(inB).toMatchObject({ storeId: b.id, permissions: inCatalogOrder([...BUILTIN_ROLE_PERMISSIONS.member, 'stores.update', 'store_people.manage']) });
  });

  it('a store the caller may not act in: 403 store.access_denied (not assigned, deleted, another tenant’s, unknown); stores.manage acts in any live store', async () => {
    const { tenant, token: ownerToken } = await signedInOwner(t.app);
    const member = await signedInMember(t.app, tenant.id, 'member');
    const store = await createStore(t.app, tenant.id);
    const deleted = await createStore(t.app, tenant.id, { deleted: true });
    await assignToStore(t.app, tenant.id, deleted.id, member.person, 'store_manager');
    const foreign = await createStore(t.app, (await signedInOwner(t.app)).tenant.id);
    for (const storeId of [store.id, deleted.id, foreign.id, uuidv7()]) {
      const response = await mine(member.token, storeId);
      expect(response.statusCode).toBe(403);
      expect(response.json().code).toBe('store.access_denied');
    }
    expect((await mine(ownerToken, store.id)).json()).toMatchObject({ storeId: store.id, permissions: ALL_PERMISSIONS });
    expect((await mine(ownerToken, deleted.id)).json().code).toBe('store.access_denied');

    // stores.manage through a custom role counts too.
    await t.platform.db.withTenant(tenant.id, (tx) => tx.delete(roleAssignments).where(and(eq(roleAssignments.tenantId, tenant.id), eq(roleAssignments.userId, member.person.id))));
    await holdRole(tenant.id, member.person.id, await customRole(tenant.id, 'tenant', ['stores.manage']));
    expect((await mine(member.token, store.id)).statusCode).toBe(200);
  });

  it('a token acting in no tenant, or in one where the membership is deactivated, holds nothing', async () => {
    const person = await createPerson(t.app);
    const noTenant = (await signInAs(t.app, person)).accessToken;
    expect((await mine(noTenant)).json()).toEqual({ tenantId: null, storeId: null, roles: [], permissions: [] });

    const { tenant } = await signedInOwner(t.app);
    const { person: deactivated, token } = await signedInMember(t.app, tenant.id, 'admin');
    expect((await mine(token)).json().tenantId).toBe(tenant.id);
    await t.admin.query(`UPDATE memberships SET status = 'deactivated' WHERE tenant_id = $1 AND user_id = $2`, [tenant.id, deactivated.id]);
    const response = await mine(token);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ tenantId: null, storeId: null, roles: [], permissions: [] });
  });

  it('needs a signed-in person (401 without a token) and a UUID storeId (400)', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/me/permissions' })).statusCode).toBe(401);
    const { token } = await signedInOwner(t.app);
    expect((await mine(token, 'not-a-uuid')).statusCode).toBe(400);
  });
});
