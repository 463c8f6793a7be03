/**
 * Read-only mode: while the subscription is canceled or expired, every mutating tenant route answers 402
 * `subscription.inactive` (checked over every registered route), reads and `self` routes work, the
 * routes declaring `allowWhenInactive` stay open, platform routes are unaffected, and subscribing again
 * reopens the tenant at the next request. The OpenAPI document says so on exactly the routes concerned.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, signedInMember, signedInOwner, signedInPlatformAdmin, TEST_PASSWORD } from '../../../test/auth.js';
import type { TestApp } from '../../../test/harness.js';
import { createAppWithRoutes, type DeclaredRoute } from '../../../test/route-security/routes.js';
import { setSubscription } from '../../../test/subscription-fixtures.js';
import { uuidv7 } from '../../core/db/ids.js';
import { isRefusedWhenInactive } from '../../core/tenancy/route-entitlements.js';
import type { SubscriptionStatus } from './subscriptions.table.js';

let t: TestApp;
let routes: DeclaredRoute[];

beforeAll(async () => {
  ({ t, routes } = await createAppWithRoutes());
});
afterAll(() => t?.close());

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
const call = (token: string, method: Method, url: string, payload?: object) =>
  t.app.inject({ method, url: `/api/v1${url}`, headers: bearer(token), ...(payload ? { payload } : {}) });

async function ownerWithStatus(status: SubscriptionStatus) {
  const owner = await signedInOwner(t.app);
  await setSubscription(t.app, owner.tenant.id, { status });
  return owner;
}


describe.each(['expired', 'canceled'] as const)('a tenant whose subscription is %s', (status) => {
  it('answers 402 subscription.inactive on mutating tenant routes, and nothing changes', async () => {
    const { tenant, token } = await ownerWithStatus(status);
    const refused = [
      await call(token, 'POST', '/stores', { name: 'New', code: 'NEW' }),
      await call(token, 'PATCH', '/tenants/current', { name: 'Renamed' }),
      await call(token, 'PATCH', '/tenants/current/settings', { locale: 'fr' }),
      await call(token, 'POST', '/users/invite', { email: 'someone@example.test' }),
      await call(token, 'POST', '/users', { email: 'direct@example.test', name: 'Direct' }),
      await call(token, 'POST', '/roles', { name: 'Auditor', scope: 'tenant', permissions: [] }),
    ];
    for (const response of refused) {
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.json()).toMatchObject({ status: 402, code: 'subscription.inactive' });
      expect(response.json().detail).toContain(status);
    }
    const [row] = await t.admin.query<{ name: string; stores: number; invitations: number }>(
      `SELECT name, (SELECT count(*)::int FROM stores WHERE tenant_id = $1) AS stores, (SELECT count(*)::int FROM invitations WHERE tenant_id = $1) AS invitations FROM tenants WHERE id = $1`,
      [tenant.id],
    );
    expect(row).toEqual({ name: tenant.name, stores: 0, invitations: 0 });
  });

  it('still answers reads and the person’s own (`self`) routes', async () => {
    const { token } = await ownerWithStatus(status);
    for (const url of ['/stores', '/tenants/current', '/users', '/roles', '/invitations']) expect((await call(token, 'GET', url)).statusCode, url).toBe(200);
    const profile = await call(token, 'PATCH', '/users/me', { name: 'Still Me' });
    expect(profile.statusCode, profile.body).toBe(200);
    expect((await call(token, 'POST', '/auth/logout')).statusCode).toBe(204);
  });

  it('keeps open the routes declaring allowWhenInactive: leaving and closing the tenant', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    const leaving = await signedInMember(t.app, tenant.id);
    await setSubscription(t.app, tenant.id, { status });

    expect((await call(leaving.token, 'POST', '/tenants/current/leave')).statusCode).toBe(204);
    const closed = await call(token, 'DELETE', '/tenants/current', { confirm: tenant.slug, password: TEST_PASSWORD });
    expect(closed.statusCode, closed.body).toBe(202);
  });
});

describe('what read-only mode does not touch', () => {
  it('trialing and past_due tenants are not read-only', async () => {
    for (const status of ['trialing', 'past_due'] as const) {
      const { token } = await ownerWithStatus(status);
      expect((await call(token, 'POST', '/stores', { name: 'Open', code: 'OPEN' })).statusCode, status).toBe(201);
    }
  });

  it('subscribing again reopens the tenant at the next request', async () => {
    const { tenant, token } = await ownerWithStatus('expired');
    expect((await call(token, 'POST', '/stores', { name: 'Back', code: 'BACK' })).statusCode).toBe(402);
    await setSubscription(t.app, tenant.id, { status: 'active' });
    expect((await call(token, 'POST', '/stores', { name: 'Back', code: 'BACK' })).statusCode).toBe(201);
  });

  it('platform routes act on an expired tenant as on any other', async () => {
    const { tenant } = await ownerWithStatus('expired');
    const { token } = await signedInPlatformAdmin(t.app);
    const renamed = await call(token, 'PATCH', `/admin/tenants/${tenant.id}`, { name: 'Renamed by the platform' });
    expect(renamed.statusCode, renamed.body).toBe(200);
  });
});

/** A request path for a registered URL: every path parameter an unknown id. */
const concretePath = (url: string) => url.replace(/:(\w+)(\([^)]*\))?/g, () => uuidv7()).replace('*', 'x');

describe('every route', () => {
  it('every mutating tenant route without allowWhenInactive answers 402 subscription.inactive on an expired tenant', async () => {
    const { token } = await ownerWithStatus('expired');
    const concerned = routes.filter((route) => isRefusedWhenInactive(route.method, route.config));
    expect(concerned.length).toBeGreaterThan(15);
    const open: string[] = [];
    for (const route of concerned) {
      const response = await t.app.inject({ method: route.method as Method, url: concretePath(route.url), headers: bearer(token) });
      if (response.statusCode !== 402 || response.json().code !== 'subscription.inactive') open.push(`${route.name} → ${response.statusCode} ${response.body.slice(0, 120)}`);
    }
    expect(open, `Mutating tenant routes not refused in read-only mode:\n  ${open.join('\n  ')}`).toEqual([]);
  });

  it('allowWhenInactive is declared, besides billing’s own routes, exactly where a lapsed tenant must still act', () => {
    const declared = routes.filter((route) => route.config.allowWhenInactive === true && !route.url.startsWith('/api/v1/subscriptions')).map((route) => route.name);
    expect(declared.sort()).toEqual([
      'DELETE /api/v1/tenants/current', // closing: a tenant that stopped paying can still go
      'POST /api/v1/tenants/current/leave', // nobody is held in a tenant
    ]);
  });

  it('the OpenAPI document names the 402 on exactly the routes that can answer it', () => {
    const paths = t.app.swagger().paths as Record<string, Record<string, { responses: Record<string, { description?: string }> }>>;
    const operation = (route: DeclaredRoute) => (paths[route.url.replace(/:(\w+)(\([^)]*\))?/g, '{$1}')] ?? paths[`${route.url}/`])?.[route.method.toLowerCase()];
    const wrong: string[] = [];
    let checked = 0;
    for (const route of routes.filter((candidate) => candidate.method !== 'HEAD')) {
      const documented = operation(route);
      if (!documented) continue; // hidden (docs plumbing)
      checked += 1;
      const says = documented.responses['402']?.description?.includes('subscription.inactive') === true;
      if (says !== isRefusedWhenInactive(route.method, route.config)) wrong.push(route.name);
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(50);
    const descriptionOf = (path: string, method: string) => paths[path]?.[method]?.responses['402']?.description ?? paths[`${path}/`]?.[method]?.responses['402']?.description;
    expect(descriptionOf('/api/v1/stores', 'post')).toContain('plan.limit_reached');
    expect(descriptionOf('/api/v1/users/invite', 'post')).toContain('maxUsers');
    expect(descriptionOf('/api/v1/roles', 'post')).toContain('plan.feature_unavailable');
    expect(descriptionOf('/api/v1/tenants/current', 'delete')).toBeUndefined();
  });
});
