/**
 * `/api/v1/admin/tenants/:id/subscription` and `/entitlements` over HTTP: reading any tenant's
 * subscription with its entitlements, overrides and usage; putting it on any plan (private, archived,
 * too small: `exceeded`) and cycle; every status change the machine allows and the ones it refuses; trial
 * extension; replacing the overrides (and their effect on limits); each change in the tenant's audit trail
 * and outbox and in the platform audit trail, a no-op writing nothing; and who may call.
 */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createStore, signedInMember, signedInOwner, signedInPlatformAdmin, type Person } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { uuidv7 } from '../../core/db/ids.js';
import { addCycle } from './periods.js';

const tenantsUrl = (tenantId: string) => `/api/v1/admin/tenants/${tenantId}`;
const DAY_MS = 86_400_000;
const FEATURES = ['audit_export', 'webhooks', 'api_keys', 'custom_roles', 'sso', 'priority_support'];
const UNLIMITED = { maxUsers: null, maxStores: null, maxStorageMb: null, maxApiCallsPerMonth: null, maxWebhookEndpoints: null, maxApiKeys: null };

let t: TestApp;
let admin: { person: Person; token: string };
let operator: { person: Person; token: string };

beforeAll(async () => {
  t = await createTestApp();
  admin = await signedInPlatformAdmin(t.app);
  operator = await signedInPlatformAdmin(t.app, 'platform_operator');
});
afterAll(() => t?.close());

const call = (method: InjectOptions['method'], url: string, token: string | null, payload?: unknown) =>
  t.app.inject({ method, url, headers: token ? bearer(token) : {}, payload: payload as InjectOptions['payload'] });
const putSubscription = (tenantId: string, payload: unknown, token = admin.token) => call('PUT', `${tenantsUrl(tenantId)}/subscription`, token, payload);
const putEntitlements = (tenantId: string, payload: unknown, token = admin.token) => call('PUT', `${tenantsUrl(tenantId)}/entitlements`, token, payload);

const planId = async (code: string) => (await t.admin.query<{ id: string }>('SELECT id FROM plans WHERE code = $1', [code]))[0]!.id;

/** A plan made through the admin route (private and archived when asked). */
async function customPlan(options: { prices?: Record<string, number | null>; limits?: Record<string, number | null>; isPublic?: boolean; archived?: boolean } = {}) {
  const body = {
    code: `t-${uuidv7().slice(-12)}`,
    name: 'Custom',
    currency: 'USD',
    prices: options.prices ?? { monthly: 1000, yearly: 10000 },
    limits: { ...UNLIMITED, ...options.limits },
    features: ['webhooks'],
    isPublic: options.isPublic ?? true,
  };
  const created = await call('POST', '/api/v1/admin/plans', admin.token, body);
  expect(created.statusCode, created.body).toBe(201);
  const id = created.json<{ id: string }>().id;
  if (options.archived) expect((await call('POST', `/api/v1/admin/plans/${id}/archive`, admin.token)).statusCode).toBe(200);
  return { id, code: body.code };
}

/** Sets columns of the tenant's subscription directly (as the superuser), e.g. to start from a status. */
async function setSubscription(tenantId: string, columns: Record<string, unknown>) {
  const keys = Object.keys(columns);
  const assignments = keys.map((key, index) => `${key} = $${index + 2}`).join(', ');
  await t.admin.query(`UPDATE subscriptions SET ${assignments} WHERE tenant_id = $1`, [tenantId, ...keys.map((key) => columns[key])]);
}

const writesOf = async (tenantId: string) => ({
  audit: await t.admin.query<{ actor_type: string; actor_id: string; action: string; target_type: string; before: Record<string, unknown>; after: Record<string, unknown>; request_id: string }>(
    `SELECT actor_type, actor_id, action, target_type, before, after, request_id FROM audit_events WHERE tenant_id = $1 AND action LIKE 'subscription.%' ORDER BY occurred_at, id`,
    [tenantId],
  ),
  events: await t.admin.query<{ type: string; payload: Record<string, unknown> }>(`SELECT type, payload FROM outbox_events WHERE tenant_id = $1 AND type LIKE 'subscription.%' ORDER BY created_at, id`, [
    tenantId,
  ]),
  platform: await t.admin.query<{ actor_id: string; action: string; target_type: string; details: Record<string, unknown>; request_id: string }>(
    `SELECT actor_id, action, target_type, details, request_id FROM platform_audit_events WHERE target_tenant_id = $1 AND action LIKE 'platform.%' ORDER BY occurred_at, id`,
    [tenantId],
  ),
});

type View = {
  subscription: Record<string, unknown> & { status: string; plan: { id: string; code: string }; currentPeriodStart: string; currentPeriodEnd: string };
  entitlements: { features: string[]; limits: Record<string, number | null> };
  overrides: { features: Record<string, boolean>; limits: Record<string, number | null> };
  usage: Record<string, number>;
  exceeded: Array<{ limit: string; current: number; max: number }>;
};

describe('GET /admin/tenants/:id/subscription', () => {
  it('answers the subscription with its effective entitlements, overrides, usage and nothing exceeded', async () => {
    const { tenant } = await signedInOwner(t.app);
    await signedInMember(t.app, tenant.id);
    await createStore(t.app, tenant.id);
    const response = await call('GET', `${tenantsUrl(tenant.id)}/subscription`, operator.token);
    expect(response.statusCode, response.body).toBe(200);
    const view = response.json<View>();
    expect(view.subscription).toMatchObject({ tenantId: tenant.id, status: 'active', billingCycle: 'monthly', plan: { code: 'enterprise' }, pendingChange: null, endedAt: null });
    expect(view.entitlements).toEqual({ features: FEATURES, limits: UNLIMITED });
    expect(view.overrides).toEqual({ features: {}, limits: {} });
    expect(view.usage).toEqual({ maxUsers: 2, maxStores: 1, maxStorageMb: 0, maxApiCallsPerMonth: 0, maxWebhookEndpoints: 0, maxApiKeys: 0 });
    expect(view.exceeded).toEqual([]);
  });

  it('answers a closed tenant (until purged) and 404 `tenant.not_found` for an unknown one, 400 for a malformed id', async () => {
    const { tenant } = await signedInOwner(t.app);
    await t.admin.query(`UPDATE tenants SET status = 'closed', closed_at = now() WHERE id = $1`, [tenant.id]);
    expect((await call('GET', `${tenantsUrl(tenant.id)}/subscription`, admin.token)).statusCode).toBe(200);

    for (const path of ['subscription', 'entitlements']) {
      const missing = await call('GET', `${tenantsUrl(uuidv7())}/${path}`, admin.token);
      expect(missing.statusCode).toBe(404);
      expect(missing.json().code).toBe('tenant.not_found');
      expect((await call('GET', `${tenantsUrl('not-a-uuid')}/${path}`, admin.token)).statusCode).toBe(400);
    }
    const missing = await putSubscription(uuidv7(), { status: 'canceled' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('tenant.not_found');
    expect((await putEntitlements(uuidv7(), {})).json().code).toBe('tenant.not_found');
  });

  it('refuses anonymous callers (401), tenant owners (403) on every route, and operators (403) on the changes', async () => {
    const owner = await signedInOwner(t.app);
    const routes: Array<[InjectOptions['method'], string, unknown]> = [
      ['GET', 'subscription', undefined],
      ['PUT', 'subscription', { status: 'canceled' }],
      ['GET', 'entitlements', undefined],
      ['PUT', 'entitlements', { features: { sso: false } }],
    ];
    for (const [method, path, body] of routes) {
      const url = `${tenantsUrl(owner.tenant.id)}/${path}`;
      expect((await call(method, url, null, body)).statusCode).toBe(401);
      const forbidden = await call(method, url, owner.token, body);
      expect(forbidden.statusCode).toBe(403);
      expect(forbidden.json().code).toBe('auth.forbidden');
      expect((await call(method, url, operator.token, body)).statusCode).toBe(method === 'GET' ? 200 : 403);
    }
    const writes = await writesOf(owner.tenant.id);
    expect([writes.audit, writes.events, writes.platform]).toEqual([[], [], []]);
    expect((await call('GET', `${tenantsUrl(owner.tenant.id)}/subscription`, admin.token)).json<View>().subscription.status).toBe('active');
  });
});

describe('PUT /admin/tenants/:id/subscription: plan and cycle', () => {
  it('puts the tenant on a private, archived plan too small for it, at once: `exceeded` lists each limit; both audit trails and the event are written', async () => {
    const { tenant } = await signedInOwner(t.app);
    await signedInMember(t.app, tenant.id);
    await createStore(t.app, tenant.id);
    await createStore(t.app, tenant.id);
    const plan = await customPlan({ isPublic: false, archived: true, limits: { maxUsers: 1, maxStores: 1 } });
    const before = (await call('GET', `${tenantsUrl(tenant.id)}/subscription`, admin.token)).json<View>();

    const response = await putSubscription(tenant.id, { planId: plan.id, reason: '  Negotiated contract  ' });
    expect(response.statusCode, response.body).toBe(200);
    const view = response.json<View>();
    expect(view.subscription).toMatchObject({ status: 'active', plan: { id: plan.id, code: plan.code }, billingCycle: 'monthly' });
    // Same cycle: the period is kept (no proration, no new period).
    expect(view.subscription.currentPeriodEnd).toBe(before.subscription.currentPeriodEnd);
    expect(view.entitlements).toEqual({ features: ['webhooks'], limits: { ...UNLIMITED, maxUsers: 1, maxStores: 1 } });
    expect(view.exceeded).toEqual([
      { limit: 'maxUsers', current: 2, max: 1 },
      { limit: 'maxStores', current: 2, max: 1 },
    ]);
    expect((await call('GET', `${tenantsUrl(tenant.id)}/subscription`, operator.token)).json()).toEqual(view);

    const writes = await writesOf(tenant.id);
    expect(writes.audit).toHaveLength(1);
    expect(writes.audit[0]).toMatchObject({ actor_type: 'platform_admin', actor_id: admin.person.id, action: 'subscription.changed', target_type: 'subscription', request_id: response.headers['x-request-id'] });
    expect(writes.audit[0]!.before).toMatchObject({ planId: await planId('enterprise') });
    expect(writes.audit[0]!.after).toMatchObject({ planId: plan.id, status: 'active' });
    expect(writes.events).toHaveLength(1);
    expect(writes.events[0]).toMatchObject({ type: 'subscription.changed', payload: { subscription: { planId: plan.id }, previous: { status: 'active' }, reason: 'Negotiated contract' } });
    expect(writes.platform).toHaveLength(1);
    expect(writes.platform[0]).toMatchObject({ actor_id: admin.person.id, action: 'platform.subscription_changed', target_type: 'subscription', request_id: response.headers['x-request-id'] });
    expect(writes.platform[0]!.details).toMatchObject({ reason: 'Negotiated contract', before: { planId: await planId('enterprise') }, after: { planId: plan.id }, exceeded: view.exceeded });
  });

  it('a new cycle of an active subscription starts a new period now; a cycle the plan does not offer is 400 `plan.cycle_not_offered`; an unknown plan 404', async () => {
    const { tenant } = await signedInOwner(t.app);
    const started = Date.now();
    const yearly = (await putSubscription(tenant.id, { billingCycle: 'yearly' })).json<View>().subscription;
    expect(yearly.billingCycle).toBe('yearly');
    const start = new Date(yearly.currentPeriodStart);
    expect(start.getTime()).toBeGreaterThanOrEqual(started - 1000);
    expect(yearly.currentPeriodEnd).toBe(addCycle(start, 'yearly').toISOString());

    const monthlyOnly = await customPlan({ prices: { monthly: 500, yearly: null } });
    const refused = await putSubscription(tenant.id, { planId: monthlyOnly.id });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ code: 'plan.cycle_not_offered', errors: [{ in: 'body', field: '/billingCycle' }] });
    expect((await putSubscription(tenant.id, { planId: monthlyOnly.id, billingCycle: 'monthly' })).statusCode).toBe(200);

    const unknown = await putSubscription(tenant.id, { planId: uuidv7() });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('plan.not_found');
    expect((await writesOf(tenant.id)).platform).toHaveLength(2);
  });

  it('drops a downgrade the customer had scheduled when the platform sets the plan', async () => {
    const { tenant } = await signedInOwner(t.app);
    await setSubscription(tenant.id, { pending_plan_id: await planId('free'), pending_billing_cycle: 'monthly' });
    expect((await call('GET', `${tenantsUrl(tenant.id)}/subscription`, admin.token)).json<View>().subscription.pendingChange).toMatchObject({ plan: { code: 'free' } });
    const view = (await putSubscription(tenant.id, { planId: await planId('pro') })).json<View>();
    expect(view.subscription).toMatchObject({ plan: { code: 'pro' }, pendingChange: null });
  });

  it('validates the body: at least one change, `reason` up to 500 characters, no unknown field', async () => {
    const { tenant } = await signedInOwner(t.app);
    for (const body of [{}, { reason: 'nothing else' }]) {
      const response = await putSubscription(tenant.id, body);
      expect(response.statusCode).toBe(400);
      expect(response.json().code).toBe('request.validation_failed');
    }
    const long = await putSubscription(tenant.id, { status: 'canceled', reason: 'x'.repeat(501) });
    expect(long.statusCode).toBe(400);
    expect(long.json().errors).toEqual([expect.objectContaining({ field: '/reason' })]);
    const unknown = await putSubscription(tenant.id, { status: 'canceled', immediate: true });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().errors).toEqual([expect.objectContaining({ field: '/immediate' })]);
    const badStatus = await putSubscription(tenant.id, { status: 'paused' });
    expect(badStatus.statusCode).toBe(400);
    expect((await writesOf(tenant.id)).audit).toEqual([]);
  });
});

describe('PUT /admin/tenants/:id/subscription: status', () => {
  it('walks active → past_due (grace) → active → canceled → active (new period), each audited once', async () => {
    const { tenant } = await signedInOwner(t.app);
    const before = Date.now();
    const pastDue = (await putSubscription(tenant.id, { status: 'past_due' })).json<View>().subscription;
    expect(pastDue.status).toBe('past_due');
    const grace = new Date(pastDue.graceEndsAt as string).getTime();
    expect(grace).toBeGreaterThanOrEqual(before + t.config.billing.graceDays * DAY_MS - 1000);
    expect(grace).toBeLessThanOrEqual(Date.now() + t.config.billing.graceDays * DAY_MS);

    const paid = (await putSubscription(tenant.id, { status: 'active' })).json<View>().subscription;
    expect(paid).toMatchObject({ status: 'active', graceEndsAt: null, currentPeriodEnd: pastDue.currentPeriodEnd });

    const canceled = (await putSubscription(tenant.id, { status: 'canceled' })).json<View>().subscription;
    expect(canceled).toMatchObject({ status: 'canceled', endedAt: expect.any(String), canceledAt: expect.any(String) });

    const again = (await putSubscription(tenant.id, { status: 'active', billingCycle: 'yearly' })).json<View>().subscription;
    expect(again).toMatchObject({ status: 'active', billingCycle: 'yearly', endedAt: null, canceledAt: null, cancelAtPeriodEnd: false });
    expect(new Date(again.currentPeriodStart).getTime()).toBeGreaterThanOrEqual(new Date(canceled.endedAt as string).getTime());
    expect(again.currentPeriodEnd).toBe(addCycle(new Date(again.currentPeriodStart), 'yearly').toISOString());

    const writes = await writesOf(tenant.id);
    expect(writes.audit.map((row) => row.after.status)).toEqual(['past_due', 'active', 'canceled', 'active']);
    expect(writes.events.map((row) => row.type)).toEqual(Array(4).fill('subscription.changed'));
    expect(writes.platform.map((row) => row.action)).toEqual(Array(4).fill('platform.subscription_changed'));
  });

  it('refuses what the state machine does not allow (409 `subscription.invalid_transition`) and writes nothing', async () => {
    const { tenant } = await signedInOwner(t.app);
    const fromActive = await putSubscription(tenant.id, { status: 'expired' });
    expect(fromActive.statusCode).toBe(409);
    expect(fromActive.json().code).toBe('subscription.invalid_transition');
    await setSubscription(tenant.id, { status: 'canceled', ended_at: new Date() });
    for (const status of ['past_due', 'expired', 'trialing']) expect((await putSubscription(tenant.id, { status })).json().code).toBe('subscription.invalid_transition');
    expect((await writesOf(tenant.id)).audit).toEqual([]);
  });

  it('a status the subscription has already changes nothing and writes nothing (200)', async () => {
    const { tenant } = await signedInOwner(t.app);
    const response = await putSubscription(tenant.id, { status: 'active', billingCycle: 'monthly', planId: await planId('enterprise') });
    expect(response.statusCode).toBe(200);
    expect(response.json<View>().subscription.status).toBe('active');
    const writes = await writesOf(tenant.id);
    expect([writes.audit, writes.events, writes.platform]).toEqual([[], [], []]);
  });

  it('expired → trialing needs `trialEndsAt` (400) and starts the trial as the period; expired → active converts', async () => {
    const { tenant } = await signedInOwner(t.app);
    const expired = { status: 'expired', ended_at: new Date(), grace_ends_at: new Date() };
    await setSubscription(tenant.id, expired);
    const missing = await putSubscription(tenant.id, { status: 'trialing' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors).toEqual([expect.objectContaining({ field: '/trialEndsAt' })]);

    const trialEndsAt = new Date(Date.now() + 10 * DAY_MS).toISOString();
    const trial = (await putSubscription(tenant.id, { status: 'trialing', trialEndsAt })).json<View>().subscription;
    expect(trial).toMatchObject({ status: 'trialing', trialEndsAt, currentPeriodEnd: trialEndsAt, endedAt: null, graceEndsAt: null });

    await setSubscription(tenant.id, { ...expired, trial_ends_at: null });
    const active = (await putSubscription(tenant.id, { status: 'active' })).json<View>().subscription;
    expect(active).toMatchObject({ status: 'active', endedAt: null, graceEndsAt: null });
  });
});

describe('PUT /admin/tenants/:id/subscription: trial', () => {
  async function trialingTenant() {
    const { tenant } = await signedInOwner(t.app);
    const trialEnd = new Date(Date.now() + 3 * DAY_MS);
    await setSubscription(tenant.id, { status: 'trialing', trial_ends_at: trialEnd, current_period_end: trialEnd });
    return tenant;
  }

  it('extends a running trial: the period ends with it; event `subscription.trial_extended`, platform `platform.subscription_trial_extended`', async () => {
    const tenant = await trialingTenant();
    const trialEndsAt = new Date(Date.now() + 30 * DAY_MS).toISOString();
    const response = await putSubscription(tenant.id, { trialEndsAt, reason: 'Pilot' });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json<View>().subscription).toMatchObject({ status: 'trialing', trialEndsAt, currentPeriodEnd: trialEndsAt });
    const writes = await writesOf(tenant.id);
    expect(writes.audit.map((row) => row.action)).toEqual(['subscription.trial_extended']);
    expect(writes.events).toEqual([expect.objectContaining({ type: 'subscription.trial_extended', payload: expect.objectContaining({ reason: 'Pilot' }) })]);
    expect(writes.platform.map((row) => row.action)).toEqual(['platform.subscription_trial_extended']);
  });

  it('extendTrialDays adds days to the running trial (from now when none runs); not with trialEndsAt, not past 365 days ahead (400)', async () => {
    const tenant = await trialingTenant();
    const before = (await call('GET', `${tenantsUrl(tenant.id)}/subscription`, admin.token)).json<View>().subscription;
    const extended = await putSubscription(tenant.id, { extendTrialDays: 7 });
    expect(extended.statusCode, extended.body).toBe(200);
    const trialEndsAt = new Date(new Date(before.trialEndsAt as string).getTime() + 7 * DAY_MS).toISOString();
    expect(extended.json<View>().subscription).toMatchObject({ status: 'trialing', trialEndsAt, currentPeriodEnd: trialEndsAt });

    const both = await putSubscription(tenant.id, { extendTrialDays: 7, trialEndsAt });
    expect(both.statusCode).toBe(400);
    expect(both.json().errors).toEqual([expect.objectContaining({ field: '/extendTrialDays' })]);
    const tooFar = await putSubscription(tenant.id, { extendTrialDays: 365 });
    expect(tooFar.statusCode).toBe(400);
    expect(tooFar.json().errors).toEqual([expect.objectContaining({ field: '/extendTrialDays' })]);

    // An expired tenant back into a trial of 10 days from now.
    const { tenant: lapsed } = await signedInOwner(t.app);
    await setSubscription(lapsed.id, { status: 'expired', ended_at: new Date() });
    const start = Date.now();
    const restarted = (await putSubscription(lapsed.id, { status: 'trialing', extendTrialDays: 10 })).json<View>().subscription;
    expect(restarted.status).toBe('trialing');
    expect(new Date(restarted.trialEndsAt as string).getTime() - start).toBeGreaterThanOrEqual(10 * DAY_MS);
    expect(new Date(restarted.trialEndsAt as string).getTime() - start).toBeLessThan(10 * DAY_MS + 60_000);
  });

  it('ends a trial with status active (a new paid period now) or past_due (grace)', async () => {
    const converted = await trialingTenant();
    const active = (await putSubscription(converted.id, { status: 'active' })).json<View>().subscription;
    expect(active.status).toBe('active');
    expect(active.trialEndsAt).toBe(active.currentPeriodStart);
    expect(active.currentPeriodEnd).toBe(addCycle(new Date(active.currentPeriodStart), 'monthly').toISOString());

    const unpaid = await trialingTenant();
    const pastDue = (await putSubscription(unpaid.id, { status: 'past_due' })).json<View>().subscription;
    expect(pastDue).toMatchObject({ status: 'past_due', graceEndsAt: expect.any(String) });
    expect(pastDue.currentPeriodEnd).toBe(addCycle(new Date(pastDue.currentPeriodStart), 'monthly').toISOString());
  });

  it('refuses a trial end in the past or beyond 365 days (400), and on a subscription that is not trialing (409)', async () => {
    const tenant = await trialingTenant();
    for (const trialEndsAt of [new Date(Date.now() - DAY_MS).toISOString(), new Date(Date.now() + 366 * DAY_MS).toISOString()]) {
      const response = await putSubscription(tenant.id, { trialEndsAt });
      expect(response.statusCode).toBe(400);
      expect(response.json().errors).toEqual([expect.objectContaining({ field: '/trialEndsAt' })]);
    }
    const inFuture = new Date(Date.now() + 20 * DAY_MS).toISOString();
    const endingTrial = await putSubscription(tenant.id, { status: 'active', trialEndsAt: inFuture });
    expect(endingTrial.statusCode).toBe(409);
    expect(endingTrial.json().code).toBe('subscription.invalid_transition');

    const { tenant: active } = await signedInOwner(t.app);
    const notTrialing = await putSubscription(active.id, { trialEndsAt: inFuture });
    expect(notTrialing.statusCode).toBe(409);
    expect(notTrialing.json().code).toBe('subscription.invalid_transition');
    expect((await writesOf(tenant.id)).audit).toEqual([]);
  });
});

describe('/admin/tenants/:id/entitlements', () => {
  it('replaces the overrides as a whole (catalog order), `{}` clears them, a no-op writes nothing; both trails and the event each time', async () => {
    const { tenant } = await signedInOwner(t.app);
    const initial = await call('GET', `${tenantsUrl(tenant.id)}/entitlements`, operator.token);
    expect(initial.json()).toEqual({ features: FEATURES, limits: UNLIMITED, overrides: { features: {}, limits: {} } });

    const body = { limits: { maxApiKeys: 0, maxStores: 2 }, features: { sso: false, custom_roles: false } };
    const set = await putEntitlements(tenant.id, body);
    expect(set.statusCode, set.body).toBe(200);
    const overrides = { features: { custom_roles: false, sso: false }, limits: { maxStores: 2, maxApiKeys: 0 } };
    expect(set.json()).toEqual({ features: ['audit_export', 'webhooks', 'api_keys', 'priority_support'], limits: { ...UNLIMITED, maxStores: 2, maxApiKeys: 0 }, overrides });
    expect(JSON.stringify(set.json().overrides)).toBe(JSON.stringify(overrides));
    expect((await call('GET', `${tenantsUrl(tenant.id)}/entitlements`, operator.token)).json()).toEqual(set.json());
    expect((await call('GET', `${tenantsUrl(tenant.id)}/subscription`, operator.token)).json<View>().overrides).toEqual(overrides);

    expect((await putEntitlements(tenant.id, body)).statusCode).toBe(200);
    // Replacing, not merging: what is left out loses its override.
    const replaced = (await putEntitlements(tenant.id, { limits: { maxUsers: null } })).json();
    expect(replaced.overrides).toEqual({ features: {}, limits: { maxUsers: null } });
    expect(replaced.features).toEqual(FEATURES);
    const cleared = (await putEntitlements(tenant.id, {})).json();
    expect(cleared).toEqual(initial.json());

    const writes = await writesOf(tenant.id);
    expect(writes.audit.map((row) => row.action)).toEqual(Array(3).fill('subscription.entitlements_changed'));
    expect(writes.audit[0]).toMatchObject({ actor_type: 'platform_admin', actor_id: admin.person.id, before: { featureOverrides: {} }, after: { featureOverrides: overrides.features } });
    expect(writes.events.map((row) => row.type)).toEqual(Array(3).fill('subscription.entitlements_changed'));
    expect(writes.platform.map((row) => row.action)).toEqual(Array(3).fill('platform.entitlements_changed'));
    expect(writes.platform[0]!.details).toMatchObject({ overrides: { before: { features: {}, limits: {} }, after: overrides } });
  });

  it('a limit override is enforced: the store route answers 402 `plan.limit_reached` at the overridden maximum', async () => {
    const owner = await signedInOwner(t.app);
    await createStore(t.app, owner.tenant.id);
    expect((await putEntitlements(owner.tenant.id, { limits: { maxStores: 1 } })).statusCode).toBe(200);
    const refused = await call('POST', '/api/v1/stores', owner.token, { name: 'Second', code: 'SECOND' });
    expect(refused.statusCode).toBe(402);
    expect(refused.json()).toMatchObject({ code: 'plan.limit_reached', limit: 'maxStores', current: 1, max: 1 });
    expect((await call('GET', `${tenantsUrl(owner.tenant.id)}/subscription`, admin.token)).json<View>().exceeded).toEqual([]);
    await putEntitlements(owner.tenant.id, { limits: { maxStores: 0 } });
    expect((await call('GET', `${tenantsUrl(owner.tenant.id)}/subscription`, admin.token)).json<View>().exceeded).toEqual([{ limit: 'maxStores', current: 1, max: 0 }]);
  });

  it('rejects unknown feature codes and limit keys, and limits that are not integers ≥ 0 or null (400 naming the field)', async () => {
    const { tenant } = await signedInOwner(t.app);
    const cases: Array<[unknown, string]> = [
      [{ features: { teleport: true } }, '/features/teleport'],
      [{ limits: { maxSeats: 3 } }, '/limits/maxSeats'],
      [{ limits: { maxUsers: -1 } }, '/limits/maxUsers'],
      [{ limits: { maxUsers: 1.5 } }, '/limits/maxUsers'],
      [{ plan: 'pro' }, '/plan'],
    ];
    for (const [body, field] of cases) {
      const response = await putEntitlements(tenant.id, body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json().errors).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'body', field })]));
    }
    expect((await writesOf(tenant.id)).audit).toEqual([]);
  });
});
