/**
 * `/api/v1/admin/plans` over HTTP: listing every plan (private and archived, filtered), creating one
 * (defaults, catalog order, Idempotency-Key), each validation error naming its field, a taken code,
 * changing one (merged prices and limits, code immutable, archived plans editable, no-op writes
 * nothing), archiving idempotently and unarchiving — each change in the platform audit trail with its
 * actor — and who may call: operators read but do not write, tenant owners and anonymous callers are refused.
 */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, signedInOwner, signedInPlatformAdmin, type Person } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { uuidv7 } from '../../core/db/ids.js';

const ADMIN_PLANS = '/api/v1/admin/plans';
const LIMITS = { maxUsers: 5, maxStores: 2, maxStorageMb: 512, maxApiCallsPerMonth: 5000, maxWebhookEndpoints: 1, maxApiKeys: null };

let t: TestApp;
let admin: { person: Person; token: string };
let operator: { person: Person; token: string };

beforeAll(async () => {
  t = await createTestApp();
  admin = await signedInPlatformAdmin(t.app);
  operator = await signedInPlatformAdmin(t.app, 'platform_operator');
});
afterAll(() => t?.close());

const call = (method: InjectOptions['method'], url: string, token: string | null, payload?: unknown, headers: Record<string, string> = {}) =>
  t.app.inject({ method, url, headers: { ...(token ? bearer(token) : {}), ...headers }, payload: payload as InjectOptions['payload'] });

const newCode = () => `t-${uuidv7().slice(-12)}`;
const planBody = (overrides: Record<string, unknown> = {}) => ({ code: newCode(), name: 'Team', currency: 'KES', prices: { monthly: 2500, yearly: 25000 }, limits: LIMITS, features: ['webhooks'], ...overrides });

async function createPlan(overrides: Record<string, unknown> = {}) {
  const response = await call('POST', ADMIN_PLANS, admin.token, planBody(overrides));
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as { id: string; code: string; [key: string]: unknown };
}

const auditOf = (planId: string) =>
  t.admin.query<{ actor_id: string; action: string; details: Record<string, unknown>; request_id: string | null }>(
    `SELECT actor_id, action, details, request_id FROM platform_audit_events WHERE target_type = 'plan' AND target_id = $1 ORDER BY occurred_at, id`,
    [planId],
  );

describe('POST /admin/plans', () => {
  it('creates a plan (201) with its defaults, features in catalog order, and the platform audit row', async () => {
    const body = { code: newCode(), name: '  Team  ', currency: 'KES', prices: { yearly: 25000 }, limits: LIMITS, features: ['sso', 'audit_export'] };
    const response = await call('POST', ADMIN_PLANS, admin.token, body);
    expect(response.statusCode, response.body).toBe(201);
    const plan = response.json();
    expect(plan).toEqual({
      id: expect.any(String),
      code: body.code,
      name: 'Team',
      description: '',
      currency: 'KES',
      prices: { monthly: null, yearly: 25000 },
      trialDays: 0,
      limits: LIMITS,
      features: ['audit_export', 'sso'],
      isPublic: true,
      sortOrder: 0,
      archived: false,
      archivedAt: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect((await call('GET', `${ADMIN_PLANS}/${plan.id}`, operator.token)).json()).toEqual(plan);

    const rows = await auditOf(plan.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor_id: admin.person.id, action: 'plan.created', request_id: response.headers['x-request-id'] });
    expect(rows[0]!.details).toMatchObject({ code: body.code, after: { name: 'Team', prices: { monthly: null, yearly: 25000 }, limits: LIMITS, features: ['audit_export', 'sso'] } });
  });

  it('keeps 0 and null apart (a free cycle is not an unoffered one; a zero limit is not unlimited)', async () => {
    const plan = await createPlan({ prices: { monthly: 0, yearly: null }, limits: { ...LIMITS, maxUsers: 0, maxStores: null } });
    expect(plan.prices).toEqual({ monthly: 0, yearly: null });
    expect(plan.limits).toMatchObject({ maxUsers: 0, maxStores: null });
    const changed = await call('PATCH', `${ADMIN_PLANS}/${plan.id}`, admin.token, { prices: { monthly: null, yearly: 0 }, limits: { maxUsers: null, maxStores: 0 } });
    expect(changed.json()).toMatchObject({ prices: { monthly: null, yearly: 0 }, limits: { maxUsers: null, maxStores: 0 } });
  });

  it.each([
    ['an unknown currency', { currency: 'XYZ' }, '/currency'],
    ['a lowercase currency', { currency: 'usd' }, '/currency'],
    ['a negative price', { prices: { monthly: -1 } }, '/prices/monthly'],
    ['a fractional price', { prices: { monthly: 9.99 } }, '/prices/monthly'],
    ['no cycle offered', { prices: {} }, '/prices'],
    ['every cycle null', { prices: { monthly: null, yearly: null } }, '/prices'],
    ['an unknown feature', { features: ['webhooks', 'teleport'] }, '/features/1'],
    ['a feature twice', { features: ['webhooks', 'webhooks'] }, '/features'],
    ['a missing limit', { limits: { ...LIMITS, maxApiKeys: undefined } }, '/limits/maxApiKeys'],
    ['a negative limit', { limits: { ...LIMITS, maxUsers: -1 } }, '/limits/maxUsers'],
    ['an unknown limit', { limits: { ...LIMITS, maxPets: 1 } }, '/limits/maxPets'],
    ['366 trial days', { trialDays: 366 }, '/trialDays'],
    ['a badly formed code', { code: 'Pro Plan' }, '/code'],
    ['a UUID-shaped code', { code: uuidv7() }, '/code'],
    ['a blank name', { name: '   ' }, '/name'],
  ])('refuses %s (400 naming the field)', async (_name, overrides, field) => {
    const response = await call('POST', ADMIN_PLANS, admin.token, planBody(overrides));
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json().code).toBe('request.validation_failed');
    expect(response.json().errors.map((error: { field: string }) => error.field)).toContain(field);
  });

  it('refuses a taken code (409 plan.code_taken) and writes nothing', async () => {
    const before = await t.admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM plans`);
    const response = await call('POST', ADMIN_PLANS, admin.token, planBody({ code: 'pro' }));
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ code: 'plan.code_taken', errors: [{ field: '/code' }] });
    expect(await t.admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM plans`)).toEqual(before);
  });

  it('honours Idempotency-Key: a retry answers the same plan and creates nothing more', async () => {
    const body = planBody();
    const key = { 'idempotency-key': uuidv7() };
    const first = await call('POST', ADMIN_PLANS, admin.token, body, key);
    const retry = await call('POST', ADMIN_PLANS, admin.token, body, key);
    expect(first.statusCode).toBe(201);
    expect(retry.statusCode).toBe(201);
    expect(retry.json().id).toBe(first.json().id);
    expect(await t.admin.query(`SELECT id FROM plans WHERE code = $1`, [body.code])).toHaveLength(1);
  });
});

describe('GET /admin/plans', () => {
  it('lists every plan, private and archived included, to administrators and operators; ?archived filters', async () => {
    const hidden = await createPlan({ isPublic: false });
    const archived = await createPlan();
    expect((await call('POST', `${ADMIN_PLANS}/${archived.id}/archive`, admin.token)).statusCode).toBe(200);

    for (const token of [admin.token, operator.token]) {
      const all = await call('GET', ADMIN_PLANS, token);
      expect(all.statusCode).toBe(200);
      const codes = (all.json().data as Array<{ code: string }>).map((plan) => plan.code);
      expect(codes).toEqual(expect.arrayContaining(['free', 'basic', 'pro', 'enterprise', hidden.code, archived.code]));
    }
    const onlyArchived = (await call('GET', `${ADMIN_PLANS}?archived=true`, admin.token)).json().data as Array<{ code: string; archived: boolean }>;
    expect(onlyArchived.map((plan) => plan.code)).toContain(archived.code);
    expect(onlyArchived.every((plan) => plan.archived)).toBe(true);
    const live = (await call('GET', `${ADMIN_PLANS}?archived=false`, admin.token)).json().data as Array<{ code: string; archived: boolean }>;
    expect(live.map((plan) => plan.code)).toEqual(expect.arrayContaining([hidden.code, 'free']));
    expect(live.some((plan) => plan.archived)).toBe(false);
  });

  it('answers 404 plan.not_found for an unknown id', async () => {
    const response = await call('GET', `${ADMIN_PLANS}/${uuidv7()}`, admin.token);
    expect(response.statusCode).toBe(404);
    expect(response.json().code).toBe('plan.not_found');
  });
});

describe('PATCH /admin/plans/:id', () => {
  it('changes the fields given, merging prices and limits, with before/after in the audit trail', async () => {
    const plan = await createPlan();
    const response = await call('PATCH', `${ADMIN_PLANS}/${plan.id}`, admin.token, { name: 'Team+', prices: { yearly: null }, limits: { maxUsers: null, maxStores: 4 }, trialDays: 30 });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({
      code: plan.code,
      name: 'Team+',
      prices: { monthly: 2500, yearly: null },
      limits: { ...LIMITS, maxUsers: null, maxStores: 4 },
      trialDays: 30,
      features: ['webhooks'],
    });
    expect(response.json().updatedAt >= (plan.updatedAt as string)).toBe(true);
    const rows = await auditOf(plan.id);
    expect(rows.map((row) => row.action)).toEqual(['plan.created', 'plan.updated']);
    expect(rows[1]).toMatchObject({ actor_id: admin.person.id });
    expect(rows[1]!.details).toEqual({
      code: plan.code,
      before: { name: 'Team', prices: { monthly: 2500, yearly: 25000 }, trialDays: 0, limits: LIMITS },
      after: { name: 'Team+', prices: { monthly: 2500, yearly: null }, trialDays: 30, limits: { ...LIMITS, maxUsers: null, maxStores: 4 } },
    });
  });

  it('writes nothing when nothing changes', async () => {
    const plan = await createPlan();
    const response = await call('PATCH', `${ADMIN_PLANS}/${plan.id}`, admin.token, { name: 'Team', features: ['webhooks'], limits: { maxStores: 2 } });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual(plan);
    expect((await auditOf(plan.id)).map((row) => row.action)).toEqual(['plan.created']);
  });

  it.each([
    ['the code (immutable)', { code: 'renamed' }, '/code'],
    ['no cycle left offered', { prices: { monthly: null, yearly: null } }, '/prices'],
    ['an unknown currency', { currency: 'ABC' }, '/currency'],
    ['an unknown feature', { features: ['sso', 'nope'] }, '/features/1'],
    ['an unknown limit', { limits: { maxPets: 3 } }, '/limits/maxPets'],
    ['nothing', {}, '/'],
  ])('refuses %s (400 naming the field) and changes nothing', async (_name, body, field) => {
    const plan = await createPlan();
    const response = await call('PATCH', `${ADMIN_PLANS}/${plan.id}`, admin.token, body);
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json().errors.map((error: { field: string }) => error.field)).toContain(field);
    expect((await call('GET', `${ADMIN_PLANS}/${plan.id}`, admin.token)).json()).toEqual(plan);
  });

  it('answers 404 plan.not_found for an unknown id', async () => {
    const response = await call('PATCH', `${ADMIN_PLANS}/${uuidv7()}`, admin.token, { name: 'X' });
    expect(response.statusCode).toBe(404);
    expect(response.json().code).toBe('plan.not_found');
  });
});

describe('POST /admin/plans/:id/archive and /unarchive', () => {
  it('archives once (idempotent), hides the plan publicly, keeps it editable, and unarchives it', async () => {
    const plan = await createPlan();
    expect((await call('GET', `/api/v1/subscriptions/plans/${plan.code}`, null)).statusCode).toBe(200);

    const archived = await call('POST', `${ADMIN_PLANS}/${plan.id}/archive`, admin.token);
    expect(archived.statusCode).toBe(200);
    expect(archived.json()).toMatchObject({ id: plan.id, archived: true, archivedAt: expect.any(String) });
    const again = await call('POST', `${ADMIN_PLANS}/${plan.id}/archive`, admin.token);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(archived.json());

    const publicCodes = ((await call('GET', '/api/v1/subscriptions/plans', null)).json().data as Array<{ code: string }>).map((p) => p.code);
    expect(publicCodes).not.toContain(plan.code);
    expect((await call('GET', `/api/v1/subscriptions/plans/${plan.id}`, null)).statusCode).toBe(404);

    const edited = await call('PATCH', `${ADMIN_PLANS}/${plan.id}`, admin.token, { description: 'Legacy' });
    expect(edited.statusCode).toBe(200);
    expect(edited.json()).toMatchObject({ description: 'Legacy', archived: true, archivedAt: archived.json().archivedAt });

    const unarchived = await call('POST', `${ADMIN_PLANS}/${plan.id}/unarchive`, admin.token);
    expect(unarchived.json()).toMatchObject({ archived: false, archivedAt: null });
    expect((await call('POST', `${ADMIN_PLANS}/${plan.id}/unarchive`, admin.token)).statusCode).toBe(200);
    expect((await call('GET', `/api/v1/subscriptions/plans/${plan.code}`, null)).statusCode).toBe(200);

    const rows = await auditOf(plan.id);
    expect(rows.map((row) => row.action)).toEqual(['plan.created', 'plan.archived', 'plan.updated', 'plan.unarchived']);
    expect(rows.every((row) => row.actor_id === admin.person.id)).toBe(true);
    expect(rows[1]!.details).toEqual({ code: plan.code, before: { archivedAt: null }, after: { archivedAt: archived.json().archivedAt } });
  });

  it('answers 404 plan.not_found for an unknown id', async () => {
    const response = await call('POST', `${ADMIN_PLANS}/${uuidv7()}/archive`, admin.token);
    expect(response.statusCode).toBe(404);
    expect(response.json().code).toBe('plan.not_found');
  });
});

describe('who may call', () => {
  it('lets operators read but not write (403 auth.forbidden), and changes nothing', async () => {
    const plan = await createPlan();
    expect((await call('GET', ADMIN_PLANS, operator.token)).statusCode).toBe(200);
    expect((await call('GET', `${ADMIN_PLANS}/${plan.id}`, operator.token)).statusCode).toBe(200);
    const writes: Array<[InjectOptions['method'], string, unknown]> = [
      ['POST', ADMIN_PLANS, planBody()],
      ['PATCH', `${ADMIN_PLANS}/${plan.id}`, { name: 'Taken over' }],
      ['POST', `${ADMIN_PLANS}/${plan.id}/archive`, undefined],
      ['POST', `${ADMIN_PLANS}/${plan.id}/unarchive`, undefined],
    ];
    for (const [method, url, body] of writes) {
      const response = await call(method, url, operator.token, body);
      expect(response.statusCode, `${method} ${url}`).toBe(403);
      expect(response.json().code).toBe('auth.forbidden');
    }
    expect((await call('GET', `${ADMIN_PLANS}/${plan.id}`, admin.token)).json()).toEqual(plan);
  });

  it('refuses tenant owners (403) and callers without a credential (401) on every admin route', async () => {
    const plan = await createPlan();
    const { token: ownerToken } = await signedInOwner(t.app);
    const routes: Array<[InjectOptions['method'], string, unknown]> = [
      ['GET', ADMIN_PLANS, undefined],
      ['GET', `${ADMIN_PLANS}/${plan.id}`, undefined],
      ['POST', ADMIN_PLANS, planBody()],
      ['PATCH', `${ADMIN_PLANS}/${plan.id}`, { name: 'Taken over' }],
      ['POST', `${ADMIN_PLANS}/${plan.id}/archive`, undefined],
      ['POST', `${ADMIN_PLANS}/${plan.id}/unarchive`, undefined],
    ];
    for (const [method, url, body] of routes) {
      const owner = await call(method, url, ownerToken, body);
      expect({ status: owner.statusCode, code: owner.json().code }, `${method} ${url}`).toEqual({ status: 403, code: 'auth.forbidden' });
      const anonymous = await call(method, url, null, body);
      expect({ status: anonymous.statusCode, code: anonymous.json().code }, `${method} ${url}`).toEqual({ status: 401, code: 'auth.unauthenticated' });
    }
    expect((await call('GET', `${ADMIN_PLANS}/${plan.id}`, admin.token)).json()).toEqual(plan);
    expect((await auditOf(plan.id)).map((row) => row.action)).toEqual(['plan.created']);
  });
});
