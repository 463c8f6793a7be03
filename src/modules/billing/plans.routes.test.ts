/**
 * The public plan catalog over HTTP (`/api/v1/subscriptions/plans`): the seeded defaults in catalog
 * order with their full shape, private and archived plans never disclosed (list or by id/code), the
 * cache header, and no credential needed (a bad one is ignored).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, signedInPlatformAdmin } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { uuidv7 } from '../../core/db/ids.js';

const PLANS = '/api/v1/subscriptions/plans';
const ADMIN_PLANS = '/api/v1/admin/plans';
const SEEDED = ['free', 'basic', 'pro', 'enterprise'];

let t: TestApp;
let adminToken: string;

beforeAll(async () => {
  t = await createTestApp();
  adminToken = (await signedInPlatformAdmin(t.app)).token;
});
afterAll(() => t?.close());

interface PlanBody {
  id: string;
  code: string;
  sortOrder: number;
  [key: string]: unknown;
}

const get = (url: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url, headers });
const listCodes = async () => ((await get(PLANS)).json().data as PlanBody[]).map((plan) => plan.code);

/** A plan made through the admin API (public unless told otherwise). */
async function makePlan(overrides: Record<string, unknown> = {}): Promise<PlanBody> {
  const limits = { maxUsers: 1, maxStores: 1, maxStorageMb: 1, maxApiCallsPerMonth: 1, maxWebhookEndpoints: 0, maxApiKeys: 0 };
  const body = { code: `t-${uuidv7().slice(-12)}`, name: 'Test plan', currency: 'EUR', prices: { monthly: 500 }, limits, features: [], ...overrides };
  const response = await t.app.inject({ method: 'POST', url: ADMIN_PLANS, headers: bearer(adminToken), payload: body });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

describe('GET /subscriptions/plans', () => {
  it('lists the seeded defaults in catalog order, with every field, to a caller with no credential', async () => {
    const response = await get(PLANS);
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('public, max-age=60');
    const { data } = response.json() as { data: PlanBody[] };
    expect(Object.keys(response.json())).toEqual(['data']);
    expect(data.map((plan) => plan.code).filter((code) => SEEDED.includes(code))).toEqual(SEEDED);
    // Catalog order throughout: sortOrder, then code.
    const order = data.map((plan) => [plan.sortOrder, plan.code] as const);
    expect(order).toEqual([...order].sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1])));

    const byCode = Object.fromEntries(data.map((plan) => [plan.code, plan]));
    expect(byCode.free).toEqual({
      id: expect.any(String),
      code: 'free',
      name: 'Free',
      description: expect.any(String),
      currency: 'USD',
      prices: { monthly: 0, yearly: 0 },
      trialDays: 0,
      limits: { maxUsers: 3, maxStores: 1, maxStorageMb: 100, maxApiCallsPerMonth: 10000, maxWebhookEndpoints: 0, maxApiKeys: 0 },
      features: [],
      isPublic: true,
      sortOrder: 10,
      archived: false,
      archivedAt: null,
      createdAt: expect.stringMatching(/Z$/),
      updatedAt: expect.stringMatching(/Z$/),
    });
    expect(byCode.enterprise!.limits).toEqual({ maxUsers: null, maxStores: null, maxStorageMb: null, maxApiCallsPerMonth: null, maxWebhookEndpoints: null, maxApiKeys: null });
    // Features come in catalog order, whatever order the row holds them in.
    expect(byCode.pro!.features).toEqual(['audit_export', 'webhooks', 'api_keys', 'custom_roles', 'priority_support']);
    expect(byCode.basic!.prices).toEqual({ monthly: 1900, yearly: 19000 });
  });

  it('answers the same with a bad or a valid credential (the route is public)', async () => {
    const anonymous = await get(PLANS);
    for (const headers of [bearer('not-a-token'), { authorization: 'Basic Zm9vOmJhcg==' }, bearer(adminToken)]) {
      const response = await get(PLANS, headers);
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toEqual(anonymous.json());
    }
  });

  it('leaves out private and archived plans, and lists a new public one in its place', async () => {
    const hidden = await makePlan({ isPublic: false, sortOrder: 15 });
    const archived = await makePlan({ sortOrder: 15 });
    const listed = await makePlan({ sortOrder: 15 });
    expect((await t.app.inject({ method: 'POST', url: `${ADMIN_PLANS}/${archived.id}/archive`, headers: bearer(adminToken) })).statusCode).toBe(200);

    const codes = await listCodes();
    expect(codes).not.toContain(hidden.code);
    expect(codes).not.toContain(archived.code);
    expect(codes.indexOf(listed.code)).toBe(codes.indexOf('free') + 1);
  });
});

describe('GET /subscriptions/plans/:id', () => {
  it('answers a public plan by id and by code, with no credential or a bad one', async () => {
    const pro = ((await get(PLANS)).json().data as PlanBody[]).find((plan) => plan.code === 'pro')!;
    const byId = await get(`${PLANS}/${pro.id}`);
    expect(byId.statusCode).toBe(200);
    expect(byId.json()).toEqual(pro);
    expect(byId.headers['cache-control']).toBe('public, max-age=60');
    const byCode = await get(`${PLANS}/pro`, bearer('garbage'));
    expect(byCode.statusCode).toBe(200);
    expect(byCode.json()).toEqual(pro);
  });

  it('answers 404 plan.not_found for an unknown, private or archived plan, by id or by code', async () => {
    const hidden = await makePlan({ isPublic: false });
    const archived = await makePlan();
    await t.app.inject({ method: 'POST', url: `${ADMIN_PLANS}/${archived.id}/archive`, headers: bearer(adminToken) });
    // The same plan is visible while public and unarchived: the 404s below are about its state.
    const visible = await makePlan();
    expect((await get(`${PLANS}/${visible.id}`)).statusCode).toBe(200);

    for (const path of [uuidv7(), 'no-such-plan', hidden.id, hidden.code, archived.id, archived.code]) {
      const response = await get(`${PLANS}/${path}`);
      expect(response.statusCode, path).toBe(404);
      expect(response.json().code).toBe('plan.not_found');
      expect(response.headers['cache-control']).not.toBe('public, max-age=60');
    }
  });

  it('refuses a value that is neither an id nor a code (400)', async () => {
    const response = await get(`${PLANS}/Not%20A%20Code`);
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('request.validation_failed');
  });
});
