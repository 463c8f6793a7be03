/**
 * The authorization tables in the database itself: built-in roles created with every tenant, the
 * membership version that keys the permission cache, the composite keys that keep assignments inside
 * their tenant and store, and the platform read role (reads every tenant, writes nothing).
 */
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { addMembership, assignToStore, createPerson, createStore, createTenantFor } from '../../../test/auth.js';
import { uuidv7 } from '../../core/db/ids.js';
import { PG, pgErrorCode } from '../../core/db/errors.js';
import { memberships, tenants } from '../../core/tenancy/tenancy.table.js';
import { roleAssignments, roles } from './authorization.table.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

async function ownedTenant() {
  const owner = await createPerson(t.app);
  return { owner, tenant: await createTenantFor(t.app, owner) };
}

async function customRole(tenantId: string, scope: 'tenant' | 'store', permissions: string[]) {
  const id = uuidv7();
  await t.platform.db.withTenant(tenantId, (tx) => tx.insert(roles).values({ tenantId, id, name: `Role ${id}`, scope, permissions }));
  return id;
}

async function authzVersion(tenantId: string, userId: string): Promise<number> {
  const [row] = await t.platform.db.withTenant(tenantId, (tx) =>
    tx
      .select({ version: memberships.authzVersion })
      .from(memberships)
      .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId))),
  );
  return row!.version;
}

describe('built-in roles', () => {
  it('are created with every tenant, with time-ordered (UUIDv7) ids', async () => {
    const { tenant } = await ownedTenant();
    const rows = await t.platform.db.withTenant(tenant.id, (tx) => tx.select().from(roles).where(eq(roles.tenantId, tenant.id)));
    expect(rows.map((role) => [role.key, role.scope]).sort()).toEqual([
      ['admin', 'tenant'],
      ['member', 'tenant'],
      ['owner', 'tenant'],
      ['store_manager', 'store'],
      ['store_staff', 'store'],
    ]);
    for (const role of rows) expect(role.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('cannot be seeded into a tenant other than the context: creating a tenant under another context fails', async () => {
    const { tenant } = await ownedTenant();
    const id = uuidv7();
    const error = await t.platform.db
      .withTenant(tenant.id, (tx) => tx.insert(tenants).values({ id, name: 'Elsewhere', slug: `elsewhere-${id.slice(-8)}` }))
      .catch((e: unknown) => e);
    expect(pgErrorCode(error)).toBe(PG.insufficientPrivilege);
  });
});

describe('memberships.authz_version', () => {
  it('changes with the member’s custom assignments and with the content of a role they hold, and only then', async () => {
    const { tenant } = await ownedTenant();
    const member = await createPerson(t.app);
    const bystander = await createPerson(t.app);
    await addMembership(t.app, tenant.id, member);
    await addMembership(t.app, tenant.id, bystander);
    const roleId = await customRole(tenant.id, 'tenant', ['users.view']);
    const v0 = await authzVersion(tenant.id, member.id);
    const bystander0 = await authzVersion(tenant.id, bystander.id);

    await t.platform.db.withTenant(tenant.id, (tx) => tx.insert(roleAssignments).values({ tenantId: tenant.id, userId: member.id, roleId }));
    const v1 = await authzVersion(tenant.id, member.id);
    expect(v1).toBeGreaterThan(v0);

    await t.platform.db.withTenant(tenant.id, (tx) => tx.update(roles).set({ permissions: ['users.view', 'users.manage'] }).where(and(eq(roles.tenantId, tenant.id), eq(roles.id, roleId))));
    const v2 = await authzVersion(tenant.id, member.id);
    expect(v2).toBeGreaterThan(v1);

    // A change that is not about permissions leaves the version alone.
    await t.platform.db.withTenant(tenant.id, (tx) => tx.update(roles).set({ description: 'renamed' }).where(and(eq(roles.tenantId, tenant.id), eq(roles.id, roleId))));
    expect(await authzVersion(tenant.id, member.id)).toBe(v2);

    await t.platform.db.withTenant(tenant.id, (tx) => tx.delete(roleAssignments).where(eq(roleAssignments.tenantId, tenant.id)));
    expect(await authzVersion(tenant.id, member.id)).toBeGreaterThan(v2);
    expect(await authzVersion(tenant.id, bystander.id)).toBe(bystander0);
  });

  it('is never reused: a membership removed and re-created gets a version no cache has seen', async () => {
    const { tenant } = await ownedTenant();
    const member = await createPerson(t.app);
    await addMembership(t.app, tenant.id, member);
    const before = await authzVersion(tenant.id, member.id);
    await t.platform.db.withTenant(tenant.id, (tx) => tx.delete(memberships).where(and(eq(memberships.tenantId, tenant.id), eq(memberships.userId, member.id))));
    await addMembership(t.app, tenant.id, member);
    expect(await authzVersion(tenant.id, member.id)).toBeGreaterThan(before);
  });
});

describe('role_assignments keys', () => {
  it('refuse a store role in a store the person is not assigned to, and go with the store assignment', async () => {
    const { tenant } = await ownedTenant();
    const member = await createPerson(t.app);
    await addMembership(t.app, tenant.id, member);
    const store = await createStore(t.app, tenant.id);
    const roleId = await customRole(tenant.id, 'store', ['stores.update']);
    const assign = () => t.platform.db.withTenant(tenant.id, (tx) => tx.insert(roleAssignments).values({ tenantId: tenant.id, userId: member.id, roleId, storeId: store.id }));
    expect(pgErrorCode(await assign().catch((e: unknown) => e))).toBe(PG.foreignKeyViolation);

    await assignToStore(t.app, tenant.id, store.id, member);
    await assign();
    await t.platform.db.withTenant(tenant.id, (tx) => tx.execute(sql`DELETE FROM store_members WHERE tenant_id = ${tenant.id} AND user_id = ${member.id}`));
    const left = await t.platform.db.withTenant(tenant.id, (tx) => tx.select().from(roleAssignments).where(eq(roleAssignments.tenantId, tenant.id)));
    expect(left).toEqual([]);
  });

  it('refuse another tenant’s role, and hold a role once per scope', async () => {
    const a = await ownedTenant();
    const b = await ownedTenant();
    const foreignRole = await customRole(b.tenant.id, 'tenant', ['users.view']);
    const error = await t.platform.db
      .withTenant(a.tenant.id, (tx) => tx.insert(roleAssignments).values({ tenantId: a.tenant.id, userId: a.owner.id, roleId: foreignRole }))
      .catch((e: unknown) => e);
    expect(pgErrorCode(error)).toBe(PG.foreignKeyViolation);

    const roleId = await customRole(a.tenant.id, 'tenant', ['users.view']);
    const assign = () => t.platform.db.withTenant(a.tenant.id, (tx) => tx.insert(roleAssignments).values({ tenantId: a.tenant.id, userId: a.owner.id, roleId }));
    await assign();
    expect(pgErrorCode(await assign().catch((e: unknown) => e))).toBe(PG.uniqueViolation);
  });
});

describe('the platform read role', () => {
  it('reads every tenant’s rows, where a tenant unit of work sees one', async () => {
    const a = await ownedTenant();
    const b = await ownedTenant();
    const seen = await t.platform.db.transaction({ platform: true }, (tx) =>
      tx.select({ id: tenants.id }).from(tenants).where(sql`${tenants.id} in (${a.tenant.id}, ${b.tenant.id})`),
    );
    expect(seen.map((row) => row.id).sort()).toEqual([a.tenant.id, b.tenant.id].sort());
  });

  it('writes nothing, not even in a tenant it can read', async () => {
    const { tenant } = await ownedTenant();
    const error = await t.platform.db
      .transaction({ platform: true }, (tx) => tx.update(tenants).set({ name: 'Taken over' }).where(eq(tenants.id, tenant.id)))
      .catch((e: unknown) => e);
    expect(pgErrorCode(error)).toBe(PG.insufficientPrivilege);
  });
});
