/**
 * /api/v1/stores/:id/users: listing, assigning (idempotent, roles, active members of this tenant only —
 * another tenant's person is refused exactly like an unknown id) and unassigning; audit rows and
 * `store.members_changed` events; another tenant's store answers 404.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMembership, assignToStore, bearer, createPerson, createStore, createTenantFor, signInAs, type Person } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { uuidv7 } from '../../core/db/ids.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

type Method = 'GET' | 'POST' | 'DELETE';
const call = (token: string, method: Method, url: string, payload?: unknown, headers: Record<string, string> = {}) =>
  t.app.inject({ method, url: `/api/v1/stores${url}`, headers: { ...bearer(token), ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });

/** A tenant with an owner (signed in), a store, and `count` active members. */
async function shop(count = 2) {
  const owner = await createPerson(t.app);
  const tenant = await createTenantFor(t.app, owner);
  const token = (await signInAs(t.app, owner, tenant.id)).accessToken;
  const store = await createStore(t.app, tenant.id);
  const members: Person[] = [];
  for (let i = 0; i < count; i++) {
    const person = await createPerson(t.app, { name: `Member ${i} ${randomBytes(2).toString('hex')}` });
    await addMembership(t.app, tenant.id, person, 'member');
    members.push(person);
  }
  return { owner, tenant, token, store, members };
}

const assignments = (tenantId: string, storeId: string) =>
  t.admin.query<{ user_id: string; role: string }>('SELECT user_id, role FROM store_members WHERE tenant_id = $1 AND store_id = $2 ORDER BY user_id', [tenantId, storeId]);
const auditRows = (tenantId: string) =>
  t.admin.query<{ actor_id: string; target_id: string; before: unknown; after: unknown }>(
    `SELECT actor_id, target_id, before, after FROM audit_events WHERE tenant_id = $1 AND action = 'store.members_changed' ORDER BY occurred_at, id`,
    [tenantId],
  );
const events = (tenantId: string) =>
  t.admin.query<{ payload: unknown }>(`SELECT payload FROM outbox_events WHERE tenant_id = $1 AND type = 'store.members_changed' ORDER BY id`, [tenantId]);

const byUserId = <T extends { userId: string }>(items: T[]) => [...items].sort((a, b) => (a.userId < b.userId ? -1 : 1));

describe('POST /stores/:id/users', () => {
  it('assigns active members as store_staff by default; answers them; audits and announces the change', async () => {
    const { owner, tenant, token, store, members } = await shop(2);
    const response = await call(token, 'POST', `/${store.id}/users`, { userIds: members.map((m) => m.id) });
    expect(response.statusCode).toBe(200);
    expect(byUserId(response.json().data)).toEqual(byUserId(members.map((m) => ({ userId: m.id, name: m.name, email: m.email, role: 'store_staff' }))));
    expect(await assignments(tenant.id, store.id)).toEqual(byUserId(members.map((m) => ({ userId: m.id }))).map((m) => ({ user_id: m.userId, role: 'store_staff' })));

    const assigned = members.map((m) => ({ userId: m.id, role: 'store_staff' }));
    expect(await auditRows(tenant.id)).toEqual([{ actor_id: owner.id, target_id: store.id, before: { members: [] }, after: { assigned, unassigned: [] } }]);
    expect(await events(tenant.id)).toEqual([{ payload: { storeId: store.id, assigned, unassigned: [] } }]);
  });

  it('is idempotent: assigning again changes nothing and writes no audit row or event', async () => {
    const { tenant, token, store, members } = await shop(1);
    await call(token, 'POST', `/${store.id}/users`, { userIds: [members[0]!.id], role: 'store_manager' });
    const again = await call(token, 'POST', `/${store.id}/users`, { userIds: [members[0]!.id] });
    expect(again.statusCode).toBe(200);
    // Without `role`, an existing assignment keeps its role.
    expect(again.json().data).toEqual([expect.objectContaining({ userId: members[0]!.id, role: 'store_manager' })]);
    expect(await auditRows(tenant.id)).toHaveLength(1);
    expect(await events(tenant.id)).toHaveLength(1);
  });

  it('with `role`, sets it on new and existing assignments alike', async () => {
    const { tenant, token, store, members } = await shop(2);
    await assignToStore(t.app, tenant.id, store.id, members[0]!, 'store_staff');
    const response = await call(token, 'POST', `/${store.id}/users`, { userIds: members.map((m) => m.id), role: 'store_manager' });
    expect(response.json().data.map((m: { role: string }) => m.role)).toEqual(['store_manager', 'store_manager']);
    const [row] = await auditRows(tenant.id);
    expect(row!.before).toEqual({ members: [{ userId: members[0]!.id, role: 'store_staff' }] });
  });

  it('admins and owners themselves may be assigned', async () => {
    const { owner, token, store } = await shop(0);
    expect((await call(token, 'POST', `/${store.id}/users`, { userIds: [owner.id] })).json().data).toEqual([expect.objectContaining({ userId: owner.id })]);
  });

  it('refuses anyone who is not an active member of this tenant, each by position, and assigns no one', async () => {
    const { tenant, token, store, members } = await shop(1);
    const deactivated = await createPerson(t.app);
    await addMembership(t.app, tenant.id, deactivated, 'member', 'deactivated');
    const outsider = await createPerson(t.app);
    const elsewhere = await createPerson(t.app);
    await createTenantFor(t.app, elsewhere);

    const userIds = [members[0]!.id, deactivated.id, outsider.id, elsewhere.id, uuidv7()];
    const response = await call(token, 'POST', `/${store.id}/users`, { userIds });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body.code).toBe('request.validation_failed');
    expect(body.errors).toEqual([1, 2, 3, 4].map((i) => ({ in: 'body', field: `/userIds/${i}`, message: 'is not an active member of this tenant' })));
    // Another tenant's member gets exactly the words an unknown id gets: no hint they exist elsewhere.
    expect(new Set(body.errors.map((e: { message: string }) => e.message)).size).toBe(1);
    expect(await assignments(tenant.id, store.id)).toEqual([]);
    expect(await auditRows(tenant.id)).toEqual([]);
  });

  it('a roleId that is no role of this tenant → 404 role.not_found, and nobody is assigned', async () => {
    const { tenant, token, store, members } = await shop(1);
    const response = await call(token, 'POST', `/${store.id}/users`, { userIds: [members[0]!.id], roleId: uuidv7() });
    expect(response.statusCode).toBe(404);
    expect(response.json().code).toBe('role.not_found');
    expect(await assignments(tenant.id, store.id)).toEqual([]);
  });

  it.each([
    ['no userIds', {}],
    ['empty userIds', { userIds: [] }],
    ['a malformed id', { userIds: ['nope'] }],
    ['a repeated id', { userIds: ['0193d4c0-0000-7000-8000-000000000001', '0193d4c0-0000-7000-8000-000000000001'] }],
    ['an unknown role', { userIds: ['0193d4c0-0000-7000-8000-000000000001'], role: 'owner' }],
    ['too many ids', { userIds: Array.from({ length: 101 }, () => uuidv7()) }],
  ])('400 for %s', async (_name, body) => {
    const { token, store } = await shop(0);
    const response = await call(token, 'POST', `/${store.id}/users`, body);
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('request.validation_failed');
  });

  it('a deleted store, or an unknown one → 404 store.not_found', async () => {
    const { tenant, token, members } = await shop(1);
    const deleted = await createStore(t.app, tenant.id, { deleted: true });
    for (const id of [deleted.id, uuidv7()]) {
      const response = await call(token, 'POST', `/${id}/users`, { userIds: [members[0]!.id] });
      expect(response.statusCode).toBe(404);
      expect(response.json().code).toBe('store.not_found');
    }
  });

  it('honours Idempotency-Key: the retry replays the answer', async () => {
    const { tenant, token, store, members } = await shop(1);
    const headers = { 'idempotency-key': `assign-${randomBytes(4).toString('hex')}` };
    const first = await call(token, 'POST', `/${store.id}/users`, { userIds: [members[0]!.id] }, headers);
    const retry = await call(token, 'POST', `/${store.id}/users`, { userIds: [members[0]!.id] }, headers);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.json()).toEqual(first.json());
    expect(await auditRows(tenant.id)).toHaveLength(1);
  });
});

describe('GET /stores/:id/users', () => {
  it('lists the store’s people in pages, by user id; members may read it', async () => {
    const { tenant, store, members } = await shop(5);
    for (const member of members) await assignToStore(t.app, tenant.id, store.id, member);
    // Someone assigned to another store of the tenant is not listed.
    const other = await createStore(t.app, tenant.id);
    const elsewhere = await createPerson(t.app);
    await addMembership(t.app, tenant.id, elsewhere);
    await assignToStore(t.app, tenant.id, other.id, elsewhere);

    const memberToken = (await signInAs(t.app, members[0]!, tenant.id)).accessToken;
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const response = await call(memberToken, 'GET', `/${store.id}/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(response.statusCode).toBe(200);
      const page = response.json();
      for (const entry of page.data) expect(Object.keys(entry).sort()).toEqual(['email', 'name', 'role', 'userId']);
      seen.push(...page.data.map((m: { userId: string }) => m.userId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(members.map((m) => m.id).sort());
  });

  it('an empty store lists nothing; a deleted one is 404', async () => {
    const { tenant, token, store } = await shop(0);
    expect((await call(token, 'GET', `/${store.id}/users`)).json()).toEqual({ data: [], nextCursor: null });
    const deleted = await createStore(t.app, tenant.id, { deleted: true });
    expect((await call(token, 'GET', `/${deleted.id}/users`)).json().code).toBe('store.not_found');
  });
});

describe('DELETE /stores/:id/users/:userId and DELETE /stores/:id/users', () => {
  it('unassigns one person (204) with audit and event; again → 404 store.member_not_found', async () => {
    const { tenant, token, store, members } = await shop(2);
    for (const member of members) await assignToStore(t.app, tenant.id, store.id, member, 'store_manager');
    const response = await call(token, 'DELETE', `/${store.id}/users/${members[0]!.id}`);
    expect(response.statusCode).toBe(204);
    expect((await assignments(tenant.id, store.id)).map((row) => row.user_id)).toEqual([members[1]!.id]);
    expect(await auditRows(tenant.id)).toEqual([
      expect.objectContaining({ before: { members: [{ userId: members[0]!.id, role: 'store_manager' }] }, after: { assigned: [], unassigned: [members[0]!.id] } }),
    ]);
    expect(await events(tenant.id)).toEqual([{ payload: { storeId: store.id, assigned: [], unassigned: [members[0]!.id] } }]);

    const again = await call(token, 'DELETE', `/${store.id}/users/${members[0]!.id}`);
    expect(again.statusCode).toBe(404);
    expect(again.json().code).toBe('store.member_not_found');
  });

  it('unassigns several at once; people not assigned are skipped; nothing assigned → no audit row', async () => {
    const { tenant, token, store, members } = await shop(3);
    await assignToStore(t.app, tenant.id, store.id, members[0]!);
    await assignToStore(t.app, tenant.id, store.id, members[1]!);
    const response = await call(token, 'DELETE', `/${store.id}/users`, { userIds: [members[0]!.id, members[2]!.id, uuidv7()] });
    expect(response.statusCode).toBe(204);
    expect((await assignments(tenant.id, store.id)).map((row) => row.user_id)).toEqual([members[1]!.id]);
    expect(await auditRows(tenant.id)).toEqual([expect.objectContaining({ after: { assigned: [], unassigned: [members[0]!.id] } })]);

    expect((await call(token, 'DELETE', `/${store.id}/users`, { userIds: [members[2]!.id] })).statusCode).toBe(204);
    expect(await auditRows(tenant.id)).toHaveLength(1);
    expect((await call(token, 'DELETE', `/${store.id}/users`, { userIds: [] })).statusCode).toBe(400);
  });

  it('a member (no stores.manage) may not unassign anyone (403)', async () => {
    const { tenant, store, members } = await shop(2);
    await assignToStore(t.app, tenant.id, store.id, members[1]!);
    const memberToken = (await signInAs(t.app, members[0]!, tenant.id)).accessToken;
    const response = await call(memberToken, 'DELETE', `/${store.id}/users/${members[1]!.id}`);
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('auth.forbidden');
    expect(await assignments(tenant.id, store.id)).toHaveLength(1);
  });
});

describe('another tenant', () => {
  it('its store ids answer 404 on every people route, and its people cannot be assigned here', async () => {
    const victim = await shop(1);
    await assignToStore(t.app, victim.tenant.id, victim.store.id, victim.members[0]!);
    const before = await assignments(victim.tenant.id, victim.store.id);
    const attacker = await shop(1);

    const attempts: Array<[Method, string, unknown?]> = [
      ['GET', `/${victim.store.id}/users`],
      ['POST', `/${victim.store.id}/users`, { userIds: [attacker.members[0]!.id] }],
      ['DELETE', `/${victim.store.id}/users/${victim.members[0]!.id}`],
      ['DELETE', `/${victim.store.id}/users`, { userIds: [victim.members[0]!.id] }],
    ];
    for (const [method, url, body] of attempts) {
      const response = await call(attacker.token, method, url, body);
      expect(response.statusCode, `${method} ${url}`).toBe(404);
      expect(response.json().code).toBe('store.not_found');
    }
    // The victim's member, into the attacker's own store: 400, as for an unknown id.
    const cross = await call(attacker.token, 'POST', `/${attacker.store.id}/users`, { userIds: [victim.members[0]!.id] });
    expect(cross.statusCode).toBe(400);
    expect(cross.json().errors).toEqual([{ in: 'body', field: '/userIds/0', message: 'is not an active member of this tenant' }]);
    expect(await assignments(victim.tenant.id, victim.store.id)).toEqual(before);
    expect(await assignments(attacker.tenant.id, attacker.store.id)).toEqual([]);
  });
});
