/**
 * The route-security matrix for every /api/v1/stores route: no or bad credential, expired token, revoked
 * session, disabled person (401); a member without stores.manage, a deactivated member, a suspended or
 * closed tenant (403); another tenant's owner naming the victim's store (404 store.not_found, or 403
 * store.access_denied when named in X-Store-ID). The victim tenant's rows never change.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { addMembership, assignToStore, bearer, createPerson, createStore, createTenantFor, signInAs } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { baseCases, otherTenantCase, securityMatrix, sessionCases, tenantCases, type MatrixCase, type RouteUnderTest } from '../../../test/security-matrix.js';
import { uuidv7 } from '../../core/db/ids.js';

let t: TestApp;
let victimTenantId: string;

// Fixed before the tests are declared (the matrix names its URLs up front); the rows are written in beforeAll.
const headquartersId = uuidv7();
const branchId = uuidv7();
const deletedId = uuidv7();
const victimMember = { id: '' };

beforeAll(async () => {
  t = await createTestApp();
  const owner = await createPerson(t.app);
  victimTenantId = (await createTenantFor(t.app, owner)).id;
  await createStore(t.app, victimTenantId, { id: headquartersId, isHeadquarters: true });
  await createStore(t.app, victimTenantId, { id: branchId });
  await createStore(t.app, victimTenantId, { id: deletedId, deleted: true });
  const member = await createPerson(t.app);
  await addMembership(t.app, victimTenantId, member);
  await assignToStore(t.app, victimTenantId, branchId, member);
  victimMember.id = member.id;
});
afterAll(() => t?.close());

const getApp = () => t.app;
const context = () => ({ app: t.app, admin: t.admin, victimTenantId });

/** Another tenant's owner asking to act in the victim's store: refused before any lookup. */
const foreignStoreContext: MatrixCase = {
  name: 'owner of another tenant with X-Store-ID of the victim’s store',
  headers: async () => {
    const person = await createPerson(getApp());
    const tenant = await createTenantFor(getApp(), person);
    return { ...bearer((await signInAs(getApp(), person, tenant.id)).accessToken), 'x-store-id': branchId };
  },
  status: 403,
  code: 'store.access_denied',
};

function matrix(route: RouteUnderTest, options: { manage: boolean; victimId: boolean }) {
  const cases = [
    ...baseCases,
    ...sessionCases(getApp),
    ...tenantCases(getApp, options.manage ? { lacking: 'member' } : {}),
    foreignStoreContext,
    ...(options.victimId ? [otherTenantCase(getApp, 'store.not_found')] : []),
  ];
  securityMatrix(context, route, cases);
}

/**
 * The victim member's unassignment: the URL is read when the test runs (the member is created in
 * beforeAll), and reads `:userId` when the test is declared, which is what its name shows.
 */
const unassignVictimMember: RouteUnderTest = {
  method: 'DELETE',
  get url() {
    return `/api/v1/stores/${branchId}/users/${victimMember.id || ':userId'}`;
  },
};

describe('security matrix: /api/v1/stores', () => {
  matrix({ method: 'GET', url: '/api/v1/stores' }, { manage: false, victimId: false });
  matrix({ method: 'POST', url: '/api/v1/stores', payload: { name: 'Intruder', code: 'INTRUDER' } }, { manage: true, victimId: false });
  matrix({ method: 'GET', url: `/api/v1/stores/${branchId}` }, { manage: false, victimId: true });
  matrix({ method: 'PATCH', url: `/api/v1/stores/${branchId}`, payload: { name: 'Renamed', isHeadquarters: true } }, { manage: true, victimId: true });
  matrix({ method: 'DELETE', url: `/api/v1/stores/${branchId}` }, { manage: true, victimId: true });
  matrix({ method: 'POST', url: `/api/v1/stores/${deletedId}/restore` }, { manage: true, victimId: true });
});

describe('security matrix: /api/v1/stores/:id/users', () => {
  matrix({ method: 'GET', url: `/api/v1/stores/${branchId}/users` }, { manage: false, victimId: true });
  matrix({ method: 'POST', url: `/api/v1/stores/${headquartersId}/users`, payload: { userIds: [uuidv7()] } }, { manage: true, victimId: true });
  matrix(unassignVictimMember, { manage: true, victimId: true });
  matrix({ method: 'DELETE', url: `/api/v1/stores/${branchId}/users`, payload: { userIds: [uuidv7()] } }, { manage: true, victimId: true });
});

describe('security matrix: /api/v1/stores/:id/settings', () => {
  matrix({ method: 'GET', url: `/api/v1/stores/${branchId}/settings` }, { manage: false, victimId: true });
  matrix({ method: 'PATCH', url: `/api/v1/stores/${branchId}/settings`, payload: { receiptHeader: 'pwned' } }, { manage: true, victimId: true });
});
