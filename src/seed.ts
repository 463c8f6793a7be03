/**
 * Demo data for a newcomer: one tenant with one person in it. Idempotent (keyed on the slug and email).
 * Later issues extend it with plans, stores, roles and sign-in details.
 */
import { eq, sql } from 'drizzle-orm';
import type { Database } from './core/db/database.js';
import { uuidv7 } from './core/db/ids.js';
import { memberships, personMemberships, tenants, users } from './core/tenancy/tenancy.table.js';

export const DEMO = { tenantSlug: 'demo', tenantName: 'Demo Company', email: 'owner@demo.example', name: 'Demo Owner' } as const;

export async function seedDemoData(db: Database): Promise<string> {
  const user = await db.transaction({}, async (tx) => {
    const [existing] = await tx.select().from(users).where(eq(sql`lower(${users.email})`, DEMO.email));
    if (existing) return existing;
    const [created] = await tx.insert(users).values({ email: DEMO.email, name: DEMO.name }).returning();
    return created!;
  });

  // The demo tenant is looked up among the demo user's memberships, else created under its own id.
  const [existing] = await db.transaction({ userId: user.id }, (tx) =>
    tx.select({ id: personMemberships.tenantId }).from(personMemberships).where(eq(personMemberships.tenantSlug, DEMO.tenantSlug)),
  );
  if (existing) return `Demo data already present: tenant "${DEMO.tenantSlug}" (${existing.id}) with ${DEMO.email}.`;

  const tenantId = uuidv7();
  await db.withTenant(tenantId, async (tx) => {
    await tx.insert(tenants).values({ id: tenantId, name: DEMO.tenantName, slug: DEMO.tenantSlug });
    await tx.insert(memberships).values({ tenantId, userId: user.id, role: 'owner' });
  });
  return `Seeded tenant "${DEMO.tenantSlug}" (${tenantId}) with member ${DEMO.email}.`;
}
