/**
 * Demo data for a newcomer: one tenant with one person in it. Idempotent (keyed on the slug and email).
 * Later issues extend it with plans, stores, roles and sign-in details.
 */
import { eq, sql } from 'drizzle-orm';
import type { Database } from './core/db/database.js';
import { uuidv7 } from './core/db/ids.js';
import { memberships, tenants, users } from './core/tenancy/tenancy.table.js';

export const DEMO = { tenantSlug: 'demo', tenantName: 'Demo Company', email: 'owner@demo.example', name: 'Demo Owner' } as const;

export async function seedDemoData(db: Database): Promise<string> {
  const user = await db.transaction({}, async (tx) => {
    const [existing] = await tx.select().from(users).where(eq(sql`lower(${users.email})`, DEMO.email));
    if (existing) return existing;
    const [created] = await tx.insert(users).values({ email: DEMO.email, name: DEMO.name }).returning();
    return created!;
  });

  // The demo tenant is looked up as the demo user (memberships policy), else created under its own id.
  const existingTenant = await db.transaction({ userId: user.id }, (tx) => tx.select().from(tenants).where(eq(tenants.slug, DEMO.tenantSlug)));
  if (existingTenant[0]) return `Demo data already present: tenant "${DEMO.tenantSlug}" (${existingTenant[0].id}) with ${DEMO.email}.`;

  const tenantId = uuidv7();
  await db.withTenant(tenantId, async (tx) => {
    await tx.insert(tenants).values({ id: tenantId, name: DEMO.tenantName, slug: DEMO.tenantSlug });
    await tx.insert(memberships).values({ tenantId, userId: user.id });
  });
  return `Seeded tenant "${DEMO.tenantSlug}" (${tenantId}) with member ${DEMO.email}.`;
}
