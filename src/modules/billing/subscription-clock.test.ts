/**
 * The subscription clock with an injected clock: trial end, period end, cancellation at period end, grace
 * period and expiry; catching up; idempotence (reruns, concurrent runs); one tenant's failure; the
 * read-only effect of expiry; and the scheduled pg-boss job.
 *
 * Time: every test runs the clock at a moment 10 years EARLIER than the test before it (all far in the
 * future). A run leaves nothing due at its own moment, so the subscriptions earlier tests left behind are
 * never due again, and exact counts hold; the job test, last, runs at the real time, long before them all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createPerson, createTenantFor, signedInOwner } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { JOB_SCHEMA } from '../../core/db/roles.js';
import { addCycle, addDays } from './periods.js';
import { advanceSubscriptions, startBillingWorkers, SUBSCRIPTION_CLOCK_CRON, SUBSCRIPTION_CLOCK_QUEUE, SubscriptionClockError } from './subscription-clock.js';
import { findSubscription, updateSubscription, type SubscriptionChanges } from './subscriptions.repository.js';
import type { SubscriptionRow } from './subscriptions.table.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

let t: TestApp;
const planIds: Record<string, string> = {};

beforeAll(async () => {
  t = await createTestApp();
  for (const plan of await t.admin.query<{ id: string; code: string }>('SELECT id, code FROM plans')) planIds[plan.code] = plan.id;
});
afterAll(() => t?.close());

let clock = Date.UTC(2400, 0, 15, 12, 0, 0);
/** This test's "now": earlier than every test's before it (see the header). */
const earlierNow = () => new Date((clock -= 3652 * DAY));

const deps = () => ({ db: t.platform.db, config: t.config });
const graceDays = () => t.config.billing.graceDays;
const run = (now: Date) => advanceSubscriptions(deps(), now);

type PlanCode = 'free' | 'basic' | 'pro' | 'enterprise';
const paymentMethod = { paymentProvider: 'manual', paymentReference: 'bank-transfer-1', paymentMethodUpdatedAt: new Date() } as const;

/** A new tenant whose subscription is exactly `values` on `plan` (everything else cleared). */
async function tenantWith(plan: PlanCode, values: SubscriptionChanges & Pick<SubscriptionRow, 'status' | 'currentPeriodStart' | 'currentPeriodEnd'>): Promise<string> {
  const tenant = await createTenantFor(t.app, await createPerson(t.app));
  await setSubscription(tenant.id, plan, values);
  return tenant.id;
}

async function setSubscription(tenantId: string, plan: PlanCode, values: SubscriptionChanges) {
  const cleared: SubscriptionChanges = { billingCycle: 'monthly', trialEndsAt: null, graceEndsAt: null, cancelAtPeriodEnd: false, canceledAt: null, cancelReason: null, endedAt: null, pendingPlanId: null, pendingBillingCycle: null };
  await t.platform.db.withTenant(tenantId, (tx) => updateSubscription(tx, tenantId, { ...cleared, planId: planIds[plan]!, ...values }));
}

/** Trialing on `plan`, the trial (the current period) ending at `end`. */
const trialing = (end: Date, extra: SubscriptionChanges = {}) => ({ status: 'trialing' as const, currentPeriodStart: addDays(end, -14), currentPeriodEnd: end, trialEndsAt: end, ...extra });
/** Active for the monthly period ending at `end`. */
const active = (end: Date, extra: SubscriptionChanges = {}) => ({ status: 'active' as const, currentPeriodStart: addDays(end, -30), currentPeriodEnd: end, ...extra });
/** Past due, the grace period ending at `graceEnd` (the period owed began grace days earlier). */
const pastDue = (graceEnd: Date, extra: SubscriptionChanges = {}) => {
  const owedFrom = addDays(graceEnd, -graceDays());
  return { status: 'past_due' as const, currentPeriodStart: owedFrom, currentPeriodEnd: addCycle(owedFrom, 'monthly'), graceEndsAt: graceEnd, ...extra };
};

const read = (tenantId: string) => t.platform.db.withTenant(tenantId, async (tx) => (await findSubscription(tx, tenantId))!.subscription);

interface AuditRow extends Record<string, unknown> {
  action: string;
  actor_type: string;
  actor_id: string | null;
  target_id: string;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
}
interface EventRow extends Record<string, unknown> {
  type: string;
  payload: { subscription: Record<string, unknown>; previous: Record<string, unknown>; dueAt: string };
}

/** The subscription changes recorded for the tenant, oldest first: audit rows and outbox events. */
async function changesOf(tenantId: string) {
  const audits = await t.admin.query<AuditRow>(`SELECT action, actor_type, actor_id, target_id, before, after FROM audit_events WHERE tenant_id = $1 AND action LIKE 'subscription.%' ORDER BY id`, [tenantId]);
  const events = await t.admin.query<EventRow>(`SELECT type, payload FROM outbox_events WHERE tenant_id = $1 AND type LIKE 'subscription.%' ORDER BY id`, [tenantId]);
  return { audits, events, actions: audits.map((row) => row.action) };
}

/** One audit row and one event per change, both naming `actions` in order, written by the system. */
async function expectChanges(tenantId: string, actions: string[]) {
  const { audits, events } = await changesOf(tenantId);
  expect(audits.map((row) => row.action)).toEqual(actions);
  expect(events.map((row) => row.type)).toEqual(actions);
  for (const row of audits) expect(row).toMatchObject({ actor_type: 'system', actor_id: null });
  return { audits, events };
}

describe('trial end', () => {
  it('converts a trial with a payment method on file: active for its first cycle, from the trial end', async () => {
    const now = earlierNow();
    const trialEnd = new Date(now.getTime() - HOUR);
    const tenantId = await tenantWith('basic', trialing(trialEnd, paymentMethod));

    expect(await run(now)).toEqual({ advanced: 1 });
    const row = await read(tenantId);
    expect(row).toMatchObject({ status: 'active', currentPeriodStart: trialEnd, currentPeriodEnd: addCycle(trialEnd, 'monthly'), graceEndsAt: null, endedAt: null, planId: planIds.basic });
    const { audits, events } = await expectChanges(tenantId, ['subscription.renewed']);
    expect(audits[0]).toMatchObject({ target_id: row.id, before: { status: 'trialing' }, after: { status: 'active', currentPeriodEnd: addCycle(trialEnd, 'monthly').toISOString() } });
    expect(events[0]!.payload).toMatchObject({ subscription: { id: row.id, status: 'active' }, previous: { status: 'trialing', planId: planIds.basic }, dueAt: trialEnd.toISOString() });
  });

  it('puts a trial without a payment method past due: the first cycle is owed, grace days from the trial end', async () => {
    const now = earlierNow();
    const trialEnd = new Date(now.getTime() - 1);
    const tenantId = await tenantWith('pro', trialing(trialEnd));

    expect(await run(now)).toEqual({ advanced: 1 });
    expect(await read(tenantId)).toMatchObject({
      status: 'past_due',
      currentPeriodStart: trialEnd,
      currentPeriodEnd: addCycle(trialEnd, 'monthly'),
      graceEndsAt: addDays(trialEnd, graceDays()),
      endedAt: null,
    });
    const { events } = await expectChanges(tenantId, ['subscription.past_due']);
    expect(events[0]!.payload.subscription).toMatchObject({ status: 'past_due', graceEndsAt: addDays(trialEnd, graceDays()).toISOString() });
  });

  it('converts a trial on a plan free for its cycle without any payment method', async () => {
    const now = earlierNow();
    const tenantId = await tenantWith('free', trialing(now, { billingCycle: 'yearly' }));
    expect(await run(now)).toEqual({ advanced: 1 });
    expect(await read(tenantId)).toMatchObject({ status: 'active', currentPeriodStart: now, currentPeriodEnd: addCycle(now, 'yearly'), graceEndsAt: null });
    await expectChanges(tenantId, ['subscription.renewed']);
  });

  it('cancels a trial canceled at its end: read-only from the trial end, nothing converted', async () => {
    const now = earlierNow();
    const trialEnd = new Date(now.getTime() - DAY);
    const canceledAt = addDays(trialEnd, -3);
    const tenantId = await tenantWith('basic', trialing(trialEnd, { ...paymentMethod, cancelAtPeriodEnd: true, canceledAt, cancelReason: 'Too expensive' }));

    expect(await run(now)).toEqual({ advanced: 1 });
    expect(await read(tenantId)).toMatchObject({ status: 'canceled', endedAt: trialEnd, currentPeriodEnd: trialEnd, canceledAt, cancelReason: 'Too expensive', graceEndsAt: null });
    const { events } = await expectChanges(tenantId, ['subscription.canceled']);
    expect(events[0]!.payload).toMatchObject({ subscription: { status: 'canceled' }, previous: { status: 'trialing' } });
  });

  it('leaves a trial that has not ended alone', async () => {
    const now = earlierNow();
    const tenantId = await tenantWith('basic', trialing(new Date(now.getTime() + 1)));
    const before = await read(tenantId);
    expect(await run(now)).toEqual({ advanced: 0 });
    expect(await read(tenantId)).toEqual(before);
  });
});

describe('period end', () => {
  it('renews a paid subscription with a payment method (yearly) and one on a free plan (monthly)', async () => {
    const now = earlierNow();
    const end = new Date(now.getTime() - 5 * 60_000);
    const paid = await tenantWith('pro', { ...active(end, paymentMethod), billingCycle: 'yearly', currentPeriodStart: addDays(end, -365) });
    const free = await tenantWith('free', active(now));

    expect(await run(now)).toEqual({ advanced: 2 });
    expect(await read(paid)).toMatchObject({ status: 'active', planId: planIds.pro, billingCycle: 'yearly', currentPeriodStart: end, currentPeriodEnd: addCycle(end, 'yearly') });
    expect(await read(free)).toMatchObject({ status: 'active', currentPeriodStart: now, currentPeriodEnd: addCycle(now, 'monthly') });
    const { audits } = await expectChanges(paid, ['subscription.renewed']);
    expect(audits[0]).toMatchObject({ before: { status: 'active', currentPeriodEnd: end.toISOString() }, after: { status: 'active', currentPeriodStart: end.toISOString() } });
    await expectChanges(free, ['subscription.renewed']);
  });

  it('puts an unpaid renewal past due: the next period is owed, grace days from the period end', async () => {
    const now = earlierNow();
    const end = new Date(now.getTime() - HOUR);
    const tenantId = await tenantWith('basic', active(end));
    expect(await run(now)).toEqual({ advanced: 1 });
    expect(await read(tenantId)).toMatchObject({ status: 'past_due', currentPeriodStart: end, currentPeriodEnd: addCycle(end, 'monthly'), graceEndsAt: addDays(end, graceDays()) });
    await expectChanges(tenantId, ['subscription.past_due']);
  });

  it('applies a pending downgrade at the period end, then renews on the new plan and cycle', async () => {
    const now = earlierNow();
    const end = new Date(now.getTime() - HOUR);
    // To Basic yearly, paid by the payment method; to Free without one (free: renews anyway).
    const toBasic = await tenantWith('pro', active(end, { ...paymentMethod, pendingPlanId: planIds.basic!, pendingBillingCycle: 'yearly' }));
    const toFree = await tenantWith('pro', active(end, { pendingPlanId: planIds.free!, pendingBillingCycle: 'monthly' }));

    expect(await run(now)).toEqual({ advanced: 2 });
    expect(await read(toBasic)).toMatchObject({ status: 'active', planId: planIds.basic, billingCycle: 'yearly', pendingPlanId: null, pendingBillingCycle: null, currentPeriodStart: end, currentPeriodEnd: addCycle(end, 'yearly') });
    expect(await read(toFree)).toMatchObject({ status: 'active', planId: planIds.free, billingCycle: 'monthly', pendingPlanId: null, currentPeriodEnd: addCycle(end, 'monthly'), graceEndsAt: null });
    const { audits, events } = await expectChanges(toBasic, ['subscription.changed', 'subscription.renewed']);
    expect(audits[0]).toMatchObject({ before: { planId: planIds.pro, pendingPlanId: planIds.basic }, after: { planId: planIds.basic, billingCycle: 'yearly', pendingPlanId: null } });
    expect(events[0]!.payload.previous).toEqual({ planId: planIds.pro, status: 'active', billingCycle: 'monthly' });
    await expectChanges(toFree, ['subscription.changed', 'subscription.renewed']);
  });

  it('cancels at the period end when asked to: the pending downgrade is dropped, not applied', async () => {
    const now = earlierNow();
    const end = new Date(now.getTime() - HOUR);
    const tenantId = await tenantWith('pro', active(end, { ...paymentMethod, cancelAtPeriodEnd: true, canceledAt: addDays(end, -10), pendingPlanId: planIds.basic!, pendingBillingCycle: 'monthly' }));
    expect(await run(now)).toEqual({ advanced: 1 });
    expect(await read(tenantId)).toMatchObject({ status: 'canceled', planId: planIds.pro, endedAt: end, currentPeriodEnd: end, pendingPlanId: null, pendingBillingCycle: null });
    await expectChanges(tenantId, ['subscription.canceled']);
  });
});

describe('grace period', () => {
  it('expires a past-due subscription when its grace period ends (ended at the grace end); one still in grace stays', async () => {
    const now = earlierNow();
    const graceEnd = new Date(now.getTime() - 60_000);
    const expiring = await tenantWith('basic', pastDue(graceEnd, { pendingPlanId: planIds.free!, pendingBillingCycle: 'monthly' }));
    const inGrace = await tenantWith('basic', pastDue(new Date(now.getTime() + 1)));
    const untouched = await read(inGrace);

    expect(await run(now)).toEqual({ advanced: 1 });
    expect(await read(expiring)).toMatchObject({ status: 'expired', endedAt: graceEnd, graceEndsAt: graceEnd, pendingPlanId: null, pendingBillingCycle: null });
    const { events } = await expectChanges(expiring, ['subscription.expired']);
    expect(events[0]!.payload).toMatchObject({ subscription: { status: 'expired' }, previous: { status: 'past_due' }, dueAt: graceEnd.toISOString() });
    expect(await read(inGrace)).toEqual(untouched);
    await expectChanges(inGrace, []);
  });

  it('makes the tenant read-only once expired: mutating routes answer 402 subscription.inactive, reads still work', async () => {
    const now = earlierNow();
    const { tenant, token } = await signedInOwner(t.app);
    await setSubscription(tenant.id, 'basic', pastDue(new Date(now.getTime() + HOUR)));
    const createStore = (code: string) => t.app.inject({ method: 'POST', url: '/api/v1/stores', headers: bearer(token), payload: { name: `Store ${code}`, code } });
    expect((await createStore('BEFORE-1')).statusCode).toBe(201);

    await run(new Date(now.getTime() + HOUR));
    expect((await read(tenant.id)).status).toBe('expired');
    const refused = await createStore('AFTER-1');
    expect(refused.statusCode).toBe(402);
    expect(refused.json()).toMatchObject({ code: 'subscription.inactive', status: 402 });
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/stores', headers: bearer(token) });
    expect(list.statusCode).toBe(200);
    expect(list.json().data.map((store: { code: string }) => store.code)).toEqual(['BEFORE-1']);
  });
});

describe('catching up', () => {
  it('advances a subscription several periods behind in one run, one change per period', async () => {
    const now = earlierNow();
    // Paid: renews period after period until the period contains now.
    const firstEnd = new Date(now.getTime() - 100 * DAY);
    const paid = await tenantWith('basic', active(firstEnd, paymentMethod));
    const ends = [firstEnd];
    while (ends.at(-1)!.getTime() <= now.getTime()) ends.push(addCycle(ends.at(-1)!, 'monthly'));
    const renewals = ends.length - 1;
    expect(renewals).toBeGreaterThanOrEqual(4);
    // Unpaid: goes past due at the first period end, then expires when that grace ends, in the same run.
    const unpaidEnd = new Date(now.getTime() - 40 * DAY);
    const unpaid = await tenantWith('basic', active(unpaidEnd));
    // A trial that ended long ago, paid: converted, then renewed.
    const trialEnd = new Date(now.getTime() - 45 * DAY);
    const trial = await tenantWith('pro', trialing(trialEnd, paymentMethod));

    expect(await run(now)).toEqual({ advanced: 3 });
    expect(await read(paid)).toMatchObject({ status: 'active', currentPeriodStart: ends.at(-2), currentPeriodEnd: ends.at(-1) });
    const { audits } = await expectChanges(paid, Array<string>(renewals).fill('subscription.renewed'));
    expect(audits.map((row) => row.after.currentPeriodEnd)).toEqual(ends.slice(1).map((end) => end.toISOString()));

    const graceEnd = addDays(unpaidEnd, graceDays());
    expect(await read(unpaid)).toMatchObject({ status: 'expired', endedAt: graceEnd, graceEndsAt: graceEnd, currentPeriodStart: unpaidEnd });
    await expectChanges(unpaid, ['subscription.past_due', 'subscription.expired']);

    expect(await read(trial)).toMatchObject({ status: 'active', currentPeriodStart: addCycle(trialEnd, 'monthly'), currentPeriodEnd: addCycle(addCycle(trialEnd, 'monthly'), 'monthly') });
    await expectChanges(trial, ['subscription.renewed', 'subscription.renewed']);
  });
});

describe('idempotence', () => {
  it('changes nothing when nothing is due (ended subscriptions included)', async () => {
    const now = earlierNow();
    const long = new Date(now.getTime() - 400 * DAY);
    const tenants = [
      await tenantWith('basic', active(new Date(now.getTime() + 1))),
      await tenantWith('basic', trialing(new Date(now.getTime() + DAY))),
      await tenantWith('basic', pastDue(new Date(now.getTime() + DAY))),
      await tenantWith('basic', { status: 'canceled', currentPeriodStart: addDays(long, -30), currentPeriodEnd: long, endedAt: long }),
      await tenantWith('basic', { status: 'expired', currentPeriodStart: addDays(long, -30), currentPeriodEnd: long, graceEndsAt: long, endedAt: long }),
    ];
    const before = await Promise.all(tenants.map(read));
    expect(await run(now)).toEqual({ advanced: 0 });
    expect(await Promise.all(tenants.map(read))).toEqual(before);
    for (const tenantId of tenants) await expectChanges(tenantId, []);
  });

  it('changes nothing when run again at the same moment: one audit row and one event per change', async () => {
    const now = earlierNow();
    const renewing = await tenantWith('basic', active(new Date(now.getTime() - 70 * DAY), paymentMethod));
    const expiring = await tenantWith('basic', trialing(new Date(now.getTime() - 10 * DAY)));
    expect(await run(now)).toEqual({ advanced: 2 });
    const after = await Promise.all([renewing, expiring].map(read));
    const changes = await Promise.all([renewing, expiring].map(changesOf));
    expect(changes.map((change) => change.actions)).toEqual([
      ['subscription.renewed', 'subscription.renewed', 'subscription.renewed'],
      ['subscription.past_due', 'subscription.expired'],
    ]);

    expect(await run(now)).toEqual({ advanced: 0 });
    expect(await Promise.all([renewing, expiring].map(read))).toEqual(after);
    expect(await Promise.all([renewing, expiring].map(changesOf))).toEqual(changes);
  });

  it('advances each subscription exactly once when two runs overlap at the same moment', async () => {
    const now = earlierNow();
    const tenants: string[] = [];
    for (let i = 0; i < 6; i++) tenants.push(await tenantWith('basic', i % 2 === 0 ? active(new Date(now.getTime() - (i + 1) * HOUR), paymentMethod) : pastDue(new Date(now.getTime() - i * HOUR))));

    const [first, second] = await Promise.all([run(now), run(now)]);
    expect(first.advanced + second.advanced).toBe(tenants.length);
    for (const [i, tenantId] of tenants.entries()) {
      await expectChanges(tenantId, [i % 2 === 0 ? 'subscription.renewed' : 'subscription.expired']);
      expect((await read(tenantId)).status).toBe(i % 2 === 0 ? 'active' : 'expired');
    }
  });

  it('advances the other tenants when one fails, then reports the failure (the job is retried)', async () => {
    const now = earlierNow();
    const failing = await tenantWith('basic', active(new Date(now.getTime() - 2 * HOUR), paymentMethod));
    const healthy = await tenantWith('basic', active(new Date(now.getTime() - HOUR), paymentMethod));
    const stuck = await read(failing);
    // A fault in one tenant's transaction only (dropped below, whatever happens).
    await t.admin.query(`CREATE FUNCTION test_clock_fault() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.tenant_id = '${failing}' THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$`);
    await t.admin.query('CREATE TRIGGER test_clock_fault BEFORE UPDATE ON subscriptions FOR EACH ROW EXECUTE FUNCTION test_clock_fault()');
    try {
      const error = await run(now).then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(SubscriptionClockError);
      expect(error).toMatchObject({ advanced: 1, failures: [{ tenantId: failing }] });
      expect((error as Error).message).toContain(failing);
    } finally {
      await t.admin.query('DROP TRIGGER test_clock_fault ON subscriptions');
      await t.admin.query('DROP FUNCTION test_clock_fault()');
    }
    expect((await read(healthy)).status).toBe('active');
    await expectChanges(healthy, ['subscription.renewed']);
    expect(await read(failing)).toEqual(stuck);
    await expectChanges(failing, []);

    // The retry (or the next minute's run) advances it.
    expect(await run(now)).toEqual({ advanced: 1 });
    await expectChanges(failing, ['subscription.renewed']);
  });
});

describe('the clock job', () => {
  it('is scheduled every minute and advances what is due at the real time when it runs', async () => {
    await startBillingWorkers(t.platform);
    const schedules = await t.admin.query<{ cron: string; timezone: string }>(`SELECT cron, timezone FROM ${JOB_SCHEMA}.schedule WHERE name = $1`, [SUBSCRIPTION_CLOCK_QUEUE]);
    expect(schedules).toEqual([{ cron: SUBSCRIPTION_CLOCK_CRON, timezone: 'UTC' }]);
    expect(SUBSCRIPTION_CLOCK_CRON).toBe('* * * * *');

    // Due now by the real clock (every other test's subscriptions live centuries ahead).
    const graceEnd = new Date(Date.now() - HOUR);
    const tenantId = await tenantWith('basic', pastDue(graceEnd));
    const jobId = (await t.platform.jobs.send(SUBSCRIPTION_CLOCK_QUEUE, {}))!;
    let state: string | undefined;
    // Waits for the worker (it polls every 2 s); not a timing assertion.
    for (let i = 0; i < 300 && state !== 'completed' && state !== 'failed'; i++) {
      state = (await t.platform.jobs.getJob(SUBSCRIPTION_CLOCK_QUEUE, jobId))?.state;
      if (state !== 'completed' && state !== 'failed') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(state).toBe('completed');
    expect(await read(tenantId)).toMatchObject({ status: 'expired', endedAt: graceEnd });
    await expectChanges(tenantId, ['subscription.expired']);
  });
});
