/**
 * `GET /api/v1/admin/stats` on a fresh database with known contents: tenants by status, people (and the
 * disabled), live stores (deleted ones and closed tenants' excluded) and sign-ups per UTC day — today,
 * the window's edges and the day just outside it — compared exactly. Operators may read it, tenant
 * owners may not; and the security matrix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createPerson, createStore, createTenantFor, signedInOwner, signedInPlatformAdmin, type Person } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { baseCases, platformCases, securityMatrix, sessionCases } from '../../../test/security-matrix.js';
import { SIGNUP_DAYS } from './stats.service.js';

const STATS = '/api/v1/admin/stats';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

/** Moves a person's sign-up to one hour into the UTC day `daysAgo` days before today. */
async function signedUpDaysAgo(person: Person, daysAgo: number) {
  await t.admin.query(
    `UPDATE users SET created_at = ((now() AT TIME ZONE 'UTC')::date - $2::int)::timestamp AT TIME ZONE 'UTC' + interval '1 hour' WHERE id = $1`,
    [person.id, daysAgo],
  );
}

/** `YYYY-MM-DD` of the UTC day `daysAgo` days before `today`. */
function dayBefore(today: string, daysAgo: number): string {
  return new Date(Date.parse(`${today}T00:00:00Z`) - daysAgo * 86_400_000).toISOString().slice(0, 10);
}

describe('GET /admin/stats', () => {
  it('counts exactly what the database holds', async () => {
    const before = await t.admin.query<{ users: number; tenants: number }>(`SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM tenants) AS tenants`);
    expect(before[0]).toEqual({ users: 0, tenants: 0 });

    const admin = await signedInPlatformAdmin(t.app);
    const owners = await Promise.all([1, 2, 3, 4].map(() => createPerson(t.app)));
    const [active1, active2, suspended, closed] = await Promise.all(owners.map((owner) => createTenantFor(t.app, owner)));
    await t.admin.query(`UPDATE tenants SET status = 'suspended', suspended_reason = 'test' WHERE id = $1`, [suspended!.id]);
    await t.admin.query(`UPDATE tenants SET status = 'closed', closed_at = now() WHERE id = $1`, [closed!.id]);
    await createPerson(t.app, { status: 'disabled' });
    await createPerson(t.app, { status: 'disabled' });
    await signedUpDaysAgo(await createPerson(t.app), 3);
    await signedUpDaysAgo(await createPerson(t.app), SIGNUP_DAYS - 1);
    await signedUpDaysAgo(await createPerson(t.app), SIGNUP_DAYS - 1);
    await signedUpDaysAgo(await createPerson(t.app), SIGNUP_DAYS); // just outside the window
    await createStore(t.app, active1!.id);
    await createStore(t.app, active1!.id);
    await createStore(t.app, active1!.id, { deleted: true });
    await createStore(t.app, suspended!.id);
    await createStore(t.app, closed!.id); // a closed tenant's stores are not live
    void active2;

    const response = await t.app.inject({ method: 'GET', url: STATS, headers: bearer(admin.token) });
    expect(response.statusCode, response.body).toBe(200);
    const stats = response.json() as { signupsPerDay: Array<{ date: string; count: number }> };
    expect(stats).toMatchObject({
      tenants: { active: 2, suspended: 1, closed: 1, total: 4 },
      users: { total: 11, disabled: 2 },
      stores: { live: 3 },
    });

    const [{ today }] = (await t.admin.query<{ today: string }>(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS today`)) as [{ today: string }];
    const expected = Array.from({ length: SIGNUP_DAYS }, (_, index) => {
      const daysAgo = SIGNUP_DAYS - 1 - index;
      const count = daysAgo === 0 ? 7 : daysAgo === 3 ? 1 : daysAgo === SIGNUP_DAYS - 1 ? 2 : 0;
      return { date: dayBefore(today, daysAgo), count };
    });
    expect(stats.signupsPerDay).toEqual(expected);
  });

  it('is open to operators and closed to tenant owners', async () => {
    const operator = await signedInPlatformAdmin(t.app, 'platform_operator');
    const read = await t.app.inject({ method: 'GET', url: STATS, headers: bearer(operator.token) });
    expect(read.statusCode).toBe(200);
    const [users] = await t.admin.query<{ total: number }>(`SELECT count(*)::int AS total FROM users`);
    expect(read.json().users.total).toBe(users!.total);
    const owner = await signedInOwner(t.app);
    const refused = await t.app.inject({ method: 'GET', url: STATS, headers: bearer(owner.token) });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('auth.forbidden');
  });
});

describe('security matrix', () => {
  const getApp = () => t.app;
  securityMatrix(() => ({ app: t.app, admin: t.admin }), { method: 'GET', url: STATS }, [
    ...baseCases,
    ...sessionCases(getApp),
    ...platformCases(getApp),
  ]);
});
