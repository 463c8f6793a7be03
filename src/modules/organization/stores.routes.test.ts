/**
 * /api/v1/stores: create, read, list (search, deleted, pages) and change; code uniqueness and the
 * headquarters flag on create and change; audit rows and events with each change; Idempotency-Key
 * replay. Deleting, restoring, concurrency and other tenants: stores.lifecycle.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMembership, createPerson, signInAs } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { storeApi } from '../../../test/store-api.js';
import { uuidv7 } from '../../core/db/ids.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

const { call, ownerOfNewTenant, code, create, headquartersOf, auditRows, events } = storeApi(() => t);

describe('POST /stores', () => {
  it('creates a store (201) with every field, the first one as headquarters, with its audit row and event', async () => {
    const { person, tenant, token } = await ownerOfNewTenant();
    const body = {
      name: '  Westlands  ',
      code: 'WL-01',
      address: { line1: '1 Ring Road', line2: 'Floor 2', city: 'Nairobi', region: 'Nairobi County', postalCode: '00100', country: 'KE' },
      phone: '+254712345678',
      email: 'westlands@example.test',
      timezone: 'Africa/Nairobi',
    };
    const response = await call(token, 'POST', '/', body);
    expect(response.statusCode).toBe(201);
    const store = response.json();
    expect(store).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'Westlands',
      code: 'WL-01',
      address: body.address,
      phone: '+254712345678',
      email: 'westlands@example.test',
      timezone: 'Africa/Nairobi',
      isHeadquarters: true,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      deletedAt: null,
    });
    // Nothing the schema does not name (e.g. the settings document) leaks.
    expect(Object.keys(store)).not.toContain('settings');

    const [row] = await auditRows(tenant.id, 'store.created');
    expect(row).toMatchObject({ actor_id: person.id, target_id: store.id, before: null, after: { id: store.id, code: 'WL-01', isHeadquarters: true } });
    expect(row!.request_id).toBe(response.headers['x-request-id']);
    expect(await events(tenant.id, 'store.created')).toEqual([{ payload: { store: expect.objectContaining({ id: store.id, isHeadquarters: true }) } }]);
  });

  it('the first store is the headquarters even when asked otherwise; later ones are not, unless asked', async () => {
    const { tenant, token } = await ownerOfNewTenant();
    const first = await create(token, { isHeadquarters: false });
    expect(first.isHeadquarters).toBe(true);
    const second = await create(token);
    expect(second.isHeadquarters).toBe(false);
    expect(await headquartersOf(tenant.id)).toEqual([first.id]);
  });

  it('isHeadquarters: true on a new store moves the flag (the old headquarters is updated, audited and announced)', async () => {
    const { tenant, token } = await ownerOfNewTenant();
    const first = await create(token);
    const second = await create(token, { isHeadquarters: true });
    expect(second.isHeadquarters).toBe(true);
    expect(await headquartersOf(tenant.id)).toEqual([second.id]);
    expect((await call(token, 'GET', `/${first.id}`)).json().isHeadquarters).toBe(false);
    expect(await auditRows(tenant.id, 'store.updated')).toEqual([expect.objectContaining({ target_id: first.id, before: { isHeadquarters: true }, after: { isHeadquarters: false } })]);
    expect(await events(tenant.id, 'store.updated')).toEqual([{ payload: { store: expect.objectContaining({ id: first.id, isHeadquarters: false }), changed: ['isHeadquarters'] } }]);
  });

  it('minimal body: address {}, contact fields null', async () => {
    const { token } = await ownerOfNewTenant();
    const store = await create(token, { name: 'Kiosk', code: 'k1' });
    expect(store).toMatchObject({ name: 'Kiosk', code: 'k1', address: {}, phone: null, email: null, timezone: null });
  });

  it('refuses a code a live store uses, whatever its case (409 store.code_taken); nothing is written', async () => {
    const { tenant, token } = await ownerOfNewTenant();
    await create(token, { code: 'Main' });
    const response = await call(token, 'POST', '/', { name: 'Other', code: 'MAIN' });
    expect(response.statusCode).toBe(409);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json().code).toBe('store.code_taken');
    expect(await t.admin.query('SELECT count(*)::int AS n FROM stores WHERE tenant_id = $1', [tenant.id])).toEqual([{ n: 1 }]);
    expect(await auditRows(tenant.id, 'store.created')).toHaveLength(1);
  });

  it('the same code is free in another tenant, and again once the store using it is deleted', async () => {
    const a = await ownerOfNewTenant();
    const b = await ownerOfNewTenant();
    await create(a.token, { code: 'SHARED' });
    await create(b.token, { code: 'shared' });
    const old = await create(a.token, { code: 'REUSE' });
    expect((await call(a.token, 'DELETE', `/${old.id}`)).statusCode).toBe(204);
    await create(a.token, { code: 'reuse' });
  });

  it.each([
    ['no name', { code: 'X1' }, '/name'],
    ['blank name', { name: '   ', code: 'X1' }, '/name'],
    ['name too long', { name: 'n'.repeat(201), code: 'X1' }, '/name'],
    ['no code', { name: 'A' }, '/code'],
    ['code with a space', { name: 'A', code: 'A B' }, '/code'],
    ['code too long', { name: 'A', code: 'A'.repeat(33) }, '/code'],
    ['code starting with a dash', { name: 'A', code: '-A' }, '/code'],
    ['unknown time zone', { name: 'A', code: 'X1', timezone: 'Mars/Olympus_Mons' }, '/timezone'],
    ['UTC offset is not a zone', { name: 'A', code: 'X1', timezone: '+03:00' }, '/timezone'],
    ['unknown country', { name: 'A', code: 'X1', address: { country: 'XX' } }, '/address/country'],
    ['lower-case country', { name: 'A', code: 'X1', address: { country: 'ke' } }, '/address/country'],
    ['unknown address field', { name: 'A', code: 'X1', address: { street: 'x' } }, '/address/street'],
    ['phone not E.164', { name: 'A', code: 'X1', phone: '0712 345678' }, '/phone'],
    ['bad email', { name: 'A', code: 'X1', email: 'not-an-email' }, '/email'],
    ['unknown field', { name: 'A', code: 'X1', tenantId: uuidv7() }, '/tenantId'],
  ])('400 naming the field: %s', async (_name, body, field) => {
    const { tenant, token } = await ownerOfNewTenant();
    const response = await call(token, 'POST', '/', body);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'request.validation_failed', errors: expect.arrayContaining([expect.objectContaining({ field })]) });
    expect(await t.admin.query('SELECT count(*)::int AS n FROM stores WHERE tenant_id = $1', [tenant.id])).toEqual([{ n: 0 }]);
  });

  it('honours Idempotency-Key: a retry replays the first answer and creates nothing more', async () => {
    const { tenant, token } = await ownerOfNewTenant();
    const headers = { 'idempotency-key': `create-store-${randomBytes(4).toString('hex')}` };
    const body = { name: 'Replayed', code: code() };
    const first = await call(token, 'POST', '/', body, headers);
    expect(first.statusCode).toBe(201);
    const retry = await call(token, 'POST', '/', body, headers);
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.json()).toEqual(first.json());
    expect(await t.admin.query('SELECT count(*)::int AS n FROM stores WHERE tenant_id = $1', [tenant.id])).toEqual([{ n: 1 }]);
    expect(await auditRows(tenant.id, 'store.created')).toHaveLength(1);
    // Without the key, the same body is a second request: the code is taken now.
    expect((await call(token, 'POST', '/', body)).json().code).toBe('store.code_taken');
  });

  it('admins may create; members may not (403 auth.forbidden)', async () => {
    const { tenant } = await ownerOfNewTenant();
    const admin = await createPerson(t.app);
    const member = await createPerson(t.app);
    await addMembership(t.app, tenant.id, admin, 'admin');
    await addMembership(t.app, tenant.id, member, 'member');
    const adminToken = (await signInAs(t.app, admin, tenant.id)).accessToken;
    const memberToken = (await signInAs(t.app, member, tenant.id)).accessToken;
    expect((await call(adminToken, 'POST', '/', { name: 'By admin', code: code() })).statusCode).toBe(201);
    const refused = await call(memberToken, 'POST', '/', { name: 'By member', code: code() });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('auth.forbidden');
  });
});

describe('GET /stores and GET /stores/:id', () => {
  it('lists by name, case-insensitively, in pages that neither skip nor repeat', async () => {
    const { token } = await ownerOfNewTenant();
    for (const name of ['delta', 'Alpha', 'charlie', 'Bravo', 'echo']) await create(token, { name });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await call(token, 'GET', `/?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(response.statusCode).toBe(200);
      const page = response.json();
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((store: { name: string }) => store.name));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    expect(seen).toEqual(['Alpha', 'Bravo', 'charlie', 'delta', 'echo']);
    expect(pages).toBe(3);
  });

  it('searches name and code case-insensitively; LIKE wildcards match literally', async () => {
    const { token } = await ownerOfNewTenant();
    await create(token, { name: 'Harbour View', code: 'HV-1' });
    await create(token, { name: 'Hilltop', code: 'HARB-2' });
    await create(token, { name: '100% Organic', code: 'ORG' });
    await create(token, { name: 'Riverside', code: 'RS' });
    const names = async (search: string) => (await call(token, 'GET', `/?search=${encodeURIComponent(search)}`)).json().data.map((s: { name: string }) => s.name);
    expect(await names('HARB')).toEqual(['Harbour View', 'Hilltop']);
    expect(await names('view')).toEqual(['Harbour View']);
    expect(await names('hv-1')).toEqual(['Harbour View']);
    expect(await names('%')).toEqual(['100% Organic']);
    expect(await names('_')).toEqual([]);
    expect(await names('nothing-like-it')).toEqual([]);
  });

  it('deleted stores: only with includeDeleted, in the list and by id', async () => {
    const { token } = await ownerOfNewTenant();
    await create(token, { name: 'Kept' });
    const gone = await create(token, { name: 'Gone' });
    expect((await call(token, 'DELETE', `/${gone.id}`)).statusCode).toBe(204);

    expect((await call(token, 'GET', '/')).json().data.map((s: { name: string }) => s.name)).toEqual(['Kept']);
    const all = (await call(token, 'GET', '/?includeDeleted=true')).json().data;
    expect(all.map((s: { name: string }) => s.name)).toEqual(['Gone', 'Kept']);
    expect(all[0].deletedAt).toEqual(expect.any(String));

    const hidden = await call(token, 'GET', `/${gone.id}`);
    expect(hidden.statusCode).toBe(404);
    expect(hidden.json().code).toBe('store.not_found');
    const shown = await call(token, 'GET', `/${gone.id}?includeDeleted=true`);
    expect(shown.statusCode).toBe(200);
    expect(shown.json()).toMatchObject({ id: gone.id, deletedAt: expect.any(String) });
  });

  it('members (stores.view) may list and read', async () => {
    const { tenant, token } = await ownerOfNewTenant();
    const store = await create(token, { name: 'Visible' });
    const member = await createPerson(t.app);
    await addMembership(t.app, tenant.id, member, 'member');
    const memberToken = (await signInAs(t.app, member, tenant.id)).accessToken;
    expect((await call(memberToken, 'GET', '/')).json().data.map((s: { id: string }) => s.id)).toEqual([store.id]);
    expect((await call(memberToken, 'GET', `/${store.id}`)).json()).toEqual(store);
  });

  it('an unknown id, or a malformed one, or a cursor not handed out', async () => {
    const { token } = await ownerOfNewTenant();
    expect((await call(token, 'GET', `/${uuidv7()}`)).json().code).toBe('store.not_found');
    const malformed = await call(token, 'GET', '/not-a-uuid');
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().errors).toEqual([expect.objectContaining({ in: 'params', field: '/id' })]);
    const cursor = await call(token, 'GET', '/?cursor=garbage');
    expect(cursor.statusCode).toBe(400);
    expect(cursor.json().errors).toEqual([expect.objectContaining({ in: 'querystring', field: '/cursor' })]);
    expect((await call(token, 'GET', '/?limit=101')).statusCode).toBe(400);
  });
});

describe('PATCH /stores/:id', () => {
  it('changes the fields given, keeps the rest, audits the difference and announces store.updated', async () => {
    const { person, tenant, token } = await ownerOfNewTenant();
    const store = await create(token, { name: 'Old name', code: 'OLD', phone: '+254700000001', address: { city: 'Mombasa', country: 'KE' } });
    const response = await call(token, 'PATCH', `/${store.id}`, { name: 'New name', code: 'NEW', email: 'shop@example.test', phone: null, address: { city: 'Kisumu' }, timezone: 'UTC' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ id: store.id, name: 'New name', code: 'NEW', email: 'shop@example.test', phone: null, address: { city: 'Kisumu' }, timezone: 'UTC', isHeadquarters: true });
    expect(await auditRows(tenant.id, 'store.updated')).toEqual([
      expect.objectContaining({
        actor_id: person.id,
        target_id: store.id,
        before: { name: 'Old name', code: 'OLD', phone: '+254700000001', email: null, address: { city: 'Mombasa', country: 'KE' }, timezone: null },
        after: { name: 'New name', code: 'NEW', phone: null, email: 'shop@example.test', address: { city: 'Kisumu' }, timezone: 'UTC' },
      }),
    ]);
    expect(await events(tenant.id, 'store.updated')).toEqual([
      { payload: { store: expect.objectContaining({ id: store.id, code: 'NEW' }), changed: expect.arrayContaining(['name', 'code', 'phone', 'email', 'address', 'timezone']) } },
    ]);
  });

  it('a change that changes nothing writes no audit row and no event', async () => {
    const { tenant, token } = await ownerOfNewTenant();
    const store = await create(token, { name: 'Same', code: 'SAME', address: { line1: '1 Long Lane', city: 'Eldoret', country: 'KE' } });
    // The same address with its keys in another order is the same address.
    const response = await call(token, 'PATCH', `/${store.id}`, { name: 'Same', isHeadquarters: true, address: { country: 'KE', city: 'Eldoret', line1: '1 Long Lane' } });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual(store);
    expect(await auditRows(tenant.id, 'store.updated')).toEqual([]);
  });

  it('a code another live store uses → 409 store.code_taken; the store’s own code in another case is fine', async () => {
    const { token } = await ownerOfNewTenant();
    await create(token, { code: 'TAKEN' });
    const store = await create(token, { code: 'mine' });
    const refused = await call(token, 'PATCH', `/${store.id}`, { code: 'taken' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('store.code_taken');
    expect((await call(token, 'PATCH', `/${store.id}`, { code: 'MINE' })).json().code).toBe('MINE');
  });

  it('isHeadquarters: true moves the flag; false on the headquarters → 409 store.headquarters_required', async () => {
    const { tenant, token } = await ownerOfNewTenant();
    const first = await create(token);
    const second = await create(token);
    const unset = await call(token, 'PATCH', `/${first.id}`, { isHeadquarters: false });
    expect(unset.statusCode).toBe(409);
    expect(unset.json().code).toBe('store.headquarters_required');

    const moved = await call(token, 'PATCH', `/${second.id}`, { isHeadquarters: true });
    expect(moved.statusCode).toBe(200);
    expect(moved.json().isHeadquarters).toBe(true);
    expect(await headquartersOf(tenant.id)).toEqual([second.id]);
    // false on a store that is not the headquarters is simply no change.
    expect((await call(token, 'PATCH', `/${first.id}`, { isHeadquarters: false })).json().isHeadquarters).toBe(false);
  });

  it('an empty body, unknown fields and bad values are 400; a deleted store is 404', async () => {
    const { token } = await ownerOfNewTenant();
    await create(token);
    const store = await create(token);
    expect((await call(token, 'PATCH', `/${store.id}`, {})).statusCode).toBe(400);
    expect((await call(token, 'PATCH', `/${store.id}`, { isDeleted: true })).statusCode).toBe(400);
    expect((await call(token, 'PATCH', `/${store.id}`, { timezone: 'Nowhere/Land' })).json().errors).toEqual([expect.objectContaining({ field: '/timezone' })]);
    expect((await call(token, 'DELETE', `/${store.id}`)).statusCode).toBe(204);
    const deleted = await call(token, 'PATCH', `/${store.id}`, { name: 'Ghost' });
    expect(deleted.statusCode).toBe(404);
    expect(deleted.json().code).toBe('store.not_found');
  });
});
