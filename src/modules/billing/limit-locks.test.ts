/**
 * The locks of a limit check, beyond parallel creates (limits.*.test.ts): a create in flight holds the
 * subscription row shared, so a plan change waits for it and then counts it — an immediate downgrade
 * cannot slip between a create's check and its commit. PostgreSQL only: PGlite runs one transaction at a time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, signedInOwner } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { setSubscription } from '../../../test/subscription-fixtures.js';
import { uuidv7 } from '../../core/db/ids.js';
import { stores } from '../organization/index.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

const planId = async (code: string) => (await t.admin.query<{ id: string }>('SELECT id FROM plans WHERE code = $1', [code]))[0]!.id;

describe.runIf(process.env.DATABASE_URL)('a limit check in flight', () => {
  it('makes an immediate downgrade wait for the create, which it then counts (409 plan.downgrade_exceeds_limits)', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    await setSubscription(t.app, tenant.id, { plan: 'basic' });
    await t.platform.db.withTenant(tenant.id, (tx) => tx.insert(stores).values({ tenantId: tenant.id, id: uuidv7(), name: 'Headquarters', code: 'HQ', isHeadquarters: true }));

    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let checked!: () => void;
    const limitChecked = new Promise<void>((resolve) => (checked = resolve));
    // A second store, checked against Basic's 3 and inserted, its transaction held open.
    const create = t.platform.db.withTenant(tenant.id, async (tx) => {
      await t.platform.entitlements.assertWithinLimit(tx, tenant.id, 'maxStores', 1);
      await tx.insert(stores).values({ tenantId: tenant.id, id: uuidv7(), name: 'Branch', code: 'BR' });
      checked();
      await released;
    });
    await limitChecked;

    // Free allows one store: with the branch uncommitted the tenant would seem to fit.
    let answered = false;
    const downgrade = t.app
      .inject({ method: 'POST', url: '/api/v1/subscriptions/current/change-plan', headers: bearer(token), payload: { planId: await planId('free'), billingCycle: 'monthly', immediate: true } })
      .then((response) => {
        answered = true;
        return response;
      });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(answered).toBe(false);

    release();
    await create;
    const response = await downgrade;
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ code: 'plan.downgrade_exceeds_limits', exceeded: [{ limit: 'maxStores', current: 2, max: 1 }] });
  });
});
