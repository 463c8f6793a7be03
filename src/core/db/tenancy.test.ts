import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { twoTenants } from '../../../test/factories.js';
import { PG, pgErrorCode } from './errors.js';
import { memberships, tenants } from '../tenancy/tenancy.table.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

describe('withTenant', () => {
  it('sees only the rows of its own tenant', async () => {
    const { a, b } = await twoTenants(t.platform.db);
    const seenByA = await t.platform.db.withTenant(a.tenant.id, (tx) => tx.select().from(memberships));
    expect(seenByA.map((m) => m.userId)).toEqual([a.user.id]);
    const tenantsSeenByB = await t.platform.db.withTenant(b.tenant.id, (tx) => tx.select().from(tenants));
    expect(tenantsSeenByB.map((row) => row.id)).toEqual([b.tenant.id]);
  });

  it('returns no tenant rows without a context (fails closed)', async () => {
    await twoTenants(t.platform.db);
    const rows = await t.platform.db.transaction({}, (tx) => tx.execute(sql`SELECT count(*)::int AS n FROM memberships`));
    expect(rows.rows[0]).toEqual({ n: 0 });
  });

  it('refuses to write a row into another tenant', async () => {
    const { a, b } = await twoTenants(t.platform.db);
    const error = await t.platform.db
      .withTenant(a.tenant.id, (tx) => tx.insert(memberships).values({ tenantId: b.tenant.id, userId: a.user.id }))
      .catch((e: unknown) => e);
    expect(pgErrorCode(error)).toBe(PG.insufficientPrivilege); // new row violates row-level security policy
  });
});
