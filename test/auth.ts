/**
 * Identity fixtures: people with a known password, and signed-in sessions opened directly (the same
 * `signIn` the routes use), so a test about sessions or tenants does not depend on the login route.
 */
import { and, eq, isNull } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import { uuidv7 } from '../src/core/db/ids.js';
import { memberships, tenants, users, type MembershipRole } from '../src/core/tenancy/tenancy.table.js';
import { storeMembers, stores, type StoreRole } from '../src/modules/organization/organization.table.js';
import type { LoginResponse } from '../src/modules/identity/auth.schemas.js';
import { signIn } from '../src/modules/identity/sign-in.js';

/** Passes the password policy (long, not common, no email part). */
export const TEST_PASSWORD = 'Violet-lantern-73-orbit';

let testPasswordHash: Promise<string> | undefined;

export interface Person {
  id: string;
  email: string;
  name: string;
  password: string;
}

export interface PersonOptions {
  email?: string;
  name?: string;
  /** Default TEST_PASSWORD (hashed once per process). */
  password?: string;
  verified?: boolean;
  status?: 'active' | 'disabled';
  platformRole?: 'platform_admin' | 'platform_operator';
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A person with a password (and no membership). */
export async function createPerson(app: FastifyInstance, options: PersonOptions = {}): Promise<Person> {
  const suffix = randomBytes(4).toString('hex');
  const password = options.password ?? TEST_PASSWORD;
  const passwordHash =
    password === TEST_PASSWORD ? await (testPasswordHash ??= app.identity.passwords.hash(TEST_PASSWORD)) : await app.identity.passwords.hash(password);
  const person = { id: uuidv7(), email: options.email ?? `person-${suffix}@example.test`, name: options.name ?? `Person ${suffix}`, password };
  await app.platform.db.transaction({}, (tx) =>
    tx.insert(users).values({
      id: person.id,
      email: person.email,
      name: person.name,
      passwordHash,
      passwordChangedAt: new Date(),
      emailVerifiedAt: options.verified === false ? null : new Date(),
      status: options.status ?? 'active',
      platformRole: options.platformRole ?? null,
    }),
  );
  return person;
}

/** A tenant with `person` as a member (owner by default). */
export async function createTenantFor(app: FastifyInstance, person: Pick<Person, 'id'>, options: { role?: MembershipRole; name?: string } = {}) {
  const suffix = randomBytes(4).toString('hex');
  const tenant = { id: uuidv7(), name: options.name ?? `Tenant ${suffix}`, slug: `tenant-${suffix}` };
  await app.platform.db.transaction({ tenantId: tenant.id, userId: person.id }, async (tx) => {
    await tx.insert(tenants).values(tenant);
    await app.platform.entitlements.startSubscription(tx, tenant.id);
    await tx.insert(memberships).values({ tenantId: tenant.id, userId: person.id, role: options.role ?? 'owner' });
  });
  return tenant;
}

/** Adds `person` to an existing tenant. */
export async function addMembership(app: FastifyInstance, tenantId: string, person: Pick<Person, 'id'>, role: MembershipRole = 'member', status: 'active' | 'deactivated' = 'active') {
  await app.platform.db.withTenant(tenantId, (tx) => tx.insert(memberships).values({ tenantId, userId: person.id, role, status }));
}

/** Opens a session for `person` (in `tenantId`, else their default tenant) without the login route. */
export async function signInAs(app: FastifyInstance, person: Pick<Person, 'id'>, tenantId?: string): Promise<LoginResponse> {
  return app.platform.db.transaction({ userId: person.id }, (tx) =>
    signIn(tx, app.identity, { userId: person.id, tenantId, mfaVerified: false, ip: '127.0.0.1', userAgent: 'vitest' }),
  );
}

export interface TestStore {
  id: string;
  name: string;
  code: string;
  isHeadquarters: boolean;
}

/**
 * A store of `tenantId`, written directly (not through the route). It is the headquarters when the tenant
 * has no live one yet, as the service would decide, unless `isHeadquarters` says otherwise.
 */
export async function createStore(
  app: FastifyInstance,
  tenantId: string,
  options: { id?: string; name?: string; code?: string; isHeadquarters?: boolean; deleted?: boolean } = {},
): Promise<TestStore> {
  const suffix = randomBytes(4).toString('hex');
  return app.platform.db.withTenant(tenantId, async (tx) => {
    const [headquarters] = await tx
      .select({ id: stores.id })
      .from(stores)
      .where(and(eq(stores.tenantId, tenantId), eq(stores.isHeadquarters, true), isNull(stores.deletedAt)));
    const store = {
      id: options.id ?? uuidv7(),
      name: options.name ?? `Store ${suffix}`,
      code: options.code ?? `S-${suffix}`,
      isHeadquarters: options.isHeadquarters ?? (headquarters === undefined && !options.deleted),
    };
    await tx.insert(stores).values({ tenantId, ...store, deletedAt: options.deleted ? new Date() : null });
    return store;
  });
}

/** Assigns `person` (a member of the tenant) to a store. */
export async function assignToStore(app: FastifyInstance, tenantId: string, storeId: string, person: Pick<Person, 'id'>, role: StoreRole = 'store_staff') {
  await app.platform.db.withTenant(tenantId, (tx) => tx.insert(storeMembers).values({ tenantId, storeId, userId: person.id, role }));
}

/** A person owning a new tenant, signed in there. */
export async function signedInOwner(app: FastifyInstance, options: { name?: string } = {}) {
  const person = await createPerson(app);
  const tenant = await createTenantFor(app, person, options);
  const token = (await signInAs(app, person, tenant.id)).accessToken;
  return { person, tenant, token };
}

/** A new person with `role` in `tenantId`, signed in there. */
export async function signedInMember(app: FastifyInstance, tenantId: string, role: MembershipRole = 'member', options: PersonOptions = {}) {
  const person = await createPerson(app, options);
  await addMembership(app, tenantId, person, role);
  const login = await signInAs(app, person, tenantId);
  return { person, token: login.accessToken, login };
}

/** A platform administrator (or operator), signed in without a tenant. */
export async function signedInPlatformAdmin(app: FastifyInstance, platformRole: 'platform_admin' | 'platform_operator' = 'platform_admin') {
  const person = await createPerson(app, { platformRole });
  const login = await signInAs(app, person);
  return { person, token: login.accessToken, login };
}
