/**
 * The tenant's subscription over HTTP (`/api/v1/subscriptions/current`): reading it, its details
 * (entitlements with the platform's overrides), usage counted for real, the trial; canceling at the period
 * end or now (idempotent, 409 once canceled), reactivating, the payment method — each change with its
 * audit row and event — and who may do what, including a read-only (expired) tenant, which keeps its
 * billing routes while every other change answers 402.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMembership, bearer, createPerson, createStore, signedInMember, signedInOwner } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';

const CURRENT = '/api/v1/subscriptions/current';

let t: TestApp;
let plan: Record<'free' | 'basic' | 'pro' | 'enterprise', string>;

beforeAll(async () => {
  t = await createTestApp();
  const rows = await t.admin.query<{ code: string; id: string }>(`SELECT code, id FROM plans WHERE code IN ('free', 'basic', 'pro', 'enterprise')`);
  plan = Object.fromEntries(rows.map((row) => [row.code, row.id])) as typeof plan;
});
afterAll(() => t?.close());

const get = (token: string, url = '') => t.app.inject({ method: 'GET', url: `${CURRENT}${url}`, headers: bearer(token) });
const send = (token: string, method: 'POST' | 'PUT', url: string, payload?: object) => t.app.inject({ method, url: `${CURRENT}${url}`, headers: bearer(token), payload });

/** Sets columns of the tenant's subscription (a SET clause; `$2…` are `values`). */
async function setSubscription(tenantId: string, set: string, values: unknown[] = []) {
  await t.admin.query(`UPDATE subscriptions SET ${set} WHERE tenant_id = $1`, [tenantId, ...values]);
}

async function subscriptionChanges(tenantId: string) {
  const audits = await t.admin.query<{ action: string; actor_type: string; actor_id: string; before: unknown; after: unknown }>(
    `SELECT action, actor_type, actor_id, before, after FROM audit_events WHERE tenant_id = $1 AND action LIKE 'subscription.%' ORDER BY id`,
    [tenantId],
  );
  const events = await t.admin.query<{ type: string; payload: Record<string, unknown> }>(`SELECT type, payload FROM outbox_events WHERE tenant_id = $1 AND type LIKE 'subscription.%' ORDER BY id`, [tenantId]);
  return { audits, events };
}

describe('reads', () => {
  it('GET /current: the whole subscription (tenants start on Enterprise, active, monthly)', async () => {
    const owner = await signedInOwner(t.app);
    const response = await get(owner.token);
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toEqual({
      id: expect.any(String),
      tenantId: owner.tenant.id,
      status: 'active',
      plan: { id: plan.enterprise, code: 'enterprise', name: 'Enterprise' },
      billingCycle: 'monthly',
      currentPeriodStart: expect.stringMatching(/Z$/),
      currentPeriodEnd: expect.stringMatching(/Z$/),
      trialEndsAt: null,
      graceEndsAt: null,
      cancelAtPeriodEnd: false,
      canceledAt: null,
      cancelReason: null,
      endedAt: null,
      pendingChange: null,
      paymentMethod: null,
      createdAt: expect.stringMatching(/Z$/),
      updatedAt: expect.stringMatching(/Z$/),
    });
    expect(Date.parse(body.currentPeriodEnd)).toBeGreaterThan(Date.parse(body.currentPeriodStart));
  });

  it('GET /current/details: the plan, and the features and limits in effect with the overrides', async () => {
    const owner = await signedInOwner(t.app);
    await setSubscription(owner.tenant.id, `plan_id = $2, feature_overrides = '{"sso": true, "webhooks": false}', limit_overrides = '{"maxStores": 5, "maxApiKeys": null}'`, [plan.basic]);
    const response = await get(owner.token, '/details');
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(body.subscription).toMatchObject({ tenantId: owner.tenant.id, plan: { code: 'basic' } });
    expect(body.plan).toMatchObject({ id: plan.basic, code: 'basic', prices: { monthly: 1900, yearly: 19000 }, features: ['webhooks', 'api_keys'], limits: { maxStores: 3, maxApiKeys: 2 } });
    expect(body.features).toEqual(['api_keys', 'sso']);
    expect(body.limits).toEqual({ maxUsers: 10, maxStores: 5, maxStorageMb: 1024, maxApiCallsPerMonth: 100000, maxWebhookEndpoints: 2, maxApiKeys: null });
    expect(body.overrides).toEqual({ features: { sso: true, webhooks: false }, limits: { maxStores: 5, maxApiKeys: null } });
  });

  it('GET /current/usage: seats are members and pending invitations, stores the live ones, with percentages', async () => {
    const owner = await signedInOwner(t.app);
    await setSubscription(owner.tenant.id, `plan_id = $2, limit_overrides = '{"maxApiKeys": 0}'`, [plan.basic]);
    await addMembership(t.app, owner.tenant.id, await createPerson(t.app));
    await addMembership(t.app, owner.tenant.id, await createPerson(t.app), 'member', 'deactivated');
    const invited = await t.app.inject({ method: 'POST', url: '/api/v1/users/invite', headers: bearer(owner.token), payload: { email: `usage-${Date.now()}@example.test` } });
    expect(invited.statusCode, invited.body).toBe(201);
    await createStore(t.app, owner.tenant.id);
    await createStore(t.app, owner.tenant.id);
    await createStore(t.app, owner.tenant.id, { deleted: true });

    const response = await get(owner.token, '/usage');
    expect(response.statusCode, response.body).toBe(200);
    const { limits } = response.json();
    expect(limits.map((entry: { limit: string }) => entry.limit)).toEqual(['maxUsers', 'maxStores', 'maxStorageMb', 'maxApiCallsPerMonth', 'maxWebhookEndpoints', 'maxApiKeys']);
    expect(limits[0]).toEqual({ limit: 'maxUsers', description: expect.stringContaining('invitations'), current: 4, max: 10, percentage: 40 });
    expect(limits[1]).toMatchObject({ limit: 'maxStores', current: 2, max: 3, percentage: 66.7 });
    expect(limits[2]).toMatchObject({ limit: 'maxStorageMb', current: 0, max: 1024, percentage: 0 });
    expect(limits[5]).toMatchObject({ limit: 'maxApiKeys', current: 0, max: 0, percentage: 0 });

    // Over the limit (a plan changed under the usage): more than 100; unlimited: null.
    await setSubscription(owner.tenant.id, `limit_overrides = '{"maxStores": 1, "maxUsers": null}'`);
    const over = (await get(owner.token, '/usage')).json().limits;
    expect(over[1]).toMatchObject({ current: 2, max: 1, percentage: 200 });
    expect(over[0]).toMatchObject({ current: 4, max: null, percentage: null });
  });

  it('GET /current/trial: days left rounded up while trialing; not trialing: false and 0', async () => {
    const owner = await signedInOwner(t.app);
    expect((await get(owner.token, '/trial')).json()).toEqual({ trialing: false, trialEndsAt: null, daysLeft: 0 });
    await setSubscription(owner.tenant.id, `status = 'trialing', trial_ends_at = now() + interval '2 days 20 hours', current_period_end = now() + interval '2 days 20 hours'`);
    const trial = (await get(owner.token, '/trial')).json();
    expect(trial).toEqual({ trialing: true, trialEndsAt: expect.stringMatching(/Z$/), daysLeft: 3 });
  });
});

describe('cancel and reactivate', () => {
  it('cancels at the period end (default), idempotently; reactivates once; audits and announces each change', async () => {
    const owner = await signedInOwner(t.app);
    const canceled = await send(owner.token, 'POST', '/cancel', { reason: 'Moving to another tool' });
    expect(canceled.statusCode, canceled.body).toBe(200);
    expect(canceled.json()).toMatchObject({ status: 'active', cancelAtPeriodEnd: true, canceledAt: expect.stringMatching(/Z$/), cancelReason: 'Moving to another tool', endedAt: null });

    // Again, even with another reason: unchanged, nothing written.
    const again = await send(owner.token, 'POST', '/cancel', { reason: 'Another reason' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(canceled.json());
    let { audits, events } = await subscriptionChanges(owner.tenant.id);
    expect(audits).toEqual([expect.objectContaining({ action: 'subscription.canceled', actor_type: 'user', actor_id: owner.person.id })]);
    expect(events).toEqual([{ type: 'subscription.canceled', payload: expect.objectContaining({ atPeriodEnd: true, reason: 'Moving to another tool', subscription: expect.objectContaining({ cancelAtPeriodEnd: true }) }) }]);

    const reactivated = await send(owner.token, 'POST', '/reactivate');
    expect(reactivated.statusCode, reactivated.body).toBe(200);
    expect(reactivated.json()).toMatchObject({ status: 'active', cancelAtPeriodEnd: false, canceledAt: null, cancelReason: null });
    ({ audits, events } = await subscriptionChanges(owner.tenant.id));
    expect(audits.map((row) => row.action)).toEqual(['subscription.canceled', 'subscription.reactivated']);
    expect(events.map((row) => row.type)).toEqual(['subscription.canceled', 'subscription.reactivated']);

    const twice = await send(owner.token, 'POST', '/reactivate');
    expect([twice.statusCode, twice.json().code]).toEqual([409, 'subscription.invalid_transition']);
  });

  it('cancels now with `atPeriodEnd: false`: canceled, ended, read-only; canceling again or reactivating → 409', async () => {
    const owner = await signedInOwner(t.app);
    await setSubscription(owner.tenant.id, `pending_plan_id = $2, pending_billing_cycle = 'monthly'`, [plan.pro]);
    const response = await send(owner.token, 'POST', '/cancel', { atPeriodEnd: false });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ status: 'canceled', endedAt: expect.stringMatching(/Z$/), canceledAt: expect.stringMatching(/Z$/), cancelAtPeriodEnd: false, pendingChange: null });
    const { events } = await subscriptionChanges(owner.tenant.id);
    expect(events).toEqual([{ type: 'subscription.canceled', payload: expect.objectContaining({ atPeriodEnd: false, reason: null, previous: expect.objectContaining({ status: 'active' }) }) }]);

    for (const url of ['/cancel', '/reactivate']) {
      const refused = await send(owner.token, 'POST', url, {});
      expect([refused.statusCode, refused.json().code], url).toEqual([409, 'subscription.invalid_transition']);
    }
    expect((await subscriptionChanges(owner.tenant.id)).audits).toHaveLength(1);
  });

  it('a past-due subscription is canceled now even when asked for the period end; a body is optional', async () => {
    const owner = await signedInOwner(t.app);
    await setSubscription(owner.tenant.id, `status = 'past_due', grace_ends_at = now() + interval '7 days'`);
    const response = await send(owner.token, 'POST', '/cancel');
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ status: 'canceled', cancelAtPeriodEnd: false });
  });

  it('reactivating after the period is over is refused (the clock has not run yet)', async () => {
    const owner = await signedInOwner(t.app);
    await setSubscription(owner.tenant.id, `cancel_at_period_end = true, canceled_at = now() - interval '40 days', current_period_start = now() - interval '40 days', current_period_end = now() - interval '1 second'`);
    const response = await send(owner.token, 'POST', '/reactivate');
    expect([response.statusCode, response.json().code]).toEqual([409, 'subscription.invalid_transition']);
  });
});

describe('payment method', () => {
  it('records the provider and reference; the audit row and event name the provider only', async () => {
    const owner = await signedInOwner(t.app);
    const response = await send(owner.token, 'PUT', '/payment-method', { provider: 'stripe', reference: 'pm_secret_4242' });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().paymentMethod).toEqual({ provider: 'stripe', reference: 'pm_secret_4242', updatedAt: expect.stringMatching(/Z$/) });

    const { audits, events } = await subscriptionChanges(owner.tenant.id);
    expect(audits.map((row) => row.action)).toEqual(['subscription.payment_method_updated']);
    expect(events.map((row) => row.type)).toEqual(['subscription.payment_method_updated']);
    expect(events[0]!.payload).toMatchObject({ subscription: { paymentProvider: 'stripe' }, paymentMethod: { provider: 'stripe', hasReference: true } });
    expect(JSON.stringify([audits, events])).not.toContain('pm_secret_4242');

    // The same method again writes nothing; a bad provider is a 400 naming the field.
    expect((await send(owner.token, 'PUT', '/payment-method', { provider: 'stripe', reference: 'pm_secret_4242' })).statusCode).toBe(200);
    expect((await subscriptionChanges(owner.tenant.id)).audits).toHaveLength(1);
    const bad = await send(owner.token, 'PUT', '/payment-method', { provider: 'Stripe!', reference: '' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors.map((error: { field: string }) => error.field).sort()).toEqual(['/provider', '/reference']);
  });
});

describe('who may', () => {
  it('a member without billing.view gets 403; an admin reads (billing.view) but cannot change (billing.manage)', async () => {
    const owner = await signedInOwner(t.app);
    const member = await signedInMember(t.app, owner.tenant.id, 'member');
    const admin = await signedInMember(t.app, owner.tenant.id, 'admin');
    for (const url of ['', '/details', '/usage', '/trial']) {
      const refused = await get(member.token, url);
      expect([refused.statusCode, refused.json().code], url).toEqual([403, 'auth.forbidden']);
      expect((await get(admin.token, url)).statusCode, url).toBe(200);
    }
    const cancel = await send(admin.token, 'POST', '/cancel', {});
    expect([cancel.statusCode, cancel.json().code]).toEqual([403, 'auth.forbidden']);
    const method = await send(admin.token, 'PUT', '/payment-method', { provider: 'manual', reference: 'bank' });
    expect(method.statusCode).toBe(403);
    expect((await subscriptionChanges(owner.tenant.id)).audits).toEqual([]);
  });

  it('an expired tenant is read-only (POST /stores → 402 subscription.inactive) but keeps its billing routes', async () => {
    const owner = await signedInOwner(t.app);
    await setSubscription(owner.tenant.id, `status = 'expired', ended_at = now(), plan_id = $2`, [plan.basic]);
    const store = await t.app.inject({ method: 'POST', url: '/api/v1/stores', headers: bearer(owner.token), payload: { name: 'Annex', code: 'ANX' } });
    expect([store.statusCode, store.json().code]).toEqual([402, 'subscription.inactive']);

    expect((await get(owner.token)).json().status).toBe('expired');
    expect((await get(owner.token, '/usage')).statusCode).toBe(200);
    expect((await send(owner.token, 'PUT', '/payment-method', { provider: 'manual', reference: 'bank transfer' })).statusCode).toBe(200);
    const preview = await send(owner.token, 'POST', '/change-plan/preview', { planId: plan.basic, billingCycle: 'monthly' });
    expect(preview.json()).toMatchObject({ charge: 1900, amountDue: 1900 });
    // Reaching the service, not stopped at the door: 409 from the state machine, not 402.
    expect((await send(owner.token, 'POST', '/cancel', {})).json().code).toBe('subscription.invalid_transition');
    expect((await send(owner.token, 'POST', '/change-plan', { planId: plan.basic, billingCycle: 'monthly' })).json().subscription.status).toBe('active');
  });
});
