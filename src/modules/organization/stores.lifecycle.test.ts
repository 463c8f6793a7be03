/**
 * /api/v1/stores: soft delete and restore, the headquarters rules around them, the invariants under
 * concurrent requests (the tenant row lock), and another tenant's store ids (404, nothing changes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { storeApi, type Method } from '../../../test/store-api.js';
import { uuidv7 } from '../../core/db/ids.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

const { call, ownerOfNewTenant, code, create, headquartersOf, auditRows, events } = storeApi(() => t);

describe('concurrent changes keep the invariants', () => {
  it('first stores created at once: all created, exactly one headquarters', async () => {
    const { tenant, token } = await ownerOfNewTenant();
    // Without the tenant lock each would see "no headquarters yet" and all but one would fail on the
    // partial unique index (PostgreSQL runs them truly in parallel; PGlite one after another).
    // Warm the pool first, so the creates are not spread out by connection set-up.
    await Promise.all(Array.from({ length: 5 }, () => call(token, 'GET', '/')));
    const responses = await Promise.all(Array.from({ length: 5 }, (_, i) => call(token, 'POST', '/', { name: `First ${i}`, code: code() })));
    expect(responses.map((r) => r.statusCode)).toEqual([201, 201, 201, 201, 201]);
    expect(responses.filter((r) => r.json().isHeadquarters)).toHaveLength(1);
    expect(await headquartersOf(tenant.id)).toHaveLength(1);
  });

  it('several stores at once, each asking to be the headquarters: exactly one ends up so', async () => {
    const { tenant, token } = await ownerOfNewTenant();
    const responses = await Promise.all(Array.from({ length: 4 }, (_, i) => call(token, 'POST', '/', { name: `HQ ${i}`, code: code(), isHeadquarters: true })));
    expect(responses.map((r) => r.statusCode)).toEqual([201, 201, 201, 201]);
    const headquarters = await headquartersOf(tenant.id);
    expect(headquarters).toHaveLength(1);
    expect(responses.map((r) => r.json().id)).toContain(headquarters[0]);
  });

  it('the same code created at once: one 201, one 409 store.code_taken', async () => {
    const { tenant, token } = await ownerOfNewTenant();
    const responses = await Promise.all([call(token, 'POST', '/', { name: 'A', code: 'RACE' }), call(token, 'POST', '/', { name: 'B', code: 'race' })]);
    expect(responses.map((r) => r.statusCode).sort()).toEqual([201, 409]);
    expect(responses.find((r) => r.statusCode === 409)!.json().code).toBe('store.code_taken');
    expect(await t.admin.query('SELECT count(*)::int AS n FROM stores WHERE tenant_id = $1', [tenant.id])).toEqual([{ n: 1 }]);
  });
});

describe('DELETE /stores/:id and POST /stores/:id/restore', () => {
  it('soft-deletes (204) with audit and event, and restores (200) with audit and event', async () => {
    const { tenant, token } = await ownerOfNewTenant();
    await create(token);
    const store = await create(token, { code: 'BRANCH' });
    expect((await call(token, 'DELETE', `/${store.id}`)).statusCode).toBe(204);
    const [row] = await t.admin.query<{ deleted_at: Date | null }>('SELECT deleted_at FROM stores WHERE tenant_id = $1 AND id = $2', [tenant.id, store.id]);
    expect(row!.deleted_at).not.toBeNull();
    expect(await auditRows(tenant.id, 'store.deleted')).toEqual([expect.objectContaining({ target_id: store.id, before: expect.objectContaining({ deletedAt: null }) })]);
    expect(await events(tenant.id, 'store.deleted')).toEqual([{ payload: { store: expect.objectContaining({ id: store.id, deletedAt: expect.any(String) }) } }]);
    // Deleting again: it is gone.
    expect((await call(token, 'DELETE', `/${store.id}`)).json().code).toBe('store.not_found');

    const restored = await call(token, 'POST', `/${store.id}/restore`);
    expect(restored.statusCode).toBe(200);
    expect(restored.json()).toMatchObject({ id: store.id, code: 'BRANCH', deletedAt: null, isHeadquarters: false });
    expect(await auditRows(tenant.id, 'store.restored')).toEqual([expect.objectContaining({ target_id: store.id, after: expect.objectContaining({ deletedAt: null }) })]);
    expect(await events(tenant.id, 'store.restored')).toHaveLength(1);
    // Restoring a live store changes nothing.
    expect((await call(token, 'POST', `/${store.id}/restore`)).statusCode).toBe(200);
    expect(await auditRows(tenant.id, 'store.restored')).toHaveLength(1);
  });

  it('the headquarters cannot be deleted (409 store.last_headquarters), alone or not, until the flag moves', async () => {
    const { tenant, token } = await ownerOfNewTenant();
    const only = await create(token);
    const alone = await call(token, 'DELETE', `/${only.id}`);
    expect(alone.statusCode).toBe(409);
    expect(alone.json().code).toBe('store.last_headquarters');

    const other = await create(token);
    expect((await call(token, 'DELETE', `/${only.id}`)).json().code).toBe('store.last_headquarters');
    expect((await call(token, 'PATCH', `/${other.id}`, { isHeadquarters: true })).statusCode).toBe(200);
    expect((await call(token, 'DELETE', `/${only.id}`)).statusCode).toBe(204);
    expect(await headquartersOf(tenant.id)).toEqual([other.id]);
    expect(await auditRows(tenant.id, 'store.deleted')).toHaveLength(1);
  });

  it('restore is refused while a live store uses the code (409 store.code_taken), and works once it is free', async () => {
    const { token } = await ownerOfNewTenant();
    await create(token);
    const old = await create(token, { code: 'DUP' });
    expect((await call(token, 'DELETE', `/${old.id}`)).statusCode).toBe(204);
    const usurper = await create(token, { code: 'dup' });
    const refused = await call(token, 'POST', `/${old.id}/restore`);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('store.code_taken');
    expect((await call(token, 'PATCH', `/${usurper.id}`, { code: 'DUP-2' })).statusCode).toBe(200);
    expect((await call(token, 'POST', `/${old.id}/restore`)).statusCode).toBe(200);
  });

  it('a restored store becomes the headquarters when the tenant has none', async () => {
    const { tenant, token } = await ownerOfNewTenant();
    // A tenant whose only store was deleted before the headquarters rule (written directly).
    const store = await createStore(t.app, tenant.id, { deleted: true });
    const restored = await call(token, 'POST', `/${store.id}/restore`);
    expect(restored.json()).toMatchObject({ id: store.id, isHeadquarters: true });
    expect(await headquartersOf(tenant.id)).toEqual([store.id]);
  });

  it('restoring an unknown id → 404 store.not_found', async () => {
    const { token } = await ownerOfNewTenant();
    const response = await call(token, 'POST', `/${uuidv7()}/restore`);
    expect(response.statusCode).toBe(404);
    expect(response.json().code).toBe('store.not_found');
  });
});

describe('another tenant’s stores', () => {
  it('are invisible and untouchable: every route answers 404 store.not_found, nothing changes', async () => {
    const victim = await ownerOfNewTenant();
    await create(victim.token);
    const store = await create(victim.token, { code: 'VICTIM' });
    const deleted = await create(victim.token);
    await call(victim.token, 'DELETE', `/${deleted.id}`);
    const before = await t.admin.query('SELECT * FROM stores WHERE tenant_id = $1 ORDER BY id', [victim.tenant.id]);

    const attacker = await ownerOfNewTenant();
    const attempts: Array<[Method, string, unknown?]> = [
      ['GET', `/${store.id}`],
      ['GET', `/${deleted.id}?includeDeleted=true`],
      ['PATCH', `/${store.id}`, { name: 'Mine now' }],
      ['DELETE', `/${store.id}`],
      ['POST', `/${deleted.id}/restore`],
    ];
    for (const [method, url, body] of attempts) {
      const response = await call(attacker.token, method, url, body);
      expect(response.statusCode, `${method} ${url}`).toBe(404);
      expect(response.json().code).toBe('store.not_found');
    }
    expect((await call(attacker.token, 'GET', '/?includeDeleted=true')).json().data).toEqual([]);
    expect((await call(attacker.token, 'GET', '/?search=VICTIM')).json().data).toEqual([]);
    // The attacker's own store may use the victim's code: codes are per tenant.
    await create(attacker.token, { code: 'VICTIM' });
    expect(await t.admin.query('SELECT * FROM stores WHERE tenant_id = $1 ORDER BY id', [victim.tenant.id])).toEqual(before);
  });
});
