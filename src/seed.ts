/**
 * `atrium seed`: a populated system in one command, so a newcomer can sign in and look around — a
 * platform administrator, two tenants on different plans with stores, and members in every kind of role
 * (one person in both tenants, a custom role in the tenant whose plan has them).
 *
 * Idempotent and additive: everything is keyed on emails, tenant slugs, store codes and role names; a row
 * that exists is left exactly as it is (a password changed since stays changed), a missing one is added.
 * A second run therefore writes nothing and prints the same sign-in details. Every account gets the one
 * published DEMO_PASSWORD: random passwords could only be shown on the run that created them.
 *
 * The rows go through the same tables, triggers and constraints as the product's (the built-in roles
 * trigger, the subscription checked at commit, composite keys, one headquarters) and the subscription is
 * started by the billing module's own `startSubscription`. No audit rows or events: this is set-up, not
 * something a member or the platform did.
 */
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Config } from './config.js';
import type { Database, Tx } from './core/db/database.js';
import { pgConstraint, pgErrorCode, PG } from './core/db/errors.js';
import { uuidv7 } from './core/db/ids.js';
import { AppError } from './core/http/errors.js';
import { memberships, personMemberships, tenants, users, type MembershipRole } from './core/tenancy/tenancy.table.js';
import { roleAssignments, roles } from './modules/authorization/authorization.table.js';
import type { Permission } from './modules/authorization/permissions.js';
import { createEntitlements } from './modules/billing/entitlements.js';
import { findPlanByCode } from './modules/billing/plans.repository.js';
import { findSubscription } from './modules/billing/subscriptions.repository.js';
import { assertPasswordAcceptable, type PasswordHasher } from './modules/identity/passwords.js';
import { storeMembers, stores, type StoreRole } from './modules/organization/organization.table.js';

/** The password of every demo account: published (README, seed output), so never seed a shared system. */
export const DEMO_PASSWORD = 'Atrium-demo-lantern-42';

export const DEMO_ADMIN = { email: 'admin@demo.example', name: 'Ada Admin' } as const;

export interface DemoMember {
  email: string;
  name: string;
  role: MembershipRole;
  /** A built-in store role in one store (by code). */
  store?: { code: string; role: StoreRole };
  /** A custom role of the tenant (by name), held tenant-wide. */
  customRole?: string;
}

export interface DemoTenant {
  name: string;
  slug: string;
  plan: { code: string; trial: boolean };
  stores: Array<{ code: string; name: string; headquarters?: boolean }>;
  customRoles: Array<{ name: string; description: string; permissions: Permission[] }>;
  /** The owner first: the tenant is recognised as the demo's by its owner's membership. */
  members: DemoMember[];
}

/** The person in both tenants, with a different role in each. */
export const SAM = { email: 'sam@demo.example', name: 'Sam Rivera' } as const;

export const DEMO_TENANTS: readonly DemoTenant[] = [
  {
    name: 'Demo Retail',
    slug: 'demo-retail',
    plan: { code: 'pro', trial: true },
    stores: [
      { code: 'DOWNTOWN', name: 'Downtown Flagship', headquarters: true },
      { code: 'AIRPORT', name: 'Airport Kiosk' },
      { code: 'MALL', name: 'Riverside Mall' },
    ],
    customRoles: [
      { name: 'Auditor', description: 'Reads the members, billing and audit log, and exports the log.', permissions: ['tenant.view', 'users.view', 'billing.view', 'audit.view', 'audit.export'] },
    ],
    members: [
      { email: 'retail.owner@demo.example', name: 'Olivia Owens', role: 'owner' },
      { email: 'retail.admin@demo.example', name: 'Arjun Adams', role: 'admin' },
      { email: 'retail.member@demo.example', name: 'Mia Moreno', role: 'member' },
      { email: 'retail.manager@demo.example', name: 'Marco Mendes', role: 'member', store: { code: 'DOWNTOWN', role: 'store_manager' } },
      { email: 'retail.staff@demo.example', name: 'Sofia Stone', role: 'member', store: { code: 'AIRPORT', role: 'store_staff' } },
      { ...SAM, role: 'member', customRole: 'Auditor' },
    ],
  },
  {
    name: 'Demo Clinic',
    slug: 'demo-clinic',
    plan: { code: 'basic', trial: false },
    stores: [
      { code: 'MAIN', name: 'Main Clinic', headquarters: true },
      { code: 'EAST', name: 'Eastside Clinic' },
    ],
    customRoles: [],
    members: [
      { email: 'clinic.owner@demo.example', name: 'Chloe Chen', role: 'owner' },
      { ...SAM, role: 'admin' },
      { email: 'clinic.member@demo.example', name: 'Noah Novak', role: 'member' },
      { email: 'clinic.manager@demo.example', name: 'Hana Haddad', role: 'member', store: { code: 'MAIN', role: 'store_manager' } },
      { email: 'clinic.staff@demo.example', name: 'Leo Larsen', role: 'member', store: { code: 'EAST', role: 'store_staff' } },
    ],
  },
];

export interface SeedDeps {
  db: Database;
  passwords: Pick<PasswordHasher, 'hash'>;
  billing: Config['billing'];
}

/** What a run added (all zero when the demo data was already complete). */
export interface SeedCounts {
  people: number;
  tenants: number;
  stores: number;
  memberships: number;
  storeMembers: number;
  roles: number;
  roleAssignments: number;
}

export interface SeededTenant {
  id: string;
  name: string;
  slug: string;
  status: string;
  plan: { code: string; name: string };
  subscription: { status: string; billingCycle: string; currentPeriodEnd: Date; trialEndsAt: Date | null };
  stores: number;
}

export interface SeedResult {
  created: SeedCounts;
  password: string;
  tenants: SeededTenant[];
}

/** Every person of the demo, once (Sam is in both tenants), the administrator first. */
export function demoPeople(): Array<{ email: string; name: string; platformAdmin: boolean }> {
  const people = new Map<string, { email: string; name: string; platformAdmin: boolean }>([[DEMO_ADMIN.email, { ...DEMO_ADMIN, platformAdmin: true }]]);
  for (const member of DEMO_TENANTS.flatMap((tenant) => tenant.members)) {
    if (!people.has(member.email)) people.set(member.email, { email: member.email, name: member.name, platformAdmin: false });
  }
  return [...people.values()];
}

/** Creates whatever part of the demo data is missing and reports the tenants as they are now. */
export async function seedDemoData(deps: SeedDeps): Promise<SeedResult> {
  const created: SeedCounts = { people: 0, tenants: 0, stores: 0, memberships: 0, storeMembers: 0, roles: 0, roleAssignments: 0 };
  const userIds = await ensurePeople(deps, created);
  const seeded: SeededTenant[] = [];
  for (const tenant of DEMO_TENANTS) seeded.push(await ensureTenant(deps, tenant, userIds, created));
  return { created, password: DEMO_PASSWORD, tenants: seeded };
}

/** The demo people's ids by email; the missing ones are created (email verified, DEMO_PASSWORD). */
async function ensurePeople(deps: SeedDeps, created: SeedCounts): Promise<Map<string, string>> {
  const people = demoPeople();
  for (const person of people) assertPasswordAcceptable(DEMO_PASSWORD, { email: person.email });
  const findIds = (tx: Tx) =>
    tx
      .select({ id: users.id, email: sql<string>`lower(${users.email})` })
      .from(users)
      .where(inArray(sql`lower(${users.email})`, people.map((person) => person.email)));

  const existing = new Set((await deps.db.transaction({}, findIds)).map((row) => row.email));
  const missing = people.filter((person) => !existing.has(person.email));
  // argon2 only when someone is missing; one hash serves them all (it is the same published password).
  const passwordHash = missing.length > 0 ? await deps.passwords.hash(DEMO_PASSWORD) : '';
  return deps.db.transaction({}, async (tx) => {
    const now = new Date();
    for (const person of missing) {
      const inserted = await tx
        .insert(users)
        .values({
          id: uuidv7(),
          email: person.email,
          name: person.name,
          passwordHash,
          passwordChangedAt: now,
          emailVerifiedAt: now,
          platformRole: person.platformAdmin ? 'platform_admin' : null,
        })
        .onConflictDoNothing()
        .returning({ id: users.id });
      created.people += inserted.length;
    }
    return new Map((await findIds(tx)).map((row) => [row.email, row.id]));
  });
}

/**
 * The demo tenant `spec` with its stores, members and roles, in one transaction (a tenant is seeded
 * whole or not at all). It is the demo's when its owner-to-be is a member of the tenant with that slug;
 * a tenant of someone else holding the slug is refused (409 `tenant.slug_taken`) rather than joined.
 */
async function ensureTenant(deps: SeedDeps, spec: DemoTenant, userIds: Map<string, string>, created: SeedCounts): Promise<SeededTenant> {
  const idOf = (email: string) => userIds.get(email)!;
  const ownerId = idOf(spec.members[0]!.email);
  const [found] = await deps.db.transaction({ userId: ownerId }, (tx) =>
    tx.select({ id: personMemberships.tenantId }).from(personMemberships).where(eq(personMemberships.tenantSlug, spec.slug)),
  );
  const tenantId = found?.id ?? uuidv7();

  try {
    return await deps.db.transaction({ tenantId, userId: ownerId }, async (tx) => {
      if (!found) {
        await createTenant(tx, deps, spec, tenantId);
        created.tenants += 1;
      }
      const storeIds = await ensureStores(tx, tenantId, spec, created);
      const roleIds = await ensureCustomRoles(tx, tenantId, spec, created);
      for (const member of spec.members) {
        const userId = idOf(member.email);
        const membership = await tx.insert(memberships).values({ tenantId, userId, role: member.role }).onConflictDoNothing().returning({ userId: memberships.userId });
        created.memberships += membership.length;
        if (member.store) {
          const values = { tenantId, storeId: storeIds.get(member.store.code)!, userId, role: member.store.role };
          created.storeMembers += (await tx.insert(storeMembers).values(values).onConflictDoNothing().returning({ userId: storeMembers.userId })).length;
        }
        if (member.customRole) {
          const values = { tenantId, id: uuidv7(), userId, roleId: roleIds.get(member.customRole)!, assignedBy: ownerId };
          created.roleAssignments += (await tx.insert(roleAssignments).values(values).onConflictDoNothing().returning({ id: roleAssignments.id })).length;
        }
      }
      return describeTenant(tx, tenantId);
    });
  } catch (error) {
    if (pgErrorCode(error) === PG.uniqueViolation && pgConstraint(error) === 'tenants_slug_key') {
      throw new AppError('tenant.slug_taken', `A tenant the seed did not create already uses the slug "${spec.slug}"; nothing of it was changed.`);
    }
    throw error;
  }
}

/** The tenant row and its subscription on the demo's plan, started by the billing module (trial: the plan's days). */
async function createTenant(tx: Tx, deps: SeedDeps, spec: DemoTenant, tenantId: string): Promise<void> {
  if (!(await findPlanByCode(tx, spec.plan.code))) throw new AppError('plan.not_found', `The demo needs the plan "${spec.plan.code}", which this system does not have.`);
  await tx.insert(tenants).values({ id: tenantId, name: spec.name, slug: spec.slug });
  const billing = { ...deps.billing, signupPlan: spec.plan.code, signupTrialDays: spec.plan.trial ? undefined : 0 };
  await createEntitlements({ db: deps.db, config: { billing } }).startSubscription(tx, tenantId);
}

/**
 * The live stores of the spec by code, the missing ones inserted. A spec's headquarters becomes one only
 * if the tenant has no live headquarters (someone may have moved it since).
 */
async function ensureStores(tx: Tx, tenantId: string, spec: DemoTenant, created: SeedCounts): Promise<Map<string, string>> {
  const live = await tx
    .select({ id: stores.id, code: stores.code, isHeadquarters: stores.isHeadquarters })
    .from(stores)
    .where(and(eq(stores.tenantId, tenantId), isNull(stores.deletedAt)));
  const byCode = new Map(live.map((store) => [store.code.toUpperCase(), store.id]));
  let hasHeadquarters = live.some((store) => store.isHeadquarters);
  for (const store of spec.stores) {
    if (byCode.has(store.code)) continue;
    const isHeadquarters = Boolean(store.headquarters) && !hasHeadquarters;
    const id = uuidv7();
    await tx.insert(stores).values({ tenantId, id, code: store.code, name: store.name, isHeadquarters });
    hasHeadquarters ||= isHeadquarters;
    byCode.set(store.code, id);
    created.stores += 1;
  }
  return byCode;
}

/** The spec's custom roles by name (case-insensitive, as the database keeps names unique), the missing ones inserted. */
async function ensureCustomRoles(tx: Tx, tenantId: string, spec: DemoTenant, created: SeedCounts): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const role of spec.customRoles) {
    const [existing] = await tx
      .select({ id: roles.id })
      .from(roles)
      .where(and(eq(roles.tenantId, tenantId), eq(sql`lower(${roles.name})`, role.name.toLowerCase())));
    if (existing) {
      ids.set(role.name, existing.id);
      continue;
    }
    const id = uuidv7();
    await tx.insert(roles).values({ tenantId, id, name: role.name, description: role.description, scope: 'tenant', permissions: role.permissions });
    ids.set(role.name, id);
    created.roles += 1;
  }
  return ids;
}

/** The tenant as it is now (the seed never changes an existing one, so this is what a newcomer will find). */
async function describeTenant(tx: Tx, tenantId: string): Promise<SeededTenant> {
  const [tenant] = await tx.select().from(tenants).where(eq(tenants.id, tenantId));
  const found = await findSubscription(tx, tenantId);
  const [count] = await tx
    .select({ stores: sql<number>`count(*)::int` })
    .from(stores)
    .where(and(eq(stores.tenantId, tenantId), isNull(stores.deletedAt)));
  const { subscription, plan } = found!;
  return {
    id: tenantId,
    name: tenant!.name,
    slug: tenant!.slug,
    status: tenant!.status,
    plan: { code: plan.code, name: plan.name },
    subscription: { status: subscription.status, billingCycle: subscription.billingCycle, currentPeriodEnd: subscription.currentPeriodEnd, trialEndsAt: subscription.trialEndsAt },
    stores: count!.stores,
  };
}
