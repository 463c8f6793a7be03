/**
 * /api/v1/permissions and /api/v1/roles: the catalog; the built-in roles of a new tenant; listing
 * (order, scope filter, pages, holders) and reading; creating and changing custom roles with their
 * validation, name uniqueness, limit, audit rows, events and Idempotency-Key; built-ins read-only.
 * Escalation and cache invalidation: roles.escalation.test.ts; deletion: roles.delete.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assignToStore, bearer, createStore, signedInMember, signedInOwner, TEST_PASSWORD } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { roleApi } from '../../../test/role-api.js';
import { uuidv7 } from '../../core/db/ids.js';
import { roles } from './authorization.table.js';
import { ALL_PERMISSIONS, BUILTIN_ROLE_PERMISSIONS, PERMISSIONS } from './permissions.js';
import { MAX_CUSTOM_ROLES } from './roles.schemas.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

const { call, roleName, createRole, holdRole, auditRows, events } = roleApi(() => t);
const BUILTIN_ORDER = ['owner', 'admin', 'member', 'store_manager', 'store_staff'];

describe('GET /permissions', () => {
  it('serves the whole catalog in catalog order, to a member (roles.view)', async () => {
    const { tenant } = await signedInOwner(t.app);
    const { token } = await signedInMember(t.app, tenant.id);
    const response = await call(token, 'GET', '/permissions');
    expect(response.statusCode).toBe(200);
    const { data } = response.json<{ data: Array<{ key: string }> }>();
    expect(data.map((permission) => permission.key)).toEqual(ALL_PERMISSIONS);
    expect(data).toContainEqual({ key: 'billing.manage', ...PERMISSIONS['billing.manage'] });
    expect(data.find((permission) => permission.key === 'stores.update')).toMatchObject({ group: 'Stores', scope: 'store' });
    // Platform permissions are not tenant permissions.
    expect(data.some((permission) => permission.key.startsWith('platform.'))).toBe(false);
  });

  it('needs a credential', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/permissions' })).statusCode).toBe(401);
  });
});

describe('built-in roles', () => {
  it('exist in a tenant created through POST /auth/register, in their order, with the catalog’s permissions', async () => {
    const email = `roles-${randomBytes(4).toString('hex')}@example.test`;
    const registered = await t.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email, password: TEST_PASSWORD, name: 'Rhea Roles' } });
    expect(registered.statusCode, registered.body).toBe(201);
    const response = await t.app.inject({ method: 'GET', url: '/api/v1/roles', headers: bearer(registered.json().accessToken) });
    expect(response.statusCode).toBe(200);
    const page = response.json<{ data: Array<Record<string, unknown>>; nextCursor: string | null }>();
    expect(page.nextCursor).toBeNull();
    expect(page.data.map((role) => role.key)).toEqual(BUILTIN_ORDER);
    const [owner, admin, member, manager] = page.data;
    expect(owner).toMatchObject({ name: 'Owner', scope: 'tenant', builtIn: true, holders: 1, permissions: ALL_PERMISSIONS });
    expect(admin!.permissions).toEqual(ALL_PERMISSIONS.filter((key) => BUILTIN_ROLE_PERMISSIONS.admin.has(key)));
    expect(admin!.permissions).not.toContain('billing.manage');
    expect(member).toMatchObject({ holders: 0, permissions: ['tenant.view', 'users.view', 'roles.view', 'stores.view'] });
    expect(manager).toMatchObject({ scope: 'store', holders: 0, permissions: ['stores.view', 'stores.update', 'store_people.manage'] });
  });

  it('PATCH and DELETE of a built-in role answer 403 role.builtin_readonly and change nothing', async () => {
    const { token } = await signedInOwner(t.app);
    const admin = (await call(token, 'GET', '/roles')).json().data[1];
    const patched = await call(token, 'PATCH', `/roles/${admin.id}`, { name: 'Boss' });
    expect(patched.statusCode).toBe(403);
    expect(patched.json().code).toBe('role.builtin_readonly');
    const deleted = await call(token, 'DELETE', `/roles/${admin.id}`);
    expect(deleted.statusCode).toBe(403);
    expect(deleted.json().code).toBe('role.builtin_readonly');
    expect((await call(token, 'GET', `/roles/${admin.id}`)).json()).toMatchObject({ name: 'Admin', key: 'admin' });
  });
});

describe('GET /roles and GET /roles/:id', () => {
  it('lists built-ins first, then custom roles by name case-insensitively; filters by scope; pages without skipping', async () => {
    const { token } = await signedInOwner(t.app);
    for (const name of ['delta', 'Alpha', 'charlie']) await createRole(token, { name });
    await createRole(token, { name: 'bravo', scope: 'store', permissions: ['stores.view'] });
    const names = (await call(token, 'GET', '/roles')).json().data.map((role: { name: string }) => role.name);
    expect(names).toEqual(['Owner', 'Admin', 'Member', 'Store manager', 'Store staff', 'Alpha', 'bravo', 'charlie', 'delta']);

    const storeRoles = (await call(token, 'GET', '/roles?scope=store')).json().data.map((role: { name: string }) => role.name);
    expect(storeRoles).toEqual(['Store manager', 'Store staff', 'bravo']);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: Array<{ name: string }>; nextCursor: string | null } = (await call(token, 'GET', `/roles?limit=4${cursor ? `&cursor=${cursor}` : ''}`)).json();
      expect(page.data.length).toBeLessThanOrEqual(4);
      seen.push(...page.data.map((role) => role.name));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(names);

    const bad = await call(token, 'GET', '/roles?cursor=bm90LWEtY3Vyc29y');
    expect(bad.statusCode).toBe(400);
    expect((await call(token, 'GET', '/roles?scope=global')).statusCode).toBe(400);
  });

  it('counts holders: members by tenant role, people by store role in live stores, people holding a custom role', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    const a = await signedInMember(t.app, tenant.id, 'admin');
    const b = await signedInMember(t.app, tenant.id, 'member');
    const store = await createStore(t.app, tenant.id);
    const other = await createStore(t.app, tenant.id);
    await assignToStore(t.app, tenant.id, store.id, a.person, 'store_manager');
    await assignToStore(t.app, tenant.id, other.id, a.person, 'store_manager');
    await assignToStore(t.app, tenant.id, store.id, b.person, 'store_staff');
    const cashier = await createRole(token, { scope: 'store', permissions: ['stores.view'] });
    await holdRole(tenant.id, a.person.id, cashier.id, store.id);
    await holdRole(tenant.id, a.person.id, cashier.id, other.id);
    await holdRole(tenant.id, b.person.id, cashier.id, store.id);

    const holders = Object.fromEntries((await call(token, 'GET', '/roles')).json().data.map((role: { name: string; holders: number }) => [role.name, role.holders]));
    expect(holders).toEqual({ Owner: 1, Admin: 1, Member: 1, 'Store manager': 1, 'Store staff': 1, [cashier.name]: 2 });
    expect((await call(token, 'GET', `/roles/${cashier.id}`)).json().holders).toBe(2);
  });

  it('another tenant’s role answers 404 role.not_found; a malformed id 400', async () => {
    const a = await signedInOwner(t.app);
    const b = await signedInOwner(t.app);
    const role = await createRole(a.token);
    const foreign = await call(b.token, 'GET', `/roles/${role.id}`);
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json().code).toBe('role.not_found');
    expect((await call(b.token, 'GET', `/roles/${uuidv7()}`)).json().code).toBe('role.not_found');
    const malformed = await call(a.token, 'GET', '/roles/not-a-uuid');
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({ code: 'request.validation_failed', errors: [expect.objectContaining({ in: 'params', field: '/id' })] });
    // B's list does not show A's role.
    expect((await call(b.token, 'GET', '/roles')).json().data.map((r: { id: string }) => r.id)).not.toContain(role.id);
  });
});

describe('POST /roles', () => {
  it('creates a custom role (201): trimmed name, permissions in catalog order, audit row and event', async () => {
    const { person, tenant, token } = await signedInOwner(t.app);
    const response = await call(token, 'POST', '/roles', { name: '  Auditor  ', description: 'Reads the books.', scope: 'tenant', permissions: ['audit.view', 'billing.view', 'users.view'] });
    expect(response.statusCode).toBe(201);
    const role = response.json();
    expect(role).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      key: null,
      name: 'Auditor',
      description: 'Reads the books.',
      scope: 'tenant',
      permissions: ['users.view', 'billing.view', 'audit.view'],
      builtIn: false,
      holders: 0,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect((await call(token, 'GET', `/roles/${role.id}`)).json()).toEqual(role);
    const [row] = await auditRows(tenant.id, 'role.created');
    expect(row).toMatchObject({ actor_id: person.id, target_id: role.id, before: null, after: { name: 'Auditor', permissions: role.permissions } });
    expect(row!.request_id).toBe(response.headers['x-request-id']);
    expect(await events(tenant.id, 'role.created')).toEqual([{ payload: { roleId: role.id, name: 'Auditor', scope: 'tenant', permissions: role.permissions } }]);
  });

  it('400 role.invalid_permissions naming each unknown, repeated or tenant-only (in a store role) key; nothing written', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    const response = await call(token, 'POST', '/roles', {
      name: 'Broken',
      scope: 'store',
      permissions: ['stores.view', 'stores.explode', 'stores.view', 'users.manage', 'platform.view', 'stores.update'],
    });
    expect(response.statusCode).toBe(400);
    const problem = response.json();
    expect(problem.code).toBe('role.invalid_permissions');
    expect(problem.errors.map((error: { field: string }) => error.field)).toEqual(['/permissions/1', '/permissions/2', '/permissions/3', '/permissions/4']);
    expect(problem.errors[0]).toMatchObject({ in: 'body', message: expect.stringContaining('stores.explode') });
    expect(await t.admin.query('SELECT 1 FROM roles WHERE tenant_id = $1 AND key IS NULL', [tenant.id])).toEqual([]);
  });

  it.each([
    ['no name', { scope: 'tenant', permissions: [] }, '/name'],
    ['blank name', { name: '   ', scope: 'tenant', permissions: [] }, '/name'],
    ['name too long', { name: 'n'.repeat(101), scope: 'tenant', permissions: [] }, '/name'],
    ['description too long', { name: 'X', description: 'd'.repeat(501), scope: 'tenant', permissions: [] }, '/description'],
    ['unknown scope', { name: 'X', scope: 'global', permissions: [] }, '/scope'],
    ['no permissions', { name: 'X', scope: 'tenant' }, '/permissions'],
    ['a permission that is not a string', { name: 'X', scope: 'tenant', permissions: [{ key: 'users.view' }] }, '/permissions/0'],
    ['unknown field', { name: 'X', scope: 'tenant', permissions: [], key: 'owner' }, '/key'],
  ])('400 request.validation_failed naming the field: %s', async (_name, body, field) => {
    const { token } = await signedInOwner(t.app);
    const response = await call(token, 'POST', '/roles', body);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'request.validation_failed', errors: expect.arrayContaining([expect.objectContaining({ field })]) });
  });

  it('409 role.name_taken for a built-in name or a custom one, whatever the case; free in another tenant', async () => {
    const { token } = await signedInOwner(t.app);
    for (const name of ['admin', 'ADMIN', 'store manager']) {
      const response = await call(token, 'POST', '/roles', { name, scope: 'tenant', permissions: [] });
      expect(response.statusCode, name).toBe(409);
      expect(response.json().code).toBe('role.name_taken');
    }
    await createRole(token, { name: 'Cashier' });
    expect((await call(token, 'POST', '/roles', { name: ' cashier ', scope: 'store', permissions: [] })).json().code).toBe('role.name_taken');
    await createRole((await signedInOwner(t.app)).token, { name: 'Cashier' });
  });

  it(`caps custom roles at ${MAX_CUSTOM_ROLES} per tenant (409 role.limit_reached)`, async () => {
    const { tenant, token } = await signedInOwner(t.app);
    await t.platform.db.withTenant(tenant.id, (tx) =>
      tx.insert(roles).values(Array.from({ length: MAX_CUSTOM_ROLES }, (_, i) => ({ tenantId: tenant.id, name: `Bulk ${i}`, scope: 'tenant' as const }))),
    );
    const response = await call(token, 'POST', '/roles', { name: 'One too many', scope: 'tenant', permissions: [] });
    expect(response.statusCode).toBe(409);
    expect(response.json().code).toBe('role.limit_reached');
    // A full page: at most 100 per page, so the list says more follow.
    expect((await call(token, 'GET', '/roles?limit=100')).json().nextCursor).not.toBeNull();
  });

  it('honours Idempotency-Key: a retry replays the first answer and creates nothing more', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    const headers = { 'idempotency-key': `create-role-${randomBytes(4).toString('hex')}` };
    const body = { name: roleName(), scope: 'tenant', permissions: ['users.view'] };
    const first = await call(token, 'POST', '/roles', body, headers);
    expect(first.statusCode).toBe(201);
    const retry = await call(token, 'POST', '/roles', body, headers);
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.json()).toEqual(first.json());
    expect(await auditRows(tenant.id, 'role.created')).toHaveLength(1);
    expect((await call(token, 'POST', '/roles', body)).json().code).toBe('role.name_taken');
  });

  it('a member (no roles.manage) is refused with 403 auth.forbidden', async () => {
    const { tenant } = await signedInOwner(t.app);
    const { token } = await signedInMember(t.app, tenant.id);
    const response = await call(token, 'POST', '/roles', { name: 'Mine', scope: 'tenant', permissions: [] });
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('auth.forbidden');
  });
});

describe('PATCH /roles/:id', () => {
  it('changes name, description and permissions (200), audited with before/after and announced', async () => {
    const { person, tenant, token } = await signedInOwner(t.app);
    const role = await createRole(token, { name: 'Clerk', permissions: ['users.view'] });
    const response = await call(token, 'PATCH', `/roles/${role.id}`, { name: 'Senior clerk', description: 'More.', permissions: ['audit.view', 'users.view'] });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ id: role.id, name: 'Senior clerk', description: 'More.', permissions: ['users.view', 'audit.view'], scope: 'tenant' });
    expect(await auditRows(tenant.id, 'role.updated')).toEqual([
      expect.objectContaining({
        actor_id: person.id,
        target_id: role.id,
        before: { name: 'Clerk', description: '', permissions: ['users.view'] },
        after: { name: 'Senior clerk', description: 'More.', permissions: ['users.view', 'audit.view'] },
      }),
    ]);
    expect(await events(tenant.id, 'role.updated')).toEqual([
      { payload: { roleId: role.id, name: 'Senior clerk', scope: 'tenant', permissions: ['users.view', 'audit.view'], changed: ['name', 'description', 'permissions'] } },
    ]);
  });

  it('a change to nothing writes nothing (same values, permissions in another order)', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    const role = await createRole(token, { name: 'Same', permissions: ['users.view', 'audit.view'] });
    const response = await call(token, 'PATCH', `/roles/${role.id}`, { name: 'Same', permissions: ['audit.view', 'users.view'] });
    expect(response.statusCode).toBe(200);
    expect(await auditRows(tenant.id, 'role.updated')).toEqual([]);
  });

  it('refuses a scope change, an empty body, a taken name and bad permissions for the role’s scope', async () => {
    const { token } = await signedInOwner(t.app);
    const role = await createRole(token, { scope: 'store', permissions: ['stores.view'] });
    const other = await createRole(token);
    const scope = await call(token, 'PATCH', `/roles/${role.id}`, { scope: 'tenant' });
    expect(scope.statusCode).toBe(400);
    expect(scope.json().errors).toEqual([expect.objectContaining({ field: '/scope' })]);
    expect((await call(token, 'PATCH', `/roles/${role.id}`, {})).statusCode).toBe(400);
    const taken = await call(token, 'PATCH', `/roles/${role.id}`, { name: other.name.toUpperCase() });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().code).toBe('role.name_taken');
    const tenantOnly = await call(token, 'PATCH', `/roles/${role.id}`, { permissions: ['stores.view', 'billing.view'] });
    expect(tenantOnly.statusCode).toBe(400);
    expect(tenantOnly.json()).toMatchObject({ code: 'role.invalid_permissions', errors: [expect.objectContaining({ field: '/permissions/1' })] });
    expect((await call(token, 'GET', `/roles/${role.id}`)).json()).toMatchObject({ name: role.name, permissions: ['stores.view'] });
  });

  it('another tenant’s role answers 404, and is not changed', async () => {
    const a = await signedInOwner(t.app);
    const b = await signedInOwner(t.app);
    const role = await createRole(a.token, { name: 'Untouchable' });
    const response = await call(b.token, 'PATCH', `/roles/${role.id}`, { name: 'Touched' });
    expect(response.statusCode).toBe(404);
    expect(response.json().code).toBe('role.not_found');
    expect((await call(a.token, 'GET', `/roles/${role.id}`)).json().name).toBe('Untouchable');
  });
});
