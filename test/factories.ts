/**
 * Factories: each test makes its own tenants and people, so tests never share state or order.
 */
import { randomBytes } from 'node:crypto';
import type { Database, Tx } from '../src/core/db/database.js';
import { uuidv7 } from '../src/core/db/ids.js';
import { memberships, tenants, users } from '../src/core/tenancy/tenancy.table.js';
import { createEntitlements } from '../src/modules/billing/entitlements.js';

const unique = () => randomBytes(4).toString('hex');

export interface TestTenant {
  id: string;
  name: string;
  slug: string;
}

export interface TestUser {
  id: string;
  email: string;
  name: string;
}

export async function createTenant(db: Database, overrides: Partial<Omit<TestTenant, 'id'>> = {}): Promise<TestTenant> {
  const suffix = unique();
  const tenant = { id: uuidv7(), name: overrides.name ?? `Tenant ${suffix}`, slug: overrides.slug ?? `tenant-${suffix}` };
  await db.withTenant(tenant.id, async (tx) => {
    await tx.insert(tenants).values(tenant);
    await startTestSubscription(db, tx, tenant.id);
  });
  return tenant;
}

/**
 * Every tenant has a subscription (checked at commit): tenants made outside an app start on the test
 * signup plan, Enterprise without a trial (no limit, every feature), as the test app's do.
 */
export function startTestSubscription(db: Database, tx: Tx, tenantId: string): Promise<void> {
  return createEntitlements({ db, config: { billing: TEST_BILLING } }).startSubscription(tx, tenantId);
}

export const TEST_BILLING = { signupPlan: 'enterprise', signupTrialDays: 0, graceDays: 7 };

export async function createUser(db: Database, overrides: Partial<Omit<TestUser, 'id'>> = {}): Promise<TestUser> {
  const suffix = unique();
  const user = { id: uuidv7(), email: overrides.email ?? `person-${suffix}@example.test`, name: overrides.name ?? `Person ${suffix}` };
  await db.transaction({}, (tx) => tx.insert(users).values(user));
  return user;
}

export async function addMember(db: Database, tenant: TestTenant, user: TestUser, status: 'active' | 'deactivated' = 'active'): Promise<void> {
  await db.withTenant(tenant.id, (tx) => tx.insert(memberships).values({ tenantId: tenant.id, userId: user.id, status }));
}

/** Two tenants with one member each: the fixture for "must not see the other tenant" tests. */
export async function twoTenants(db: Database) {
  const [a, b] = [await createTenant(db), await createTenant(db)];
  const [alice, bob] = [await createUser(db), await createUser(db)];
  await addMember(db, a, alice);
  await addMember(db, b, bob);
  return { a: { tenant: a, user: alice }, b: { tenant: b, user: bob } };
}
