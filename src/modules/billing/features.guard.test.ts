/**
 * `config.feature`: POST /roles needs `custom_roles` (402 `plan.feature_unavailable` without it), from
 * the plan with the platform's overrides, seen at the next request. Changing or deleting the custom roles
 * a tenant already has does not need it (a downgraded tenant can still narrow or remove them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedInOwner } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { roleApi } from '../../../test/role-api.js';
import { setSubscription } from '../../../test/subscription-fixtures.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

const { call, roleName, createRole } = roleApi(() => t);

const customRoles = async (tenantId: string) => (await t.admin.query('SELECT id FROM roles WHERE tenant_id = $1 AND key IS NULL', [tenantId])).length;
const newRole = () => ({ name: roleName(), scope: 'tenant', permissions: ['stores.view'] });

describe('POST /roles needs the custom_roles feature', () => {
  it('Basic (without it): 402 plan.feature_unavailable naming the feature, and no role is created', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    await setSubscription(t.app, tenant.id, { plan: 'basic' });
    const response = await call(token, 'POST', '/roles', newRole());
    expect(response.statusCode).toBe(402);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ status: 402, code: 'plan.feature_unavailable', feature: 'custom_roles' });
    expect(await customRoles(tenant.id)).toBe(0);
    // Reading roles is not a feature of the plan.
    expect((await call(token, 'GET', '/roles')).statusCode).toBe(200);
  });

  it('Pro (with it): 201', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    await setSubscription(t.app, tenant.id, { plan: 'pro' });
    expect((await call(token, 'POST', '/roles', newRole())).statusCode).toBe(201);
    expect(await customRoles(tenant.id)).toBe(1);
  });

  it('overrides apply at the next request: Basic with the feature turned on (201), Pro with it turned off (402)', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    await setSubscription(t.app, tenant.id, { plan: 'basic' });
    expect((await call(token, 'POST', '/roles', newRole())).statusCode).toBe(402);
    await setSubscription(t.app, tenant.id, { featureOverrides: { custom_roles: true } });
    expect((await call(token, 'POST', '/roles', newRole())).statusCode).toBe(201);

    await setSubscription(t.app, tenant.id, { plan: 'pro', featureOverrides: { custom_roles: false } });
    expect((await call(token, 'POST', '/roles', newRole())).json()).toMatchObject({ code: 'plan.feature_unavailable' });
    await setSubscription(t.app, tenant.id, { featureOverrides: {} });
    expect((await call(token, 'POST', '/roles', newRole())).statusCode).toBe(201);
    expect(await customRoles(tenant.id)).toBe(2);
  });

  it('after a downgrade, existing custom roles can still be changed and deleted', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    await setSubscription(t.app, tenant.id, { plan: 'pro' });
    const role = await createRole(token, { permissions: ['stores.view', 'users.view'] });
    await setSubscription(t.app, tenant.id, { plan: 'basic' });
    const narrowed = await call(token, 'PATCH', `/roles/${role.id}`, { permissions: ['stores.view'] });
    expect(narrowed.statusCode, narrowed.body).toBe(200);
    expect(narrowed.json().permissions).toEqual(['stores.view']);
    expect((await call(token, 'DELETE', `/roles/${role.id}`)).statusCode).toBe(204);
    expect(await customRoles(tenant.id)).toBe(0);
  });
});
