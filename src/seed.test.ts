/**
 * `atrium seed`'s data on a real database: exactly the described rows, nothing added by a second run,
 * the same sign-in details printed, and the printed password accepted by POST /api/v1/auth/login.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createPerson, createTenantFor } from '../test/auth.js';
import { createTestApp, type TestApp } from '../test/harness.js';
import { DEMO_ADMIN, DEMO_PASSWORD, SAM, seedDemoData, type SeedResult } from './seed.js';
import { formatSeedReport } from './seed-report.js';

let t: TestApp;
let first: SeedResult;
let firstReport: string;

const seed = () => seedDemoData({ db: t.platform.db, passwords: t.app.identity.passwords, billing: t.config.billing });
const report = (result: SeedResult) => formatSeedReport(result, { publicUrl: t.config.http.publicUrl });
/** Everything but the first line (which says whether anything was created). */
const details = (text: string) => text.split('\n').slice(1).join('\n');
/** A client address of its own per login, so per-address counters (Redis) never carry over. */
const clientIp = () => `2001:db8:${randomBytes(2).toString('hex')}::${randomBytes(2).toString('hex')}`;

beforeAll(async () => {
  t = await createTestApp();
  first = await seed();
  firstReport = report(first);
});
afterAll(() => t?.close());

const rows = <T extends Record<string, unknown>>(text: string) => t.admin.query<T>(text);
const DEMO_TABLES = ['users', 'tenants', 'subscriptions', 'stores', 'memberships', 'store_members', 'roles', 'role_assignments', 'audit_events', 'outbox_events'];
async function rowCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of DEMO_TABLES) counts[table] = Number((await rows<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
  return counts;
}

describe('atrium seed', () => {
  it('creates the platform admin and every person once, email verified, with a password', async () => {
    const people = await rows<{ email: string; platform_role: string | null; verified: boolean; has_password: boolean }>(
      `SELECT email, platform_role, email_verified_at IS NOT NULL AS verified, password_hash IS NOT NULL AS has_password FROM users WHERE email LIKE '%@demo.example' ORDER BY email`,
    );
    expect(people.map((person) => person.email)).toEqual(
      [
        'admin@demo.example',
        'clinic.manager@demo.example',
        'clinic.member@demo.example',
        'clinic.owner@demo.example',
        'clinic.staff@demo.example',
        'retail.admin@demo.example',
        'retail.manager@demo.example',
        'retail.member@demo.example',
        'retail.owner@demo.example',
        'retail.staff@demo.example',
        'sam@demo.example',
      ].sort(),
    );
    expect(people.every((person) => person.verified && person.has_password)).toBe(true);
    expect(people.filter((person) => person.platform_role !== null)).toEqual([expect.objectContaining({ email: DEMO_ADMIN.email, platform_role: 'platform_admin' })]);
    expect(first.created).toEqual({ people: 11, tenants: 2, stores: 5, memberships: 11, storeMembers: 4, roles: 1, roleAssignments: 1 });
  });

  it('creates two active tenants: Demo Retail on Pro (in trial) and Demo Clinic on Basic (active, monthly)', async () => {
    const tenants = await rows(`
      SELECT t.slug, t.name, t.status, p.code AS plan, s.status AS subscription, s.billing_cycle, s.trial_ends_at IS NOT NULL AS has_trial,
             s.current_period_end = coalesce(s.trial_ends_at, s.current_period_start + interval '1 month') AS period_consistent
        FROM tenants t JOIN subscriptions s ON s.tenant_id = t.id JOIN plans p ON p.id = s.plan_id ORDER BY t.slug`);
    expect(tenants).toEqual([
      { slug: 'demo-clinic', name: 'Demo Clinic', status: 'active', plan: 'basic', subscription: 'active', billing_cycle: 'monthly', has_trial: false, period_consistent: true },
      { slug: 'demo-retail', name: 'Demo Retail', status: 'active', plan: 'pro', subscription: 'trialing', billing_cycle: 'monthly', has_trial: true, period_consistent: true },
    ]);
    expect(first.tenants.map((tenant) => [tenant.slug, tenant.plan.code, tenant.subscription.status])).toEqual([
      ['demo-retail', 'pro', 'trialing'],
      ['demo-clinic', 'basic', 'active'],
    ]);
  });

  it('creates the stores, one headquarters per tenant', async () => {
    const stores = await rows(`SELECT t.slug, s.code, s.is_headquarters AS hq FROM stores s JOIN tenants t ON t.id = s.tenant_id WHERE s.deleted_at IS NULL ORDER BY t.slug, s.code`);
    expect(stores).toEqual([
      { slug: 'demo-clinic', code: 'EAST', hq: false },
      { slug: 'demo-clinic', code: 'MAIN', hq: true },
      { slug: 'demo-retail', code: 'AIRPORT', hq: false },
      { slug: 'demo-retail', code: 'DOWNTOWN', hq: true },
      { slug: 'demo-retail', code: 'MALL', hq: false },
    ]);
  });

  it('gives each tenant an owner, an admin, a member, a store manager and store staff; Sam is in both with different roles', async () => {
    const members = await rows<{ slug: string; email: string; role: string }>(
      `SELECT t.slug, u.email, m.role FROM memberships m JOIN tenants t ON t.id = m.tenant_id JOIN users u ON u.id = m.user_id WHERE m.status = 'active' ORDER BY t.slug, u.email`,
    );
    expect(members.map((m) => `${m.slug} ${m.email} ${m.role}`)).toEqual([
      'demo-clinic clinic.manager@demo.example member',
      'demo-clinic clinic.member@demo.example member',
      'demo-clinic clinic.owner@demo.example owner',
      'demo-clinic clinic.staff@demo.example member',
      'demo-clinic sam@demo.example admin',
      'demo-retail retail.admin@demo.example admin',
      'demo-retail retail.manager@demo.example member',
      'demo-retail retail.member@demo.example member',
      'demo-retail retail.owner@demo.example owner',
      'demo-retail retail.staff@demo.example member',
      'demo-retail sam@demo.example member',
    ]);
    const storeMembers = await rows<{ slug: string; code: string; email: string; role: string }>(
      `SELECT t.slug, s.code, u.email, sm.role FROM store_members sm JOIN tenants t ON t.id = sm.tenant_id
         JOIN stores s ON s.tenant_id = sm.tenant_id AND s.id = sm.store_id JOIN users u ON u.id = sm.user_id ORDER BY t.slug, s.code`,
    );
    expect(storeMembers.map((m) => `${m.slug} ${m.code} ${m.email} ${m.role}`)).toEqual([
      'demo-clinic EAST clinic.staff@demo.example store_staff',
      'demo-clinic MAIN clinic.manager@demo.example store_manager',
      'demo-retail AIRPORT retail.staff@demo.example store_staff',
      'demo-retail DOWNTOWN retail.manager@demo.example store_manager',
    ]);
  });

  it('adds a custom role in the Pro tenant only, held tenant-wide by Sam', async () => {
    const custom = await rows(`SELECT t.slug, r.name, r.scope, r.permissions FROM roles r JOIN tenants t ON t.id = r.tenant_id WHERE r.key IS NULL`);
    expect(custom).toEqual([{ slug: 'demo-retail', name: 'Auditor', scope: 'tenant', permissions: ['tenant.view', 'users.view', 'billing.view', 'audit.view', 'audit.export'] }]);
    const held = await rows(`
      SELECT t.slug, u.email, r.name, ra.store_id FROM role_assignments ra JOIN tenants t ON t.id = ra.tenant_id
        JOIN users u ON u.id = ra.user_id JOIN roles r ON r.tenant_id = ra.tenant_id AND r.id = ra.role_id`);
    expect(held).toEqual([{ slug: 'demo-retail', email: SAM.email, name: 'Auditor', store_id: null }]);
  });

  it('prints who can sign in with which password, the plans, and a login request', () => {
    expect(firstReport.split('\n')[0]).toMatch(/^Demo data created: 11 people, 2 tenants, 5 stores/);
    expect(firstReport).toMatch(/^ {2}admin@demo\.example +Atrium-demo-lantern-42 +\(platform\) +platform admin/m);
    expect(firstReport).toMatch(/^ {2}sam@demo\.example +Atrium-demo-lantern-42 +demo-retail +member, custom role "Auditor"\n {30,}demo-clinic +admin$/m);
    expect(firstReport).toMatch(/^ {2}retail\.manager@demo\.example +\S+ +demo-retail +member, store manager of DOWNTOWN$/m);
    const retail = first.tenants[0]!;
    expect(firstReport).toContain(`Demo Retail (demo-retail, id ${retail.id}): Pro plan, trialing until ${retail.subscription.trialEndsAt!.toISOString().slice(0, 10)}; 3 stores`);
    expect(firstReport).toMatch(/Demo Clinic \(demo-clinic, id [0-9a-f-]{36}\): Basic plan, active, monthly, period ends \d{4}-\d\d-\d\d; 2 stores/);
    expect(firstReport).toContain(`curl -s -X POST ${t.config.http.publicUrl}/api/v1/auth/login -H 'content-type: application/json' -d '{"email":"sam@demo.example"`);
  });

  it('signs in through POST /api/v1/auth/login with the printed password; Sam sees both tenants and acts as admin in the clinic', async () => {
    const password = /^ {2}sam@demo\.example +(\S+)/m.exec(firstReport)![1]!;
    expect(password).toBe(DEMO_PASSWORD);
    const clinic = first.tenants.find((tenant) => tenant.slug === 'demo-clinic')!;
    const response = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: SAM.email, password, tenantId: clinic.id }, remoteAddress: clientIp() });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.tenant).toMatchObject({ id: clinic.id, slug: 'demo-clinic' });
    expect(body.memberships.map((m: { role: string }) => m.role).sort()).toEqual(['admin', 'member']);

    // In the retail tenant the custom role adds what a plain member lacks.
    const retail = first.tenants.find((tenant) => tenant.slug === 'demo-retail')!;
    const inRetail = (await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: SAM.email, password, tenantId: retail.id }, remoteAddress: clientIp() })).json();
    const permissions = await t.app.inject({ method: 'GET', url: '/api/v1/users/me/permissions', headers: bearer(inRetail.accessToken) });
    expect(permissions.json().permissions).toEqual(expect.arrayContaining(['audit.view', 'audit.export', 'billing.view']));

    const admin = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: DEMO_ADMIN.email, password }, remoteAddress: clientIp() });
    expect(admin.statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/admin/tenants', headers: bearer(admin.json().accessToken) })).statusCode).toBe(200);
  });

  it('a second run changes nothing and prints the same sign-in details', async () => {
    const before = await rowCounts();
    const second = await seed();
    expect(Object.values(second.created).every((count) => count === 0)).toBe(true);
    expect(await rowCounts()).toEqual(before);
    const secondReport = report(second);
    expect(secondReport.split('\n')[0]).toBe('Demo data already present; nothing changed.');
    expect(details(secondReport)).toBe(details(firstReport));
  });

  it('adds only what is missing, and makes the demo admin a platform admin beside another one', async () => {
    // Another administrator exists (the deployment's own); the demo's was removed.
    await createPerson(t.app, { platformRole: 'platform_admin' });
    await t.admin.query(`DELETE FROM users WHERE email = $1`, [DEMO_ADMIN.email]);
    const before = await rowCounts();
    const again = await seed();
    expect(again.created).toEqual({ people: 1, tenants: 0, stores: 0, memberships: 0, storeMembers: 0, roles: 0, roleAssignments: 0 });
    expect(await rowCounts()).toEqual({ ...before, users: before.users! + 1 });
    expect(await rows(`SELECT email FROM users WHERE platform_role = 'platform_admin' AND email = '${DEMO_ADMIN.email}'`)).toHaveLength(1);
    expect(Number((await rows<{ n: string }>(`SELECT count(*) AS n FROM users WHERE platform_role = 'platform_admin'`))[0]!.n)).toBe(2);
    expect(details(report(again))).toBe(details(firstReport));
  });

  it('refuses to take over a tenant of someone else that holds a demo slug, changing nothing', async () => {
    const demoClinic = first.tenants.find((tenant) => tenant.slug === 'demo-clinic')!;
    const stranger = await createTenantFor(t.app, await createPerson(t.app));
    await t.admin.query(`UPDATE tenants SET slug = 'demo-clinic-moved' WHERE id = $1`, [demoClinic.id]);
    await t.admin.query(`UPDATE tenants SET slug = 'demo-clinic' WHERE id = $1`, [stranger.id]);
    try {
      const before = await rowCounts();
      await expect(seed()).rejects.toMatchObject({ code: 'tenant.slug_taken' });
      expect(await rowCounts()).toEqual(before);
    } finally {
      await t.admin.query(`DELETE FROM tenants WHERE id = $1`, [stranger.id]);
      await t.admin.query(`UPDATE tenants SET slug = 'demo-clinic' WHERE id = $1`, [demoClinic.id]);
    }
  });
});
