/**
 * `GET /api/v1/features` over HTTP: every feature and limit of the catalog with what the tenant has, from
 * its plan and overrides, served from the entitlements cache; and invalidation across processes — a
 * second app on the same database (with PostgreSQL its own pool and caches; PGlite belongs to one process,
 * so there the second app shares the database handle but has caches of its own) serves a change made
 * through the first app (overrides, a plan change, a change of the plan itself) at the member's very next
 * request, on this route and on a route declaring `config.feature`.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, signedInMember, signedInOwner, signedInPlatformAdmin } from '../../../test/auth.js';
import { createSecondApp, createTestApp, type TestApp } from '../../../test/harness.js';
import { uuidv7 } from '../../core/db/ids.js';
import type { EntitlementsService } from './entitlements.js';
import { FEATURE_CODES, FEATURES, LIMIT_KEYS, LIMITS } from './features.js';

/** A tenant route declaring a plan feature: 200 exactly when the tenant has `custom_roles`. */
const registerProbe = (app: FastifyInstance) => {
  app.get('/test/custom-roles-probe', { config: { permission: 'tenant.view', feature: 'custom_roles' } }, async () => ({ ok: true }));
};

let t: TestApp;
let entitlements: EntitlementsService;
let admin: { token: string };

beforeAll(async () => {
  t = await createTestApp({}, { configure: registerProbe });
  // Taken now: a second app on the same platform (PGlite) binds its own service to the platform.
  entitlements = t.platform.entitlements as EntitlementsService;
  admin = await signedInPlatformAdmin(t.app);
});
afterAll(() => t?.close());

const features = (app: FastifyInstance, token: string) => app.inject({ method: 'GET', url: '/api/v1/features', headers: bearer(token) });
const probe = (app: FastifyInstance, token: string) => app.inject({ method: 'GET', url: '/test/custom-roles-probe', headers: bearer(token) });
const planOf = async (code: string) => (await t.admin.query<{ id: string; name: string }>('SELECT id, name FROM plans WHERE code = $1', [code]))[0]!;
const revisionOf = async (tenantId: string) =>
  Number((await t.admin.query<{ r: string }>('SELECT greatest(s.revision, p.revision) AS r FROM subscriptions s JOIN plans p ON p.id = s.plan_id WHERE s.tenant_id = $1', [tenantId]))[0]!.r);

type Features = { plan: { id: string; code: string; name: string }; status: string; features: Array<{ code: string; enabled: boolean }>; limits: Array<{ limit: string; max: number | null }> };
const enabled = (body: Features) => body.features.filter((feature) => feature.enabled).map((feature) => feature.code);
const maxOf = (body: Features, limit: string) => body.limits.find((entry) => entry.limit === limit)!.max;

describe('GET /api/v1/features', () => {
  it('answers a member every feature and limit of the catalog, with the plan and status', async () => {
    const owner = await signedInOwner(t.app);
    const member = await signedInMember(t.app, owner.tenant.id);
    const response = await features(t.app, member.token);
    expect(response.statusCode, response.body).toBe(200);
    const enterprise = await planOf('enterprise');
    expect(response.json()).toEqual({
      plan: { id: enterprise.id, code: 'enterprise', name: enterprise.name },
      status: 'active',
      features: FEATURE_CODES.map((code) => ({ code, description: FEATURES[code], enabled: true })),
      limits: LIMIT_KEYS.map((limit) => ({ limit, description: LIMITS[limit], max: null })),
    });
  });

  it('follows the plan: on Free, no feature and its limits', async () => {
    const owner = await signedInOwner(t.app);
    await t.admin.query('UPDATE subscriptions SET plan_id = $2 WHERE tenant_id = $1', [owner.tenant.id, (await planOf('free')).id]);
    const body = (await features(t.app, owner.token)).json<Features>();
    expect(body.plan.code).toBe('free');
    expect(enabled(body)).toEqual([]);
    expect(body.limits.map((entry) => [entry.limit, entry.max])).toEqual([
      ['maxUsers', 3],
      ['maxStores', 1],
      ['maxStorageMb', 100],
      ['maxApiCallsPerMonth', 10000],
      ['maxWebhookEndpoints', 0],
      ['maxApiKeys', 0],
    ]);
    const refused = await probe(t.app, owner.token);
    expect(refused.statusCode).toBe(402);
    expect(refused.json()).toMatchObject({ code: 'plan.feature_unavailable', feature: 'custom_roles' });
  });

  it('is served from the cache at the revision the request authenticated with', async () => {
    const owner = await signedInOwner(t.app);
    expect((await features(t.app, owner.token)).statusCode).toBe(200);
    expect(entitlements.get(owner.tenant.id, await revisionOf(owner.tenant.id))).not.toBeInstanceOf(Promise);
  });

  it('answers 401 without a credential and 403 to a person acting in no tenant', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/features' })).statusCode).toBe(401);
    expect((await features(t.app, admin.token)).statusCode).toBe(403);
  });
});

describe('invalidation across processes', () => {
  let other: FastifyInstance;
  beforeAll(async () => {
    other = await createSecondApp(t, { configure: registerProbe });
  });
  afterAll(() => other?.close());

  /** A member whose tenant's entitlements both apps have cached. */
  async function warmBoth() {
    const owner = await signedInOwner(t.app);
    const member = await signedInMember(t.app, owner.tenant.id);
    for (const app of [t.app, other]) {
      expect(enabled((await features(app, member.token)).json())).toContain('custom_roles');
      expect((await probe(app, member.token)).statusCode).toBe(200);
    }
    // App 2 holds the entries a change must not let it serve again (its own cache, not app 1's).
    const otherCache = other.platform.entitlements as EntitlementsService;
    expect(otherCache).not.toBe(entitlements);
    expect(otherCache.get(owner.tenant.id, await revisionOf(owner.tenant.id))).not.toBeInstanceOf(Promise);
    return { tenantId: owner.tenant.id, member };
  }
  const admin$ = (method: 'PUT' | 'PATCH' | 'POST', url: string, payload: object) => t.app.inject({ method, url, headers: bearer(admin.token), payload });

  it('app 2 serves an override set and cleared through app 1 at the very next request, on /features and on a feature route', async () => {
    const { tenantId, member } = await warmBoth();
    const set = await admin$('PUT', `/api/v1/admin/tenants/${tenantId}/entitlements`, { features: { custom_roles: false }, limits: { maxStores: 4 } });
    expect(set.statusCode, set.body).toBe(200);
    const after = (await features(other, member.token)).json<Features>();
    expect(enabled(after)).not.toContain('custom_roles');
    expect(maxOf(after, 'maxStores')).toBe(4);
    expect((await probe(other, member.token)).json()).toMatchObject({ status: 402, code: 'plan.feature_unavailable' });

    expect((await admin$('PUT', `/api/v1/admin/tenants/${tenantId}/entitlements`, {})).statusCode).toBe(200);
    expect((await probe(other, member.token)).statusCode).toBe(200);
    const cleared = (await features(other, member.token)).json<Features>();
    expect(enabled(cleared)).toContain('custom_roles');
    expect(maxOf(cleared, 'maxStores')).toBeNull();
  });

  it('app 2 serves a plan change made through PUT /admin/tenants/:id/subscription at the very next request', async () => {
    const { tenantId, member } = await warmBoth();
    const free = await planOf('free');
    expect((await admin$('PUT', `/api/v1/admin/tenants/${tenantId}/subscription`, { planId: free.id })).statusCode).toBe(200);
    const after = (await features(other, member.token)).json<Features>();
    expect(after.plan.code).toBe('free');
    expect(enabled(after)).toEqual([]);
    expect(maxOf(after, 'maxUsers')).toBe(3);
    expect((await probe(other, member.token)).statusCode).toBe(402);
  });

  it('app 2 serves a change of the plan itself (PATCH /admin/plans/:id) at the very next request, both ways', async () => {
    const { tenantId, member } = await warmBoth();
    const limits = { maxUsers: 10, maxStores: 5, maxStorageMb: 100, maxApiCallsPerMonth: 1000, maxWebhookEndpoints: 1, maxApiKeys: 1 };
    const created = await admin$('POST', '/api/v1/admin/plans', { code: `t-${uuidv7().slice(-12)}`, name: 'Team', currency: 'USD', prices: { monthly: 900 }, limits, features: [] });
    expect(created.statusCode, created.body).toBe(201);
    const planId = created.json<{ id: string }>().id;
    expect((await admin$('PUT', `/api/v1/admin/tenants/${tenantId}/subscription`, { planId })).statusCode).toBe(200);
    expect((await probe(other, member.token)).statusCode).toBe(402);

    expect((await admin$('PATCH', `/api/v1/admin/plans/${planId}`, { features: ['custom_roles'], limits: { maxStores: 7 } })).statusCode).toBe(200);
    expect((await probe(other, member.token)).statusCode).toBe(200);
    const after = (await features(other, member.token)).json<Features>();
    expect(enabled(after)).toEqual(['custom_roles']);
    expect(maxOf(after, 'maxStores')).toBe(7);

    expect((await admin$('PATCH', `/api/v1/admin/plans/${planId}`, { features: [] })).statusCode).toBe(200);
    expect(enabled((await features(other, member.token)).json())).toEqual([]);
    expect((await probe(other, member.token)).statusCode).toBe(402);
  });
});
