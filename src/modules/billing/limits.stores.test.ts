/**
 * `maxStores` is enforced in the transaction that creates (or restores) a store: 20 parallel creates never
 * exceed it, whichever lock path each takes (a branch takes only the limit's locks, a new headquarters
 * the store lock first), and the platform's overrides change the answer at the next request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { storeApi } from '../../../test/store-api.js';
import { setSubscription } from '../../../test/subscription-fixtures.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

const { call, ownerOfNewTenant, code, create, auditRows } = storeApi(() => t);

const liveStores = async (tenantId: string) =>
  (await t.admin.query<{ n: number }>('SELECT count(*)::int AS n FROM stores WHERE tenant_id = $1 AND deleted_at IS NULL', [tenantId]))[0]!.n;

const limitReached = (current: number, max: number) => ({ status: 402, code: 'plan.limit_reached', limit: 'maxStores', current, max });

describe('POST /stores against maxStores', () => {
  it('20 parallel creates on Basic (3 stores) with one store already: exactly 2 succeed, 18 answer 402, the tenant has 3', async () => {
    const { tenant, token } = await ownerOfNewTenant();
    await setSubscription(t.app, tenant.id, { plan: 'basic' });
    await createStore(t.app, tenant.id);
    // Warm the pool, so the creates really overlap on PostgreSQL.
    await Promise.all(Array.from({ length: 5 }, () => call(token, 'GET', '/')));
    // Half ask to be the headquarters (store lock, then the limit's), half are branches (the limit's
    // only): both paths count under the same lock and neither can deadlock the other.
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call(token, 'POST', '/', { name: `Store ${i}`, code: code(), ...(i % 2 === 0 ? { isHeadquarters: true } : {}) })),
    );
    const statuses = responses.map((response) => response.statusCode);
    expect(statuses.filter((status) => status === 201)).toHaveLength(2);
    expect(statuses.filter((status) => status === 402)).toHaveLength(18);
    for (const refused of responses.filter((response) => response.statusCode === 402)) {
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(refused.json()).toMatchObject(limitReached(3, 3));
    }
    expect(await liveStores(tenant.id)).toBe(3);
    // A refused create wrote nothing: no audit row, and still one headquarters.
    expect(await auditRows(tenant.id, 'store.created')).toHaveLength(2);
    expect(await t.admin.query('SELECT id FROM stores WHERE tenant_id = $1 AND is_headquarters AND deleted_at IS NULL', [tenant.id])).toHaveLength(1);
  });

  it('deleted stores do not count; restoring one over the limit answers 402 until the limit allows it', async () => {
    const { tenant, token } = await ownerOfNewTenant();
    await setSubscription(t.app, tenant.id, { plan: 'free' }); // maxStores 1
    const gone = await createStore(t.app, tenant.id, { deleted: true });
    const main = await create(token);
    expect(main.isHeadquarters).toBe(true);

    const restore = await call(token, 'POST', `/${gone.id}/restore`);
    expect(restore.statusCode).toBe(402);
    expect(restore.json()).toMatchObject(limitReached(1, 1));
    expect(await liveStores(tenant.id)).toBe(1);
    expect((await call(token, 'POST', '/', { name: 'Second', code: code() })).json()).toMatchObject(limitReached(1, 1));

    // Room again: an override allows a second store.
    await setSubscription(t.app, tenant.id, { limitOverrides: { maxStores: 2 } });
    expect((await call(token, 'POST', `/${gone.id}/restore`)).statusCode).toBe(200);
    expect(await liveStores(tenant.id)).toBe(2);
    // Restoring a live store adds nothing, so it is answered even at the limit.
    expect((await call(token, 'POST', `/${gone.id}/restore`)).statusCode).toBe(200);
  });

  it('overrides change the answer at the next request: a higher limit, unlimited (null), then one below usage', async () => {
    const { tenant, token } = await ownerOfNewTenant();
    await setSubscription(t.app, tenant.id, { plan: 'basic' });
    for (let i = 0; i < 3; i += 1) await create(token);
    expect((await call(token, 'POST', '/', { name: 'Fourth', code: code() })).json()).toMatchObject(limitReached(3, 3));

    await setSubscription(t.app, tenant.id, { limitOverrides: { maxStores: 5 } });
    await create(token);
    await create(token);
    expect((await call(token, 'POST', '/', { name: 'Sixth', code: code() })).json()).toMatchObject(limitReached(5, 5));

    await setSubscription(t.app, tenant.id, { limitOverrides: { maxStores: null } });
    for (let i = 0; i < 3; i += 1) await create(token);
    expect(await liveStores(tenant.id)).toBe(8);

    // Lowered below what the tenant has: nothing is taken away, nothing more is added.
    await setSubscription(t.app, tenant.id, { limitOverrides: { maxStores: 2 } });
    expect((await call(token, 'POST', '/', { name: 'Ninth', code: code() })).json()).toMatchObject(limitReached(8, 2));
    // Back to the plan's own limit: the override is gone.
    await setSubscription(t.app, tenant.id, { limitOverrides: {} });
    expect((await call(token, 'POST', '/', { name: 'Ninth', code: code() })).json()).toMatchObject(limitReached(8, 3));
  });

  it('another tenant’s stores and another limit do not count: a tenant at its seat limit still creates its first store', async () => {
    const { tenant: full, token: fullToken } = await ownerOfNewTenant();
    await setSubscription(t.app, full.id, { plan: 'free' });
    await create(fullToken);
    const { tenant, token } = await ownerOfNewTenant();
    await setSubscription(t.app, tenant.id, { plan: 'free', limitOverrides: { maxUsers: 1 } });
    expect((await call(token, 'POST', '/', { name: 'Only', code: code() })).statusCode).toBe(201);
    expect(await liveStores(tenant.id)).toBe(1);
  });
});
