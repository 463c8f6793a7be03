/**
 * The store context (`X-Store-ID`), proven through a route: a member acts in the stores they are assigned
 * to and in no other (403 `store.access_denied` — the same for another tenant's store, a deleted store or
 * an unknown id, so the answer is no oracle); owners and admins act in any live store of their tenant; a
 * malformed id is a 400; removing the assignment or deleting the store cuts access at once.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMembership, assignToStore, bearer, createPerson, createStore, createTenantFor, signInAs } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { uuidv7 } from '../../core/db/ids.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp(
    {},
    {
      // A store-aware route, answering with the store context authentication accepted.
      configure: (untyped) => {
        const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
        app.get('/test/store-context', { config: { permission: 'stores.view' } }, async (request) => ({
          storeId: request.actor?.storeId ?? null,
          storeRole: request.actor?.storeRole ?? null,
        }));
      },
    },
  );
});
afterAll(() => t?.close());

const inStore = (token: string, storeId?: string) =>
  t.app.inject({ method: 'GET', url: '/test/store-context', headers: { ...bearer(token), ...(storeId === undefined ? {} : { 'x-store-id': storeId }) } });

async function expectDenied(token: string, storeId: string) {
  const response = await inStore(token, storeId);
  expect(response.statusCode).toBe(403);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.json().code).toBe('store.access_denied');
  return response.json();
}

/** A tenant with its headquarters and two branches (A, B), and a member assigned to A only. */
async function shop() {
  const owner = await createPerson(t.app);
  const tenant = await createTenantFor(t.app, owner);
  await createStore(t.app, tenant.id, { isHeadquarters: true });
  const storeA = await createStore(t.app, tenant.id);
  const storeB = await createStore(t.app, tenant.id);
  const member = await createPerson(t.app);
  await addMembership(t.app, tenant.id, member, 'member');
  await assignToStore(t.app, tenant.id, storeA.id, member, 'store_manager');
  const memberToken = (await signInAs(t.app, member, tenant.id)).accessToken;
  const ownerToken = (await signInAs(t.app, owner, tenant.id)).accessToken;
  return { owner, tenant, storeA, storeB, member, memberToken, ownerToken };
}

describe('X-Store-ID', () => {
  it('without it there is no store context', async () => {
    const { memberToken } = await shop();
    expect((await inStore(memberToken)).json()).toEqual({ storeId: null, storeRole: null });
  });

  it('a member acts in the store they are assigned to, with their role there', async () => {
    const { storeA, memberToken } = await shop();
    const response = await inStore(memberToken, storeA.id);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ storeId: storeA.id, storeRole: 'store_manager' });
    // Upper-case hex is the same id.
    expect((await inStore(memberToken, storeA.id.toUpperCase())).json().storeId).toBe(storeA.id);
  });

  it('not in another store of the tenant, another tenant’s store, a deleted store or an unknown id — one answer for all', async () => {
    const { tenant, storeB, member, memberToken } = await shop();
    const other = await shop();
    const deleted = await createStore(t.app, tenant.id, { deleted: true });
    await assignToStore(t.app, tenant.id, deleted.id, member);
    const answers = [];
    for (const storeId of [storeB.id, other.storeA.id, deleted.id, uuidv7()]) answers.push(await expectDenied(memberToken, storeId));
    const words = new Set(answers.map(({ title, detail, status }) => JSON.stringify({ title, detail, status })));
    expect(words.size).toBe(1);
  });

  it('a malformed id → 400 request.invalid_header', async () => {
    const { memberToken } = await shop();
    for (const value of ['not-a-uuid', '123', `${uuidv7()}x`]) {
      const response = await inStore(memberToken, value);
      expect(response.statusCode, value).toBe(400);
      expect(response.json().code).toBe('request.invalid_header');
    }
  });

  it('owners and admins act in any live store of their tenant (without a store role), never another tenant’s or a deleted one', async () => {
    const { tenant, storeA, storeB, ownerToken } = await shop();
    const admin = await createPerson(t.app);
    await addMembership(t.app, tenant.id, admin, 'admin');
    const adminToken = (await signInAs(t.app, admin, tenant.id)).accessToken;
    const other = await shop();
    const deleted = await createStore(t.app, tenant.id, { deleted: true });
    for (const token of [ownerToken, adminToken]) {
      for (const store of [storeA, storeB]) expect((await inStore(token, store.id)).json()).toEqual({ storeId: store.id, storeRole: null });
      await expectDenied(token, other.storeA.id);
      await expectDenied(token, deleted.id);
    }
  });

  it('an owner who is also assigned gets their store role too', async () => {
    const { owner, tenant, storeB, ownerToken } = await shop();
    await assignToStore(t.app, tenant.id, storeB.id, owner, 'store_staff');
    expect((await inStore(ownerToken, storeB.id)).json()).toEqual({ storeId: storeB.id, storeRole: 'store_staff' });
  });

  it('removing the assignment (through the route) cuts the member off at once, with the same token', async () => {
    const { storeA, member, memberToken, ownerToken } = await shop();
    expect((await inStore(memberToken, storeA.id)).statusCode).toBe(200);
    const removed = await t.app.inject({ method: 'DELETE', url: `/api/v1/stores/${storeA.id}/users/${member.id}`, headers: bearer(ownerToken) });
    expect(removed.statusCode).toBe(204);
    await expectDenied(memberToken, storeA.id);
    // Assigned again: back at once.
    await t.app.inject({ method: 'POST', url: `/api/v1/stores/${storeA.id}/users`, headers: bearer(ownerToken), payload: { userIds: [member.id] } });
    expect((await inStore(memberToken, storeA.id)).json()).toEqual({ storeId: storeA.id, storeRole: 'store_staff' });
  });

  it('deleting the store cuts everyone off at once; restoring it brings the assignments back', async () => {
    const { storeA, memberToken, ownerToken } = await shop();
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/stores/${storeA.id}`, headers: bearer(ownerToken) })).statusCode).toBe(204);
    await expectDenied(memberToken, storeA.id);
    await expectDenied(ownerToken, storeA.id);
    expect((await t.app.inject({ method: 'POST', url: `/api/v1/stores/${storeA.id}/restore`, headers: bearer(ownerToken) })).statusCode).toBe(200);
    expect((await inStore(memberToken, storeA.id)).json()).toEqual({ storeId: storeA.id, storeRole: 'store_manager' });
  });

  it('a deactivated member loses the tenant (403 auth.tenant_access_revoked) before any store question', async () => {
    const { tenant, storeA, member, memberToken } = await shop();
    await t.admin.query(`UPDATE memberships SET status = 'deactivated' WHERE tenant_id = $1 AND user_id = $2`, [tenant.id, member.id]);
    const response = await inStore(memberToken, storeA.id);
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('auth.tenant_access_revoked');
  });

  it('applies on the store routes themselves: a member may not read a store through one they are not assigned to', async () => {
    const { storeA, storeB, memberToken } = await shop();
    const ok = await t.app.inject({ method: 'GET', url: `/api/v1/stores/${storeA.id}`, headers: { ...bearer(memberToken), 'x-store-id': storeA.id } });
    expect(ok.statusCode).toBe(200);
    const denied = await t.app.inject({ method: 'GET', url: '/api/v1/stores', headers: { ...bearer(memberToken), 'x-store-id': storeB.id } });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().code).toBe('store.access_denied');
  });
});
