/**
 * /api/v1/stores/:id/settings: overrides and effective values (store, else tenant, else default), every
 * value validated (currency, time zone, locale, receipt texts, opening hours), clearing with null, the
 * time zone shared with the store's own field, audit and event; another tenant's store answers 404.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMembership, bearer, createPerson, createStore, createTenantFor, signInAs } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { uuidv7 } from '../../core/db/ids.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

const settingsUrl = (storeId: string) => `/api/v1/stores/${storeId}/settings`;
const get = (token: string, storeId: string) => t.app.inject({ method: 'GET', url: settingsUrl(storeId), headers: bearer(token) });
const patch = (token: string, storeId: string, payload: object) => t.app.inject({ method: 'PATCH', url: settingsUrl(storeId), headers: bearer(token), payload });

async function shop(tenantSettings?: Record<string, unknown>) {
  const owner = await createPerson(t.app);
  const tenant = await createTenantFor(t.app, owner);
  if (tenantSettings) await t.admin.query('UPDATE tenants SET settings = $2 WHERE id = $1', [tenant.id, JSON.stringify(tenantSettings)]);
  const token = (await signInAs(t.app, owner, tenant.id)).accessToken;
  const store = await createStore(t.app, tenant.id);
  return { owner, tenant, token, store };
}

const nothingSet = { currency: null, timezone: null, locale: null, receiptHeader: null, receiptFooter: null, openingHours: null };

describe('GET /stores/:id/settings', () => {
  it('a store that sets nothing: the defaults apply', async () => {
    const { token, store } = await shop();
    const response = await get(token, store.id);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      overrides: nothingSet,
      effective: { currency: 'USD', timezone: 'UTC', locale: 'en', receiptHeader: null, receiptFooter: null, openingHours: null },
    });
  });

  it('the tenant’s settings apply where the store sets nothing; the store’s override wins', async () => {
    const { token, store } = await shop({ currency: 'KES', timezone: 'Africa/Nairobi', locale: 'sw-KE' });
    expect((await get(token, store.id)).json().effective).toMatchObject({ currency: 'KES', timezone: 'Africa/Nairobi', locale: 'sw-KE' });
    await patch(token, store.id, { currency: 'UGX' });
    expect((await get(token, store.id)).json()).toMatchObject({
      overrides: { currency: 'UGX', timezone: null, locale: null },
      effective: { currency: 'UGX', timezone: 'Africa/Nairobi', locale: 'sw-KE' },
    });
  });

  it('members (stores.view) may read them; a deleted or unknown store → 404', async () => {
    const { tenant, store } = await shop();
    const member = await createPerson(t.app);
    await addMembership(t.app, tenant.id, member);
    const token = (await signInAs(t.app, member, tenant.id)).accessToken;
    expect((await get(token, store.id)).statusCode).toBe(200);
    const deleted = await createStore(t.app, tenant.id, { deleted: true });
    for (const id of [deleted.id, uuidv7()]) {
      const response = await get(token, id);
      expect(response.statusCode).toBe(404);
      expect(response.json().code).toBe('store.not_found');
    }
  });
});

describe('PATCH /stores/:id/settings', () => {
  it('sets every setting, canonicalises the locale, answers the result, audits and announces store.updated', async () => {
    const { owner, tenant, token, store } = await shop();
    const openingHours = {
      monday: [
        { open: '08:00', close: '12:30' },
        { open: '14:00', close: '18:00' },
      ],
      saturday: [{ open: '09:00', close: '24:00' }],
      sunday: [],
    };
    const body = { currency: 'KES', timezone: 'Africa/Nairobi', locale: 'sw-ke', receiptHeader: 'Karibu!', receiptFooter: 'Asante', openingHours };
    const response = await patch(token, store.id, body);
    expect(response.statusCode).toBe(200);
    const overrides = { ...body, locale: 'sw-KE' };
    expect(response.json()).toEqual({ overrides, effective: overrides });
    expect((await get(token, store.id)).json().overrides).toEqual(overrides);

    const [audit] = await t.admin.query<{ actor_id: string; target_id: string; before: unknown; after: unknown }>(
      `SELECT actor_id, target_id, before, after FROM audit_events WHERE tenant_id = $1 AND action = 'store.updated'`,
      [tenant.id],
    );
    expect(audit).toEqual({ actor_id: owner.id, target_id: store.id, before: { settings: nothingSet }, after: { settings: overrides } });
    expect(await t.admin.query(`SELECT payload->'changed' AS changed FROM outbox_events WHERE tenant_id = $1 AND type = 'store.updated'`, [tenant.id])).toEqual([
      { changed: ['settings'] },
    ]);

    // The same values again: nothing changes, no second audit row or event.
    expect((await patch(token, store.id, { ...body, locale: 'sw-KE' })).json().overrides).toEqual(overrides);
    expect(await t.admin.query(`SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1 AND action = 'store.updated'`, [tenant.id])).toEqual([{ n: 1 }]);
  });

  it('the time zone is the store’s own `timezone`: set through either, seen through both', async () => {
    const { token, store } = await shop();
    await patch(token, store.id, { timezone: 'Europe/Paris' });
    const read = await t.app.inject({ method: 'GET', url: `/api/v1/stores/${store.id}`, headers: bearer(token) });
    expect(read.json().timezone).toBe('Europe/Paris');
    await t.app.inject({ method: 'PATCH', url: `/api/v1/stores/${store.id}`, headers: bearer(token), payload: { timezone: 'Asia/Tokyo' } });
    expect((await get(token, store.id)).json().overrides.timezone).toBe('Asia/Tokyo');
  });

  it('null clears one override (the tenant’s value applies again) and leaves the others', async () => {
    const { token, store } = await shop({ currency: 'EUR' });
    await patch(token, store.id, { currency: 'KES', receiptFooter: 'Bye', openingHours: { friday: [{ open: '10:00', close: '11:00' }] } });
    const response = await patch(token, store.id, { currency: null, openingHours: null });
    expect(response.json()).toMatchObject({
      overrides: { currency: null, receiptFooter: 'Bye', openingHours: null },
      effective: { currency: 'EUR', receiptFooter: 'Bye', openingHours: null },
    });
  });

  it.each([
    ['unknown currency', { currency: 'XYZ' }, '/currency'],
    ['lower-case currency', { currency: 'kes' }, '/currency'],
    ['unknown time zone', { timezone: 'Atlantis/Capital' }, '/timezone'],
    ['malformed locale', { locale: 'not a locale' }, '/locale'],
    ['receipt header too long', { receiptHeader: 'x'.repeat(2001) }, '/receiptHeader'],
    ['receipt footer too long', { receiptFooter: 'x'.repeat(2001) }, '/receiptFooter'],
    ['unknown weekday', { openingHours: { funday: [] } }, '/openingHours/funday'],
    ['bad time', { openingHours: { monday: [{ open: '8:00', close: '12:00' }] } }, '/openingHours/monday/0/open'],
    ['hour 25', { openingHours: { monday: [{ open: '09:00', close: '25:00' }] } }, '/openingHours/monday/0/close'],
    ['closing before opening', { openingHours: { tuesday: [{ open: '18:00', close: '09:00' }] } }, '/openingHours/tuesday/0/close'],
    ['closing when opening', { openingHours: { tuesday: [{ open: '09:00', close: '09:00' }] } }, '/openingHours/tuesday/0/close'],
    [
      'overlapping intervals',
      {
        openingHours: {
          wednesday: [
            { open: '09:00', close: '13:00' },
            { open: '12:00', close: '17:00' },
          ],
        },
      },
      '/openingHours/wednesday/1/open',
    ],
    ['more than four intervals', { openingHours: { thursday: Array.from({ length: 5 }, (_, i) => ({ open: `0${i}:00`, close: `0${i}:30` })) } }, '/openingHours/thursday'],
    ['unknown setting', { dateFormat: 'YYYY' }, '/dateFormat'],
    ['empty body', {}, '/'],
  ])('400 naming the field: %s; nothing changes', async (_name, body, field) => {
    const { tenant, token, store } = await shop();
    const response = await patch(token, store.id, body);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'request.validation_failed', errors: expect.arrayContaining([expect.objectContaining({ field })]) });
    expect(await t.admin.query('SELECT settings, timezone FROM stores WHERE tenant_id = $1 AND id = $2', [tenant.id, store.id])).toEqual([{ settings: {}, timezone: null }]);
  });

  it('reports every failing field at once', async () => {
    const { token, store } = await shop();
    const response = await patch(token, store.id, { currency: 'XYZ', timezone: 'Nowhere/Land', locale: '!!' });
    expect(response.json().errors.map((e: { field: string }) => e.field).sort()).toEqual(['/currency', '/locale', '/timezone']);
  });

  it('members may not change them (403 auth.forbidden)', async () => {
    const { tenant, store } = await shop();
    const member = await createPerson(t.app);
    await addMembership(t.app, tenant.id, member);
    const token = (await signInAs(t.app, member, tenant.id)).accessToken;
    const response = await patch(token, store.id, { currency: 'KES' });
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('auth.forbidden');
  });

  it('another tenant’s store → 404 store.not_found, and nothing changes', async () => {
    const victim = await shop();
    const attacker = await shop();
    for (const response of [await get(attacker.token, victim.store.id), await patch(attacker.token, victim.store.id, { receiptHeader: 'pwned' })]) {
      expect(response.statusCode).toBe(404);
      expect(response.json().code).toBe('store.not_found');
    }
    expect(await t.admin.query('SELECT settings FROM stores WHERE tenant_id = $1 AND id = $2', [victim.tenant.id, victim.store.id])).toEqual([{ settings: {} }]);
  });
});
