/**
 * GET /api/v1/users/me: the signed-in person, the tenant the token acts in and their membership there,
 * read in a unit of work scoped to that tenant; nothing secret in the answer; the security matrix.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addMembership, bearer, createPerson, createTenantFor, signInAs } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { baseCases, securityMatrix, sessionCases } from '../../../test/security-matrix.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

const me = (token: string) => t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(token) });

describe('GET /users/me', () => {
  it('answers the person, their tenant and their membership, and nothing else', async () => {
    const person = await createPerson(t.app, { name: 'Ada Lovelace' });
    const tenant = await createTenantFor(t.app, person);
    const login = await signInAs(t.app, person, tenant.id);

    const response = await me(login.accessToken);
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toEqual({
      user: {
        id: person.id,
        email: person.email,
        name: 'Ada Lovelace',
        emailVerified: true,
        mfaEnabled: false,
        platformRole: null,
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      },
      tenant: { id: tenant.id, name: tenant.name, slug: tenant.slug, status: 'active' },
      membership: { role: 'owner', status: 'active' },
    });
    // No password hash, TOTP secret or other column leaks through.
    expect(response.body).not.toMatch(/argon2|passwordHash|totp/i);
  });

  it('follows the token’s tenant: a member elsewhere sees that tenant and role', async () => {
    const owner = await createPerson(t.app);
    const shop = await createTenantFor(t.app, owner);
    const person = await createPerson(t.app, { verified: false });
    await createTenantFor(t.app, person);
    await addMembership(t.app, shop.id, person, 'admin');
    const login = await signInAs(t.app, person, shop.id);
    const body = (await me(login.accessToken)).json();
    expect(body).toMatchObject({ user: { id: person.id, emailVerified: false }, tenant: { id: shop.id }, membership: { role: 'admin', status: 'active' } });
  });

  it('a person acting in no tenant: tenant and membership are null', async () => {
    const person = await createPerson(t.app, { platformRole: 'platform_admin' });
    const login = await signInAs(t.app, person);
    const response = await me(login.accessToken);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ user: { id: person.id, platformRole: 'platform_admin' }, tenant: null, membership: null });
  });

  it('costs one statement: the authentication read, scoped to the token’s session, person and tenant', async () => {
    const person = await createPerson(t.app);
    const tenant = await createTenantFor(t.app, person);
    const login = await signInAs(t.app, person, tenant.id);
    const transaction = vi.spyOn(t.platform.db, 'transaction');
    const statement = vi.spyOn(t.platform.db.executor, 'executeSql');
    try {
      expect((await me(login.accessToken)).statusCode).toBe(200);
      expect(transaction).not.toHaveBeenCalled();
      expect(statement).toHaveBeenCalledTimes(1);
      expect(statement.mock.calls[0]![0]).toMatch(/session_actor/);
      expect(statement.mock.calls[0]![1]).toEqual([expect.any(String), person.id, tenant.id, null]);
    } finally {
      transaction.mockRestore();
      statement.mockRestore();
    }
  });
});

describe('security matrix', () => {
  let victimTenantId: string;
  beforeAll(async () => {
    const victim = await createPerson(t.app);
    victimTenantId = (await createTenantFor(t.app, victim)).id;
  });

  securityMatrix(() => ({ app: t.app, admin: t.admin, victimTenantId }), { method: 'GET', url: '/api/v1/users/me' }, [...baseCases, ...sessionCases(() => t.app)]);
});
