/**
 * Changing the plan over HTTP (`/api/v1/subscriptions/current/change-plan` and its preview): upgrades at
 * once with the proration checked against numbers computed by hand, downgrades scheduled for the period
 * end or applied at once when usage fits, the refusal listing every exceeded limit, trialing and
 * canceled/expired subscriptions, unavailable plans and cycles, withdrawing a pending change, the payment
 * method requirement, and Idempotency-Key replay.
 *
 * Periods are set around the database's now() (half of a 30-day period left), so the amounts do not
 * depend on the seconds the test takes: 1900 × ½ = 950 moves by 0.0007 per second elapsed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMembership, bearer, createPerson, createStore, signedInMember, signedInOwner, signedInPlatformAdmin } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { uuidv7 } from '../../core/db/ids.js';
import { addCycle } from './periods.js';

const CURRENT = '/api/v1/subscriptions/current';
const THIRTY_DAYS = 2_592_000;
const HALF = THIRTY_DAYS / 2;

let t: TestApp;
let plan: Record<'free' | 'basic' | 'pro' | 'enterprise', string>;

beforeAll(async () => {
  t = await createTestApp();
  const rows = await t.admin.query<{ code: string; id: string }>(`SELECT code, id FROM plans WHERE code IN ('free', 'basic', 'pro', 'enterprise')`);
  plan = Object.fromEntries(rows.map((row) => [row.code, row.id])) as typeof plan;
});
afterAll(() => t?.close());

const post = (token: string, url: string, payload: unknown, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'POST', url: `${CURRENT}${url}`, headers: { ...bearer(token), ...headers }, payload: payload as object });

/** Sets columns of the tenant's subscription (a SET clause; `$2…` are `values`). */
async function setSubscription(tenantId: string, set: string, values: unknown[] = []) {
  await t.admin.query(`UPDATE subscriptions SET ${set} WHERE tenant_id = $1`, [tenantId, ...values]);
}

/** An owner whose tenant is on `code`, monthly, `status`, half of a 30-day period left; with a payment method unless told. */
async function ownerOn(code: keyof typeof plan, options: { status?: 'active' | 'past_due'; paymentMethod?: boolean } = {}) {
  const owner = await signedInOwner(t.app);
  await setSubscription(
    owner.tenant.id,
    `plan_id = $2, billing_cycle = 'monthly', status = $3, grace_ends_at = CASE WHEN $3 = 'past_due' THEN now() + interval '7 days' END,
     current_period_start = now() - interval '15 days', current_period_end = now() + interval '15 days',
     payment_provider = $4, payment_reference = CASE WHEN $4::text IS NULL THEN NULL ELSE 'pm_123' END`,
    [plan[code], options.status ?? 'active', options.paymentMethod === false ? null : 'stripe'],
  );
  return owner;
}

async function subscriptionRow(tenantId: string) {
  const [row] = await t.admin.query<Record<string, unknown>>(`SELECT * FROM subscriptions WHERE tenant_id = $1`, [tenantId]);
  return row!;
}

const auditActions = async (tenantId: string) =>
  (await t.admin.query<{ action: string }>(`SELECT action FROM audit_events WHERE tenant_id = $1 AND action LIKE 'subscription.%' ORDER BY id`, [tenantId])).map((row) => row.action);

async function events(tenantId: string) {
  return t.admin.query<{ type: string; payload: Record<string, unknown> }>(`SELECT type, payload FROM outbox_events WHERE tenant_id = $1 AND type LIKE 'subscription.%' ORDER BY id`, [tenantId]);
}

/** The amounts left to wall-clock drift: the remaining seconds are within a minute of half the period. */
function expectHalfPeriodLeft(proration: { secondsRemaining: number; secondsInPeriod: number }) {
  expect(proration.secondsInPeriod).toBe(THIRTY_DAYS);
  expect(proration.secondsRemaining).toBeLessThanOrEqual(HALF);
  expect(proration.secondsRemaining).toBeGreaterThan(HALF - 60);
}

describe('upgrades', () => {
  it('previews Basic → Pro monthly (credit 1900·½ = 950, charge 4900·½ = 2450, due 1500) without changing anything', async () => {
    const owner = await ownerOn('basic');
    const before = await subscriptionRow(owner.tenant.id);
    const response = await post(owner.token, '/change-plan/preview', { planId: plan.pro, billingCycle: 'monthly' });
    expect(response.statusCode, response.body).toBe(200);
    const preview = response.json();
    expect(preview).toEqual({
      plan: { id: plan.pro, code: 'pro', name: 'Pro' },
      billingCycle: 'monthly',
      currency: 'USD',
      change: 'upgrade',
      effective: 'immediately',
      credit: 950,
      charge: 2450,
      amountDue: 1500,
      creditBalance: 0,
      periodStart: (before.current_period_start as Date).toISOString(),
      periodEnd: (before.current_period_end as Date).toISOString(),
      secondsRemaining: expect.any(Number),
      secondsInPeriod: THIRTY_DAYS,
    });
    expectHalfPeriodLeft(preview);
    expect(await subscriptionRow(owner.tenant.id)).toEqual(before);
    expect(await auditActions(owner.tenant.id)).toEqual([]);
  });

  it('applies Basic → Pro at once, keeping the period; audits and announces subscription.changed with the proration', async () => {
    const owner = await ownerOn('basic');
    const before = await subscriptionRow(owner.tenant.id);
    const customRoles = async () =>
      ((await t.app.inject({ method: 'GET', url: '/api/v1/features', headers: bearer(owner.token) })).json().features as Array<{ code: string; enabled: boolean }>).find(
        (feature) => feature.code === 'custom_roles',
      )?.enabled;
    expect(await customRoles()).toBe(false); // Basic has no custom roles (and the entitlements are cached now)
    const response = await post(owner.token, '/change-plan', { planId: plan.pro, billingCycle: 'monthly' });
    expect(response.statusCode, response.body).toBe(200);
    const { subscription, proration } = response.json();
    expect(proration).toMatchObject({ change: 'upgrade', effective: 'immediately', credit: 950, charge: 2450, amountDue: 1500, creditBalance: 0 });
    expect(subscription).toMatchObject({ status: 'active', plan: { id: plan.pro, code: 'pro' }, billingCycle: 'monthly', pendingChange: null });
    expect(subscription.currentPeriodEnd).toBe((before.current_period_end as Date).toISOString());

    expect(await auditActions(owner.tenant.id)).toEqual(['subscription.changed']);
    const [event] = await events(owner.tenant.id);
    expect(event!.type).toBe('subscription.changed');
    expect(event!.payload).toMatchObject({ subscription: { planId: plan.pro }, previous: { planId: plan.basic, status: 'active' }, proration: { amountDue: 1500, credit: 950 } });
    // The very next request sees the new plan's entitlements, cached or not.
    expect(await customRoles()).toBe(true);
  });

  it('moving to another cycle charges the full new price for a new period from now (Basic monthly → Pro yearly: due 49000 − 950)', async () => {
    const owner = await ownerOn('basic');
    const response = await post(owner.token, '/change-plan', { planId: plan.pro, billingCycle: 'yearly' });
    expect(response.statusCode, response.body).toBe(200);
    const { subscription, proration } = response.json();
    expect(proration).toMatchObject({ credit: 950, charge: 49000, amountDue: 48050, creditBalance: 0 });
    expect(proration.periodStart).toBe(subscription.currentPeriodStart);
    expect(subscription.currentPeriodEnd).toBe(addCycle(new Date(subscription.currentPeriodStart), 'yearly').toISOString());
    expect(subscription.billingCycle).toBe('yearly');
  });

  it('402 subscription.payment_method_required when something is due and no method is on file; nothing changes', async () => {
    const owner = await ownerOn('basic', { paymentMethod: false });
    const response = await post(owner.token, '/change-plan', { planId: plan.pro, billingCycle: 'monthly' });
    expect(response.statusCode).toBe(402);
    expect(response.json()).toMatchObject({ code: 'subscription.payment_method_required', amountDue: 1500, currency: 'USD' });
    expect((await subscriptionRow(owner.tenant.id)).plan_id).toBe(plan.basic);
    expect(await auditActions(owner.tenant.id)).toEqual([]);
  });

  it('replays POST /change-plan with the same Idempotency-Key instead of applying it twice', async () => {
    const owner = await ownerOn('basic');
    const key = uuidv7();
    const first = await post(owner.token, '/change-plan', { planId: plan.pro, billingCycle: 'monthly' }, { 'idempotency-key': key });
    const replay = await post(owner.token, '/change-plan', { planId: plan.pro, billingCycle: 'monthly' }, { 'idempotency-key': key });
    expect(first.statusCode).toBe(200);
    expect(replay.statusCode).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(first.json());
    expect(await auditActions(owner.tenant.id)).toEqual(['subscription.changed']);
    // Without the key, the same request again is refused: the plan is already Pro monthly.
    expect((await post(owner.token, '/change-plan', { planId: plan.pro, billingCycle: 'monthly' })).json().code).toBe('subscription.plan_unchanged');
  });
});

describe('downgrades', () => {
  it('schedules Pro → Basic for the period end (pendingChange, nothing prorated), then withdraws it with the current plan', async () => {
    const owner = await ownerOn('pro');
    const before = await subscriptionRow(owner.tenant.id);
    const periodEnd = before.current_period_end as Date;
    const response = await post(owner.token, '/change-plan', { planId: plan.basic, billingCycle: 'monthly' });
    expect(response.statusCode, response.body).toBe(200);
    const { subscription, proration } = response.json();
    expect(proration).toMatchObject({
      change: 'downgrade',
      effective: 'period_end',
      credit: 0,
      charge: 0,
      amountDue: 0,
      creditBalance: 0,
      periodStart: periodEnd.toISOString(),
      periodEnd: addCycle(periodEnd, 'monthly').toISOString(),
    });
    expect(subscription.plan.code).toBe('pro');
    expect(subscription.pendingChange).toEqual({ plan: { id: plan.basic, code: 'basic', name: 'Basic' }, billingCycle: 'monthly', effectiveAt: periodEnd.toISOString() });
    expect(await auditActions(owner.tenant.id)).toEqual(['subscription.change_scheduled']);

    // Asking for the same scheduled change again writes nothing.
    expect((await post(owner.token, '/change-plan', { planId: plan.basic, billingCycle: 'monthly' })).statusCode).toBe(200);
    expect(await auditActions(owner.tenant.id)).toEqual(['subscription.change_scheduled']);

    // The current plan and cycle withdraw the pending change.
    const withdrawn = await post(owner.token, '/change-plan', { planId: plan.pro, billingCycle: 'monthly' });
    expect(withdrawn.statusCode, withdrawn.body).toBe(200);
    expect(withdrawn.json().subscription).toMatchObject({ plan: { code: 'pro' }, pendingChange: null });
    expect(withdrawn.json().proration).toMatchObject({ amountDue: 0, creditBalance: 0, credit: 0, charge: 0 });
    expect(await subscriptionRow(owner.tenant.id)).toMatchObject({ pending_plan_id: null, pending_billing_cycle: null, plan_id: plan.pro });
    const last = (await events(owner.tenant.id)).at(-1)!;
    expect(last).toMatchObject({ type: 'subscription.change_scheduled', payload: { withdrawn: true, subscription: { pendingPlanId: null } } });

    // With nothing pending any more, the current plan and cycle are refused.
    const unchanged = await post(owner.token, '/change-plan', { planId: plan.pro, billingCycle: 'monthly' });
    expect(unchanged.statusCode).toBe(409);
    expect(unchanged.json().code).toBe('subscription.plan_unchanged');
  });

  it('applies Pro → Basic at once with `immediate: true` when usage fits: credit 2450, charge 950, credit balance 1500', async () => {
    const owner = await ownerOn('pro', { paymentMethod: false });
    const response = await post(owner.token, '/change-plan', { planId: plan.basic, billingCycle: 'monthly', immediate: true });
    expect(response.statusCode, response.body).toBe(200);
    const { subscription, proration } = response.json();
    expect(proration).toMatchObject({ change: 'downgrade', effective: 'immediately', credit: 2450, charge: 950, amountDue: 0, creditBalance: 1500 });
    expectHalfPeriodLeft(proration);
    expect(subscription).toMatchObject({ plan: { code: 'basic' }, pendingChange: null });
    expect(await auditActions(owner.tenant.id)).toEqual(['subscription.changed']);
  });

  it('409 plan.downgrade_exceeds_limits listing every exceeded limit (4 seats and 2 stores → Free: 3 and 1); preview says the same', async () => {
    const owner = await signedInOwner(t.app);
    for (let index = 0; index < 3; index++) await addMembership(t.app, owner.tenant.id, await createPerson(t.app));
    await createStore(t.app, owner.tenant.id);
    await createStore(t.app, owner.tenant.id);
    await createStore(t.app, owner.tenant.id, { deleted: true });
    const exceeded = [
      { limit: 'maxUsers', current: 4, max: 3 },
      { limit: 'maxStores', current: 2, max: 1 },
    ];
    const body = { planId: plan.free, billingCycle: 'monthly' };
    const preview = await post(owner.token, '/change-plan/preview', { ...body, immediate: true });
    expect(preview.statusCode).toBe(409);
    expect(preview.json()).toMatchObject({ code: 'plan.downgrade_exceeds_limits', exceeded });

    const refused = await post(owner.token, '/change-plan', { ...body, immediate: true });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'plan.downgrade_exceeds_limits', exceeded, detail: expect.stringContaining('maxUsers 4 > 3') });
    expect((await subscriptionRow(owner.tenant.id)).plan_id).toBe(plan.enterprise);
    expect(await auditActions(owner.tenant.id)).toEqual([]);

    // A platform override raising the seats leaves only the stores exceeded.
    await setSubscription(owner.tenant.id, `limit_overrides = '{"maxUsers": 10}'`);
    const withOverride = await post(owner.token, '/change-plan', { ...body, immediate: true });
    expect(withOverride.json().exceeded).toEqual([{ limit: 'maxStores', current: 2, max: 1 }]);

    // Scheduled for the period end, the downgrade is accepted (usage is checked when it takes effect).
    expect((await post(owner.token, '/change-plan/preview', body)).json()).toMatchObject({ effective: 'period_end', amountDue: 0 });
    const scheduled = await post(owner.token, '/change-plan', body);
    expect(scheduled.statusCode, scheduled.body).toBe(200);
    expect(scheduled.json().proration.effective).toBe('period_end');
  });
});

describe('trialing, canceled and expired subscriptions', () => {
  it('trialing: the change applies at once, the trial goes on, nothing is charged and no payment method is needed', async () => {
    const owner = await signedInOwner(t.app);
    await setSubscription(
      owner.tenant.id,
      `status = 'trialing', plan_id = $2, trial_ends_at = now() + interval '10 days', current_period_start = now() - interval '4 days', current_period_end = now() + interval '10 days'`,
      [plan.basic],
    );
    const before = await subscriptionRow(owner.tenant.id);
    const response = await post(owner.token, '/change-plan', { planId: plan.pro, billingCycle: 'yearly' });
    expect(response.statusCode, response.body).toBe(200);
    const { subscription, proration } = response.json();
    expect(proration).toMatchObject({ credit: 0, charge: 0, amountDue: 0, creditBalance: 0, effective: 'immediately' });
    expect(subscription).toMatchObject({
      status: 'trialing',
      plan: { code: 'pro' },
      billingCycle: 'yearly',
      trialEndsAt: (before.trial_ends_at as Date).toISOString(),
      currentPeriodEnd: (before.current_period_end as Date).toISOString(),
    });
    // A downgrade applies at once too while trialing.
    const down = await post(owner.token, '/change-plan', { planId: plan.free, billingCycle: 'monthly' });
    expect(down.json()).toMatchObject({ subscription: { status: 'trialing', plan: { code: 'free' } }, proration: { change: 'downgrade', effective: 'immediately' } });
  });

  it.each(['canceled', 'expired'] as const)('%s: any change subscribes again — active, a new period from now at the full price, cancellation cleared', async (status) => {
    const owner = await ownerOn('pro');
    await setSubscription(owner.tenant.id, `status = $2, ended_at = now() - interval '1 day', canceled_at = now() - interval '2 days', cancel_reason = 'too dear'`, [status]);
    // Read-only until then.
    const blocked = await t.app.inject({ method: 'POST', url: '/api/v1/stores', headers: bearer(owner.token), payload: { name: 'Annex', code: 'ANX' } });
    expect(blocked.json().code).toBe('subscription.inactive');

    const response = await post(owner.token, '/change-plan', { planId: plan.basic, billingCycle: 'monthly' });
    expect(response.statusCode, response.body).toBe(200);
    const { subscription, proration } = response.json();
    expect(proration).toMatchObject({ effective: 'immediately', credit: 0, charge: 1900, amountDue: 1900, creditBalance: 0, secondsRemaining: 0 });
    expect(subscription).toMatchObject({ status: 'active', plan: { code: 'basic' }, endedAt: null, canceledAt: null, cancelReason: null, cancelAtPeriodEnd: false, graceEndsAt: null });
    expect(subscription.currentPeriodStart).toBe(proration.periodStart);
    expect(subscription.currentPeriodEnd).toBe(addCycle(new Date(proration.periodStart), 'monthly').toISOString());
    expect((await events(owner.tenant.id)).at(-1)).toMatchObject({ type: 'subscription.changed', payload: { previous: { status }, subscription: { status: 'active' } } });

    const store = await t.app.inject({ method: 'POST', url: '/api/v1/stores', headers: bearer(owner.token), payload: { name: 'Annex', code: 'ANX' } });
    expect(store.statusCode, store.body).toBe(201);
  });

  it('expired: subscribing again to a smaller plan is not refused for usage (read-only, the tenant could not shrink); it then adds nothing over the limits', async () => {
    const owner = await ownerOn('pro');
    await createStore(t.app, owner.tenant.id);
    await createStore(t.app, owner.tenant.id);
    await setSubscription(owner.tenant.id, `status = 'expired', ended_at = now() - interval '1 day'`);
    // Free allows one store; the tenant has two.
    const response = await post(owner.token, '/change-plan', { planId: plan.free, billingCycle: 'monthly' });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().subscription).toMatchObject({ status: 'active', plan: { code: 'free' } });
    const store = await t.app.inject({ method: 'POST', url: '/api/v1/stores', headers: bearer(owner.token), payload: { name: 'Annex', code: 'ANX' } });
    expect(store.statusCode).toBe(402);
    expect(store.json()).toMatchObject({ code: 'plan.limit_reached', limit: 'maxStores', current: 2, max: 1 });
  });

  it('canceled: the same plan and cycle subscribes again (not plan_unchanged)', async () => {
    const owner = await ownerOn('basic');
    await setSubscription(owner.tenant.id, `status = 'canceled', ended_at = now()`);
    const response = await post(owner.token, '/change-plan', { planId: plan.basic, billingCycle: 'monthly' });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().subscription.status).toBe('active');
  });
});

describe('plans that cannot be chosen', () => {
  let adminToken: string;
  beforeAll(async () => {
    adminToken = (await signedInPlatformAdmin(t.app)).token;
  });

  async function makePlan(overrides: Record<string, unknown>) {
    const limits = { maxUsers: null, maxStores: null, maxStorageMb: null, maxApiCallsPerMonth: null, maxWebhookEndpoints: null, maxApiKeys: null };
    const payload = { code: `t-${uuidv7().slice(-12)}`, name: 'Test plan', currency: 'USD', prices: { monthly: 500 }, limits, features: [], ...overrides };
    const response = await t.app.inject({ method: 'POST', url: '/api/v1/admin/plans', headers: bearer(adminToken), payload });
    expect(response.statusCode, response.body).toBe(201);
    return response.json().id as string;
  }

  it('archived → 409 plan.not_available; private or unknown → 404 plan.not_found; cycle not offered → 400; another currency → 409', async () => {
    const owner = await ownerOn('basic');
    const archived = await makePlan({});
    await t.app.inject({ method: 'POST', url: `/api/v1/admin/plans/${archived}/archive`, headers: bearer(adminToken) });
    const hidden = await makePlan({ isPublic: false });
    const monthlyOnly = await makePlan({});
    const euro = await makePlan({ currency: 'EUR', prices: { monthly: 99_00 } });

    const answer = async (planId: string, billingCycle = 'monthly') => {
      const response = await post(owner.token, '/change-plan', { planId, billingCycle, immediate: true });
      return [response.statusCode, response.json().code];
    };
    expect(await answer(archived)).toEqual([409, 'plan.not_available']);
    expect(await answer(hidden)).toEqual([404, 'plan.not_found']);
    expect(await answer(uuidv7())).toEqual([404, 'plan.not_found']);
    expect(await answer(monthlyOnly, 'yearly')).toEqual([400, 'plan.cycle_not_offered']);
    expect(await answer(euro)).toEqual([409, 'plan.not_available']);
    const preview = await post(owner.token, '/change-plan/preview', { planId: hidden, billingCycle: 'monthly' });
    expect([preview.statusCode, preview.json().code]).toEqual([404, 'plan.not_found']);
    expect(await auditActions(owner.tenant.id)).toEqual([]);

    // Trialing, nothing is prorated: another currency is fine.
    await setSubscription(owner.tenant.id, `status = 'trialing', trial_ends_at = current_period_end`);
    expect((await post(owner.token, '/change-plan', { planId: euro, billingCycle: 'monthly' })).statusCode).toBe(200);
  });

  it('a member without billing.manage cannot change the plan (403), but an admin may preview it (billing.view)', async () => {
    const owner = await ownerOn('basic');
    const admin = await signedInMember(t.app, owner.tenant.id, 'admin');
    const change = await post(admin.token, '/change-plan', { planId: plan.pro, billingCycle: 'monthly' });
    expect([change.statusCode, change.json().code]).toEqual([403, 'auth.forbidden']);
    expect((await post(admin.token, '/change-plan/preview', { planId: plan.pro, billingCycle: 'monthly' })).statusCode).toBe(200);
  });
});
