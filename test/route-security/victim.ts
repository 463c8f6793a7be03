/**
 * The victim of the all-routes security matrix: a tenant with an owner, a second member (the target of
 * `/users/:id` routes, assigned to store A and holding a custom role), two stores, a pending invitation,
 * a custom role and a (past) impersonation of the target — every kind of row a route could name in its
 * path, mapped from parameter names (`:roleId`) or, for `:id`, from the segment before it (`/roles/:id`). Plus the callers that live
 * inside it: a member whose built-in role lacks most permissions, and a store manager of store B only.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { uuidv7 } from '../../src/core/db/ids.js';
import { roleAssignments, roles } from '../../src/modules/authorization/authorization.table.js';
import { invitations } from '../../src/modules/organization/organization.table.js';
import { addMembership, assignToStore, createPerson, createStore, createTenantFor, signInAs, type Person } from '../auth.js';
import type { AdminSql } from '../harness.js';
import type { DeclaredRoute } from './routes.js';

export interface Victim {
  tenantId: string;
  owner: Person;
  /** A member named by the routes about one member (assigned to store A, holding the custom role). */
  target: Person;
  /** The owner's session (routes about one session). */
  ownerSessionId: string;
  storeA: string;
  storeB: string;
  invitationId: string;
  customRoleId: string;
  /** A platform administrator's impersonation of the target (ended; platform routes about one). */
  impersonationId: string;
  /** A member (built-in role `member`) who calls the routes their role does not allow; and their token. */
  plainMember: Person & { token: string };
  /** A member who is `store_manager` of store B only; and their token. */
  storeBManager: Person & { token: string };
  /** The people whose global rows (users, sessions, …) must never change. */
  peopleIds: string[];
}

/** Writes the victim tenant and its rows directly (not through the routes under test). */
export async function createVictim(app: FastifyInstance, admin: AdminSql): Promise<Victim> {
  const owner = await createPerson(app, { name: 'Victim Owner' });
  const tenantId = (await createTenantFor(app, owner, { name: 'Victim' })).id;
  const target = await createPerson(app, { name: 'Victim Target' });
  await addMembership(app, tenantId, target, 'member');
  const storeA = (await createStore(app, tenantId, { name: 'Victim A' })).id;
  const storeB = (await createStore(app, tenantId, { name: 'Victim B' })).id;
  await assignToStore(app, tenantId, storeA, target, 'store_staff');

  const plainMember = await createPerson(app, { name: 'Victim Plain Member' });
  await addMembership(app, tenantId, plainMember, 'member');
  const storeBManager = await createPerson(app, { name: 'Victim Store B Manager' });
  await addMembership(app, tenantId, storeBManager, 'member');
  await assignToStore(app, tenantId, storeB, storeBManager, 'store_manager');

  const invitationId = uuidv7();
  const customRoleId = uuidv7();
  await app.platform.db.withTenant(tenantId, async (tx) => {
    await tx.insert(invitations).values({
      tenantId,
      id: invitationId,
      email: `invitee-${randomBytes(4).toString('hex')}@example.test`,
      tokenHash: randomBytes(32).toString('hex'),
      invitedBy: owner.id,
      expiresAt: new Date(Date.now() + 7 * 24 * 3600_000),
    });
    await tx.insert(roles).values({ tenantId, id: customRoleId, name: 'Victim Auditor', scope: 'tenant', permissions: ['audit.view'] });
    await tx.insert(roleAssignments).values({ tenantId, id: uuidv7(), userId: target.id, roleId: customRoleId, assignedBy: owner.id });
  });
  // Global table, written as the superuser: no tenant context applies to it.
  const impersonationId = uuidv7();
  const administrator = await createPerson(app, { platformRole: 'platform_admin' });
  await admin.query(
    `INSERT INTO impersonations (id, admin_id, user_id, target_tenant_id, reason, expires_at, ended_at, ended_by)
     VALUES ($1, $2, $3, $4, 'support ticket 42', now() + interval '30 minutes', now(), $2)`,
    [impersonationId, administrator.id, target.id, tenantId],
  );
  // Every session is opened now, before the first digest: signing in writes rows that name the tenant.
  const login = await signInAs(app, owner, tenantId);
  const ownerSessionId = (await app.accessTokens.verify(login.accessToken)).sid;
  await signInAs(app, target, tenantId);
  const tokenOf = async (person: Person) => ({ ...person, token: (await signInAs(app, person, tenantId)).accessToken });

  return {
    tenantId,
    owner,
    target,
    ownerSessionId,
    storeA,
    storeB,
    invitationId,
    customRoleId,
    impersonationId,
    plainMember: await tokenOf(plainMember),
    storeBManager: await tokenOf(storeBManager),
    peopleIds: [owner.id, target.id],
  };
}

type VictimIdKey = 'target' | 'owner' | 'customRoleId' | 'storeA' | 'invitationId' | 'ownerSessionId' | 'tenantId' | 'impersonationId';

const PARAM_BY_NAME: Record<string, VictimIdKey> = {
  userId: 'target',
  roleId: 'customRoleId',
  storeId: 'storeA',
  invitationId: 'invitationId',
  sessionId: 'ownerSessionId',
  tenantId: 'tenantId',
  impersonationId: 'impersonationId',
};

/** What a plain `:id` names, by the URL segment before it. */
const ID_BY_SEGMENT: Record<string, VictimIdKey> = {
  users: 'target',
  'platform-users': 'owner',
  roles: 'customRoleId',
  stores: 'storeA',
  invitations: 'invitationId',
  sessions: 'ownerSessionId',
  tenants: 'tenantId',
  impersonations: 'impersonationId',
};

/** Which victim row each path parameter names (undefined: none fits, a random UUID goes there). */
function victimParams(route: Pick<DeclaredRoute, 'url'>): Array<{ segment: string; key?: VictimIdKey; isParam: boolean }> {
  return route.url.split('/').map((segment, index, all) => {
    const param = /^:(\w+)/.exec(segment)?.[1];
    if (!param) return { segment, isParam: segment === '*' };
    const previous = all[index - 1] ?? '';
    return { segment, isParam: true, key: PARAM_BY_NAME[param] ?? (param === 'id' ? ID_BY_SEGMENT[previous] : undefined) };
  });
}

/** Whether the route's path names a row of the victim (known before the victim exists: test names). */
export function namesVictim(route: Pick<DeclaredRoute, 'url'>): boolean {
  return victimParams(route).some((part) => part.key !== undefined);
}

/** The route's URL with its path parameters filled with the victim's ids (else fresh random UUIDs). */
export function victimUrl(route: Pick<DeclaredRoute, 'url'>, victim: Victim): string {
  const idOf = (key: VictimIdKey) => {
    const value = victim[key];
    return typeof value === 'string' ? value : value.id;
  };
  return victimParams(route)
    .map((part) => (!part.isParam ? part.segment : part.key ? idOf(part.key) : uuidv7()))
    .join('/');
}
