/**
 * Members and the role catalog: POST /users with `roleIds` (a built-in tenant role plus custom roles, the
 * same rules and refusals as invitations), privilege escalation refused on creation and on PATCH
 * /users/:id (and on deactivating or removing someone who holds more), and GET /users?roleId= for every kind of role (built-in tenant, built-in store, custom at
 * tenant scope and in a store; deleted stores and other tenants' roles match nobody).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMembership, assignToStore, bearer, createPerson, createStore, signedInMember, signedInOwner, type Person } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { builtinRoleId, createCustomRole, giveCustomRole, heldCustomRoles } from '../../../test/organization-roles.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

const call = (method: 'GET' | 'POST' | 'PATCH', url: string, token: string, payload?: unknown) =>
  t.app.inject({ method, url: `/api/v1/users${url}`, headers: bearer(token), ...(payload === undefined ? {} : { payload: payload as object }) });

let emails = 0;
const newEmail = () => `created-${Date.now()}-${++emails}@example.test`;
const usersWithEmail = (email: string) => t.admin.query('SELECT id FROM users WHERE lower(email) = lower($1)', [email]);

describe('POST /users with roleIds', () => {
  it('creates the member with the built-in role and the custom roles, in one transaction, audited', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    const [adminId, auditor] = [await builtinRoleId(t.app, tenant.id, 'admin'), await createCustomRole(t.app, tenant.id, { permissions: ['audit.view'] })];
    const email = newEmail();
    const response = await call('POST', '', token, { email, name: 'Rae Roles', roleIds: [auditor, adminId] });
    expect(response.statusCode).toBe(201);
    const member = response.json<{ id: string; role: string }>();
    expect(member.role).toBe('admin');
    expect(await heldCustomRoles(t.app, tenant.id, member.id)).toEqual([`${auditor}@-`]);

    const rows = await t.admin.query<{ xmin: string }>(
      `SELECT xmin::text FROM memberships WHERE tenant_id = $1 AND user_id = $2::uuid
       UNION ALL SELECT xmin::text FROM role_assignments WHERE tenant_id = $1 AND user_id = $2::uuid
       UNION ALL SELECT xmin::text FROM audit_events WHERE tenant_id = $1 AND target_id = $2::text AND action = 'member.created'`,
      [tenant.id, member.id],
    );
    expect(rows).toHaveLength(3);
    expect(new Set(rows.map((row) => row.xmin)).size).toBe(1);
    const [audit] = await t.admin.query<{ after: Record<string, unknown> }>(`SELECT after FROM audit_events WHERE tenant_id = $1 AND action = 'member.created'`, [tenant.id]);
    expect(audit!.after).toMatchObject({ role: 'admin', roleIds: [auditor] });
  });

  it('refuses the owner role, two built-ins, store roles, unknown ids and a disagreeing `role`, creating no one', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    const id = (key: 'owner' | 'admin' | 'member' | 'store_staff') => builtinRoleId(t.app, tenant.id, key);
    const cases: Array<[Record<string, unknown>, number, string, string[] | undefined]> = [
      [{ roleIds: [await id('owner')] }, 409, 'role.owner_transfer_only', undefined],
      [{ roleIds: [await id('member'), await id('admin')] }, 400, 'request.validation_failed', ['/roleIds/1']],
      [{ roleIds: [await id('store_staff')] }, 400, 'role.scope_mismatch', ['/roleIds/0']],
      [{ roleIds: ['0193d4c0-0000-7000-8000-000000000001'] }, 400, 'request.validation_failed', ['/roleIds/0']],
      [{ role: 'member', roleIds: [await id('admin')] }, 400, 'request.validation_failed', ['/role']],
    ];
    for (const [body, status, code, fields] of cases) {
      const email = newEmail();
      const response = await call('POST', '', token, { email, name: 'Nobody', ...body });
      expect(response.statusCode, JSON.stringify(body)).toBe(status);
      const problem = response.json<{ code: string; errors?: Array<{ field: string }> }>();
      expect(problem.code).toBe(code);
      if (fields) expect(problem.errors!.map((error) => error.field)).toEqual(fields);
      expect(await usersWithEmail(email)).toEqual([]);
    }
  });

  it('refuses roles with a permission the caller lacks (403 role.privilege_escalation), before any account exists', async () => {
    const { tenant } = await signedInOwner(t.app);
    const recruiter = await signedInMember(t.app, tenant.id);
    await giveCustomRole(t.app, tenant.id, recruiter.person.id, await createCustomRole(t.app, tenant.id, { permissions: ['users.manage'] }));
    const billing = await createCustomRole(t.app, tenant.id, { permissions: ['billing.view'] });

    for (const body of [{ roleIds: [billing] }, { role: 'admin' }]) {
      const email = newEmail();
      const response = await call('POST', '', recruiter.token, { email, name: 'Too Much', password: 'Handed-over-4471-x', ...body });
      expect(response.statusCode).toBe(403);
      expect(response.json().code).toBe('role.privilege_escalation');
      expect(await usersWithEmail(email)).toEqual([]);
    }
    expect((await call('POST', '', recruiter.token, { email: newEmail(), name: 'Plain Member' })).statusCode).toBe(201);
  });
});

describe('PATCH /users/:id role', () => {
  it('a member managing members through a custom role may not make someone an administrator', async () => {
    const { tenant, token: ownerToken } = await signedInOwner(t.app);
    const recruiter = await signedInMember(t.app, tenant.id);
    await giveCustomRole(t.app, tenant.id, recruiter.person.id, await createCustomRole(t.app, tenant.id, { permissions: ['users.manage'] }));
    const target = await createPerson(t.app);
    await addMembership(t.app, tenant.id, target);

    const refused = await call('PATCH', `/${target.id}`, recruiter.token, { role: 'admin' });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('role.privilege_escalation');
    expect((await call('PATCH', `/${target.id}`, recruiter.token, { title: 'Cashier' })).statusCode).toBe(200);
    expect((await call('PATCH', `/${target.id}`, ownerToken, { role: 'admin' })).json()).toMatchObject({ role: 'admin' });
  });

  it('a member managing members through a custom role may not deactivate or remove someone holding more', async () => {
    const { tenant } = await signedInOwner(t.app);
    const recruiter = await signedInMember(t.app, tenant.id);
    await giveCustomRole(t.app, tenant.id, recruiter.person.id, await createCustomRole(t.app, tenant.id, { permissions: ['users.manage'] }));
    const auditor = await createPerson(t.app);
    await addMembership(t.app, tenant.id, auditor);
    await giveCustomRole(t.app, tenant.id, auditor.id, await createCustomRole(t.app, tenant.id, { permissions: ['audit.view'] }));
    const plain = await createPerson(t.app);
    await addMembership(t.app, tenant.id, plain);

    for (const refused of [
      await call('PATCH', `/${auditor.id}`, recruiter.token, { status: 'deactivated' }),
      await t.app.inject({ method: 'DELETE', url: `/api/v1/users/${auditor.id}`, headers: bearer(recruiter.token) }),
    ]) {
      expect(refused.statusCode).toBe(403);
      expect(refused.json()).toMatchObject({ code: 'role.privilege_escalation', detail: expect.stringContaining('audit.view') });
    }
    // Someone holding nothing the recruiter lacks is theirs to manage.
    expect((await call('PATCH', `/${plain.id}`, recruiter.token, { status: 'deactivated' })).json()).toMatchObject({ status: 'deactivated' });
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/users/${plain.id}`, headers: bearer(recruiter.token) })).statusCode).toBe(204);
  });
});

describe('GET /users?roleId=', () => {
  it('finds the holders of every kind of role; deleted stores, unknown and other tenants’ roles match nobody', async () => {
    const { person: owner, tenant, token } = await signedInOwner(t.app);
    const other = await signedInOwner(t.app);
    const store = await createStore(t.app, tenant.id);
    const closed = await createStore(t.app, tenant.id, { deleted: true });
    const person = async (role: 'admin' | 'member' = 'member'): Promise<Person> => {
      const created = await createPerson(t.app);
      await addMembership(t.app, tenant.id, created, role);
      return created;
    };
    const [ann, bob, carl, dora, ed, fay] = [await person('admin'), await person(), await person(), await person(), await person(), await person()];
    await assignToStore(t.app, tenant.id, store.id, bob, 'store_manager');
    await assignToStore(t.app, tenant.id, closed.id, carl, 'store_manager');
    const [tenantRole, storeRole] = [
      await createCustomRole(t.app, tenant.id, { permissions: ['audit.view'] }),
      await createCustomRole(t.app, tenant.id, { scope: 'store', permissions: ['stores.update'] }),
    ];
    await giveCustomRole(t.app, tenant.id, dora.id, tenantRole);
    await assignToStore(t.app, tenant.id, store.id, ed);
    await giveCustomRole(t.app, tenant.id, ed.id, storeRole, store.id);
    await assignToStore(t.app, tenant.id, closed.id, fay);
    await giveCustomRole(t.app, tenant.id, fay.id, storeRole, closed.id);

    const holders = async (roleId: string, extra = '') => {
      const response = await call('GET', `?roleId=${roleId}${extra}`, token);
      expect(response.statusCode).toBe(200);
      return response.json<{ data: Array<{ id: string }> }>().data.map((member) => member.id);
    };
    const id = (key: 'owner' | 'admin' | 'member' | 'store_manager' | 'store_staff') => builtinRoleId(t.app, tenant.id, key);
    expect(await holders(await id('owner'))).toEqual([owner.id]);
    expect(await holders(await id('admin'))).toEqual([ann.id]);
    expect(await holders(await id('member'))).toEqual([bob.id, carl.id, dora.id, ed.id, fay.id]);
    expect(await holders(await id('store_manager'))).toEqual([bob.id]);
    expect(await holders(await id('store_staff'))).toEqual([ed.id]);
    expect(await holders(tenantRole)).toEqual([dora.id]);
    expect(await holders(storeRole)).toEqual([ed.id]);
    expect(await holders('0193d4c0-0000-7000-8000-000000000001')).toEqual([]);
    expect(await holders(await builtinRoleId(t.app, other.tenant.id, 'owner'))).toEqual([]);

    // With the other filters and keyset pages.
    await t.admin.query(`UPDATE memberships SET status = 'deactivated' WHERE tenant_id = $1 AND user_id = $2`, [tenant.id, dora.id]);
    expect(await holders(tenantRole, '&status=active')).toEqual([]);
    const first = (await call('GET', `?roleId=${await id('member')}&limit=3`, token)).json<{ data: Array<{ id: string }>; nextCursor: string }>();
    const second = (await call('GET', `?roleId=${await id('member')}&limit=3&cursor=${first.nextCursor}`, token)).json<{ data: Array<{ id: string }>; nextCursor: string | null }>();
    expect([...first.data, ...second.data].map((member) => member.id)).toEqual([bob.id, carl.id, dora.id, ed.id, fay.id]);
    expect(second.nextCursor).toBeNull();
  });

  it('refuses a roleId that is not a uuid (400)', async () => {
    const { token } = await signedInOwner(t.app);
    const response = await call('GET', '?roleId=admin', token);
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('request.validation_failed');
  });
});
