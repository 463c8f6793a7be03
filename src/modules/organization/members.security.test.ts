/**
 * The route-security matrix of the member routes under /api/v1/users: no or bad credential, ended
 * session, disabled person, a role without the permission, deactivated membership, suspended or closed
 * tenant, and another tenant's owner naming the victim's member. None may change a row of the victim.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { uuidv7 } from '../../core/db/ids.js';
import { addMembership, createPerson, createTenantFor } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { baseCases, otherTenantCase, securityMatrix, sessionCases, tenantCases } from '../../../test/security-matrix.js';

let t: TestApp;
let victimTenantId: string;
/** Known before the tests are declared, so it appears in their names. */
const victimMemberId = uuidv7();

beforeAll(async () => {
  t = await createTestApp();
  const owner = await createPerson(t.app);
  victimTenantId = (await createTenantFor(t.app, owner)).id;
  await t.admin.query(`INSERT INTO users (id, email, name) VALUES ($1, $2, 'Victim Member')`, [victimMemberId, `victim-${victimMemberId}@example.test`]);
  await addMembership(t.app, victimTenantId, { id: victimMemberId }, 'member');
});
afterAll(() => t?.close());

const context = () => ({ app: t.app, admin: t.admin, victimTenantId });
const common = () => [...baseCases, ...sessionCases(() => t.app)];

describe('GET /users', () => {
  // Every role holds users.view, so there is no "lacking" case.
  securityMatrix(context, { method: 'GET', url: '/api/v1/users' }, [...common(), ...tenantCases(() => t.app)]);
});

describe('POST /users', () => {
  securityMatrix(context, { method: 'POST', url: '/api/v1/users', payload: { email: 'matrix-new@example.test', name: 'Matrix' } }, [
    ...common(),
    ...tenantCases(() => t.app, { lacking: 'member' }),
  ]);
});

describe('member routes with an id', () => {
  const route = (method: 'GET' | 'PATCH' | 'DELETE', payload?: unknown) => ({ method, url: `/api/v1/users/${victimMemberId}`, payload });

  securityMatrix(context, route('GET'), [...common(), ...tenantCases(() => t.app), otherTenantCase(() => t.app, 'member.not_found')]);
  securityMatrix(context, route('PATCH', { status: 'deactivated' }), [
    ...common(),
    ...tenantCases(() => t.app, { lacking: 'member' }),
    otherTenantCase(() => t.app, 'member.not_found'),
  ]);
  securityMatrix(context, route('DELETE'), [...common(), ...tenantCases(() => t.app, { lacking: 'member' }), otherTenantCase(() => t.app, 'member.not_found')]);
});
