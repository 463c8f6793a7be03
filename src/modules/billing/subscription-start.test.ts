/**
 * Every tenant starts with one subscription, on the configured signup plan — whatever path creates it —
 * and the database refuses a tenant without one. Changes of a subscription or of its plan take a new
 * entitlements revision, which authentication reads with every request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createPerson, signedInOwner, signedInPlatformAdmin, signInAs, TEST_PASSWORD } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { uuidv7 } from '../../core/db/ids.js';
import { tenants } from '../../core/tenancy/tenancy.table.js';

const DAY_MS = 86_400_000;

type SubscriptionFacts = {
  plan: string;
  status: string;
  trial_ends_at: Date | null;
  current_period_start: Date;
  current_period_end: Date;
  revision: string;
};

const subscriptionOf = async (t: TestApp, tenantId: string) =>
  (
    await t.admin.query<SubscriptionFacts>(
      `SELECT p.code AS plan, s.status, s.trial_ends_at, s.current_period_start, s.current_period_end, s.revision
         FROM subscriptions s JOIN plans p ON p.id = s.plan_id WHERE s.tenant_id = $1`,
      [tenantId],
    )
  ).map((row) => ({ ...row, trial_ends_at: row.trial_ends_at && new Date(row.trial_ends_at), current_period_start: new Date(row.current_period_start), current_period_end: new Date(row.current_period_end) }));

describe('a new tenant on a plan with trial days (BILLING_SIGNUP_PLAN=pro)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ BILLING_SIGNUP_PLAN: 'pro', BILLING_SIGNUP_TRIAL_DAYS: undefined });
  });
  afterAll(() => t?.close());

  it('starts trialing the plan for its trial days, at registration', async () => {
    const before = Date.now();
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { email: `reg-${uuidv7()}@example.test`, password: TEST_PASSWORD, name: 'Ann Trial' },
    });
    expect(response.statusCode).toBe(201);
    const [subscription, ...others] = await subscriptionOf(t, response.json().tenant.id);
    expect(others).toEqual([]);
    expect(subscription).toMatchObject({ plan: 'pro', status: 'trialing' });
    // Pro has 14 trial days; the trial is the current period.
    expect(subscription!.trial_ends_at!.getTime() - subscription!.current_period_start.getTime()).toBe(14 * DAY_MS);
    expect(subscription!.current_period_end).toEqual(subscription!.trial_ends_at);
    expect(subscription!.current_period_start.getTime()).toBeGreaterThanOrEqual(before - 1000);
  });

  it('starts one with POST /tenants and with the platform create too', async () => {
    const owner = await signedInOwner(t.app);
    const created = await t.app.inject({ method: 'POST', url: '/api/v1/tenants', headers: bearer(owner.token), payload: { name: 'Second Shop' } });
    expect(created.statusCode).toBe(201);
    expect(await subscriptionOf(t, created.json().id)).toMatchObject([{ plan: 'pro', status: 'trialing' }]);

    const admin = await signedInPlatformAdmin(t.app);
    const byPlatform = await t.app.inject({
      method: 'POST',
      url: '/api/v1/admin/tenants',
      headers: bearer(admin.token),
      payload: { name: 'Platform Made', ownerEmail: `owner-${uuidv7()}@example.test` },
    });
    expect(byPlatform.statusCode).toBe(201);
    expect(await subscriptionOf(t, byPlatform.json().tenant?.id ?? byPlatform.json().id)).toMatchObject([{ plan: 'pro', status: 'trialing' }]);
  });
});

describe('signup configuration', () => {
  it('gives no trial with BILLING_SIGNUP_TRIAL_DAYS=0: active for a monthly period', async () => {
    const t = await createTestApp({ BILLING_SIGNUP_PLAN: 'basic', BILLING_SIGNUP_TRIAL_DAYS: '0' });
    try {
      const { tenant } = await signedInOwner(t.app);
      const [subscription] = await subscriptionOf(t, tenant.id);
      expect(subscription).toMatchObject({ plan: 'basic', status: 'active', trial_ends_at: null });
      const start = subscription!.current_period_start;
      const expectedEnd = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
      // One calendar month later (clamped to the end of a shorter month).
      expectedEnd.setUTCDate(Math.min(start.getUTCDate(), new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 2, 0)).getUTCDate()));
      expectedEnd.setUTCHours(start.getUTCHours(), start.getUTCMinutes(), start.getUTCSeconds(), start.getUTCMilliseconds());
      expect(subscription!.current_period_end).toEqual(expectedEnd);
    } finally {
      await t.close();
    }
  });

  it('refuses to start when BILLING_SIGNUP_PLAN names no plan', async () => {
    await expect(createTestApp({ BILLING_SIGNUP_PLAN: 'no-such-plan' })).rejects.toThrow(/BILLING_SIGNUP_PLAN/);
  });
});

describe('the database', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  it('refuses, at commit, a tenant created without a subscription', async () => {
    const id = uuidv7();
    await expect(t.platform.db.withTenant(id, (tx) => tx.insert(tenants).values({ id, name: 'No Plan', slug: `no-plan-${id.slice(-8)}` }))).rejects.toThrow(/without a subscription/);
    expect(await t.admin.query('SELECT 1 FROM tenants WHERE id = $1', [id])).toEqual([]);
  });

  it('gives a subscription and a plan a new revision on every change, and authentication reads the greater one', async () => {
    const person = await createPerson(t.app);
    const { tenant } = await signedInOwner(t.app);
    await t.admin.query(`INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'admin')`, [tenant.id, person.id]);
    await signInAs(t.app, person, tenant.id);
    const [session] = await t.admin.query<{ id: string }>('SELECT id FROM sessions WHERE user_id = $1', [person.id]);
    const actorRevision = async () => {
      const [row] = await t.admin.query<{ r: string }>('SELECT entitlements_revision AS r FROM session_actor($1, $2, $3, NULL)', [session!.id, person.id, tenant.id]);
      return Number(row!.r);
    };
    const [start] = await subscriptionOf(t, tenant.id);
    const first = await actorRevision();
    expect(first).toBeGreaterThanOrEqual(Number(start!.revision));

    await t.admin.query(`UPDATE subscriptions SET limit_overrides = '{"maxStores": 2}' WHERE tenant_id = $1`, [tenant.id]);
    const [changed] = await subscriptionOf(t, tenant.id);
    expect(Number(changed!.revision)).toBeGreaterThan(first);
    expect(await actorRevision()).toBe(Number(changed!.revision));

    // A plan change reaches every subscriber: a throwaway plan, so other tests' plans stay as they are.
    const code = `rev-${uuidv7().slice(-8)}`;
    const [plan] = await t.admin.query<{ id: string }>(
      `INSERT INTO plans (id, code, name, currency, monthly_price, limits) VALUES (uuidv7(), $1, 'Rev', 'USD', 0, $2) RETURNING id`,
      [code, JSON.stringify({ maxUsers: null, maxStores: null, maxStorageMb: null, maxApiCallsPerMonth: null, maxWebhookEndpoints: null, maxApiKeys: null })],
    );
    await t.admin.query('UPDATE subscriptions SET plan_id = $2 WHERE tenant_id = $1', [tenant.id, plan!.id]);
    const onPlan = await actorRevision();
    await t.admin.query(`UPDATE plans SET features = '{sso}' WHERE id = $1`, [plan!.id]);
    const [planRevision] = await t.admin.query<{ r: string }>('SELECT revision AS r FROM plans WHERE id = $1', [plan!.id]);
    expect(Number(planRevision!.r)).toBeGreaterThan(onPlan);
    expect(await actorRevision()).toBe(Number(planRevision!.r));
  });
});
