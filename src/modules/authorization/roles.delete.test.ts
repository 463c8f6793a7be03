/**
 * DELETE /api/v1/roles/:id: an unused custom role goes (audited, announced); an assigned one is refused
 * (409 role.in_use) unless `reassignTo` names another custom role of the same scope, to which every
 * assignment moves in one transaction (duplicates dropped); every wrong `reassignTo` is refused and
 * changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assignToStore, createStore, signedInMember, signedInOwner } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { roleApi } from '../../../test/role-api.js';
import { uuidv7 } from '../../core/db/ids.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

const { call, createRole, holdRole, assignmentsOf, roleExists, auditRows, events } = roleApi(() => t);

describe('DELETE /roles/:id', () => {
  it('deletes an unused custom role (204), audited and announced; it is gone', async () => {
    const { person, tenant, token } = await signedInOwner(t.app);
    const role = await createRole(token, { name: 'Temporary', permissions: ['audit.view'] });
    const response = await call(token, 'DELETE', `/roles/${role.id}`);
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');
    expect((await call(token, 'GET', `/roles/${role.id}`)).statusCode).toBe(404);
    expect(await auditRows(tenant.id, 'role.deleted')).toEqual([
      expect.objectContaining({ actor_id: person.id, target_id: role.id, before: expect.objectContaining({ name: 'Temporary', permissions: ['audit.view'] }), after: null }),
    ]);
    expect(await events(tenant.id, 'role.deleted')).toEqual([{ payload: { roleId: role.id, name: 'Temporary', scope: 'tenant', permissions: ['audit.view'], reassignTo: null } }]);
    expect((await call(token, 'DELETE', `/roles/${role.id}`)).statusCode).toBe(404);
  });

  it('another tenant’s role answers 404 and stays; a malformed id 400', async () => {
    const a = await signedInOwner(t.app);
    const b = await signedInOwner(t.app);
    const role = await createRole(a.token);
    const response = await call(b.token, 'DELETE', `/roles/${role.id}`);
    expect(response.statusCode).toBe(404);
    expect(response.json().code).toBe('role.not_found');
    expect(await roleExists(a.tenant.id, role.id)).toBe(true);
    expect((await call(a.token, 'DELETE', '/roles/123')).statusCode).toBe(400);
  });

  it('refuses a role still assigned (409 role.in_use, naming how many hold it); nothing changes', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    const role = await createRole(token);
    const first = await signedInMember(t.app, tenant.id);
    const second = await signedInMember(t.app, tenant.id);
    await holdRole(tenant.id, first.person.id, role.id);
    await holdRole(tenant.id, second.person.id, role.id);
    const response = await call(token, 'DELETE', `/roles/${role.id}`);
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ code: 'role.in_use', holders: 2, assignments: 2, detail: expect.stringContaining('2 people') });
    expect(await roleExists(tenant.id, role.id)).toBe(true);
    expect(await assignmentsOf(tenant.id, role.id)).toHaveLength(2);
    expect(await auditRows(tenant.id, 'role.deleted')).toEqual([]);
  });

  it('with reassignTo, moves every store assignment to the target (same person, same store, duplicates dropped) and deletes (204)', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    const north = await createStore(t.app, tenant.id);
    const south = await createStore(t.app, tenant.id);
    const [ann, ben] = [await signedInMember(t.app, tenant.id), await signedInMember(t.app, tenant.id)];
    for (const person of [ann.person, ben.person]) {
      await assignToStore(t.app, tenant.id, north.id, person);
      await assignToStore(t.app, tenant.id, south.id, person);
    }
    const old = await createRole(token, { scope: 'store', permissions: ['stores.view'] });
    const target = await createRole(token, { scope: 'store', permissions: ['stores.view', 'stores.update'] });
    await holdRole(tenant.id, ann.person.id, old.id, north.id);
    await holdRole(tenant.id, ann.person.id, old.id, south.id);
    await holdRole(tenant.id, ben.person.id, old.id, north.id);
    // Ben already has the target role in the north store: his old one there is dropped, not duplicated.
    await holdRole(tenant.id, ben.person.id, target.id, north.id);

    const response = await call(token, 'DELETE', `/roles/${old.id}?reassignTo=${target.id}`);
    expect(response.statusCode, response.body).toBe(204);
    expect(await roleExists(tenant.id, old.id)).toBe(false);
    expect(await assignmentsOf(tenant.id, target.id)).toEqual(
      [`${ann.person.id}@${north.id}`, `${ann.person.id}@${south.id}`, `${ben.person.id}@${north.id}`].sort(),
    );
    expect(await auditRows(tenant.id, 'role.deleted')).toEqual([expect.objectContaining({ target_id: old.id, after: { reassignTo: target.id, moved: 3 } })]);
    expect((await events(tenant.id, 'role.deleted'))[0]!.payload).toMatchObject({ roleId: old.id, reassignTo: target.id });
    // The holders' permissions follow at their next request: Ann may now change the south store.
    const rename = await call(ann.token, 'PATCH', `/stores/${south.id}`, { name: 'South, renamed' }, { 'x-store-id': south.id });
    expect(rename.statusCode).toBe(200);
  });

  it('with reassignTo, moves tenant-wide assignments, even when the role has none left to move', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    const member = await signedInMember(t.app, tenant.id);
    const old = await createRole(token);
    const target = await createRole(token);
    await holdRole(tenant.id, member.person.id, old.id);
    expect((await call(token, 'DELETE', `/roles/${old.id}?reassignTo=${target.id}`)).statusCode).toBe(204);
    expect(await assignmentsOf(tenant.id, target.id)).toEqual([`${member.person.id}@-`]);
    const unused = await createRole(token);
    expect((await call(token, 'DELETE', `/roles/${unused.id}?reassignTo=${target.id}`)).statusCode).toBe(204);
  });

  it('refuses every wrong reassignTo, changing nothing', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    const other = await signedInOwner(t.app);
    const member = await signedInMember(t.app, tenant.id);
    const old = await createRole(token);
    await holdRole(tenant.id, member.person.id, old.id);
    const storeRole = await createRole(token, { scope: 'store', permissions: [] });
    const builtinMember = (await call(token, 'GET', '/roles')).json().data.find((role: { key: string }) => role.key === 'member');
    const foreign = await createRole(other.token);

    const attempt = async (reassignTo: string) => (await call(token, 'DELETE', `/roles/${old.id}?reassignTo=${reassignTo}`)).json();
    expect(await attempt(old.id)).toMatchObject({ status: 400, code: 'request.validation_failed', errors: [expect.objectContaining({ field: '/reassignTo' })] });
    expect(await attempt(storeRole.id)).toMatchObject({ status: 400, code: 'role.scope_mismatch' });
    expect(await attempt(builtinMember.id)).toMatchObject({ status: 400, code: 'role.scope_mismatch', detail: expect.stringContaining('built-in') });
    expect(await attempt(foreign.id)).toMatchObject({ status: 404, code: 'role.not_found' });
    expect(await attempt(uuidv7())).toMatchObject({ status: 404, code: 'role.not_found' });
    expect(await attempt('nope')).toMatchObject({ status: 400, code: 'request.validation_failed' });
    expect(await roleExists(tenant.id, old.id)).toBe(true);
    expect(await assignmentsOf(tenant.id, old.id)).toEqual([`${member.person.id}@-`]);
  });

  it('the actor must hold the target role’s permissions (403 role.privilege_escalation)', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    const admin = await signedInMember(t.app, tenant.id, 'admin');
    const member = await signedInMember(t.app, tenant.id);
    const old = await createRole(token, { permissions: ['audit.view'] });
    const treasurer = await createRole(token, { permissions: ['billing.manage'] });
    await holdRole(tenant.id, member.person.id, old.id);
    const response = await call(admin.token, 'DELETE', `/roles/${old.id}?reassignTo=${treasurer.id}`);
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('role.privilege_escalation');
    expect(await assignmentsOf(tenant.id, old.id)).toEqual([`${member.person.id}@-`]);
  });
});
