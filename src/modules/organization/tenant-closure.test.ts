/**
 * Closing a tenant (DELETE /tenants/current): confirmation and password, every member losing access at
 * once, the audit row, event and scheduled purge in the closing transaction; restoring it within the
 * window (restoreTenant); and the purge — directly and through the pg-boss worker — removing every row
 * of the tenant and nothing of any other tenant.
 */
import { randomBytes } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createPerson, createTenantFor, signedInMember, signedInOwner, TEST_PASSWORD } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { baseCases, securityMatrix, sessionCases, tenantCases, tenantDigest } from '../../../test/security-matrix.js';
import { loadConfig } from '../../config.js';
import { uuidv7 } from '../../core/db/ids.js';
import type { MembershipRole } from '../../core/tenancy/tenancy.table.js';
import { purgeClosedTenant, restoreTenant, startOrganizationWorkers, TENANT_PURGE_QUEUE } from './tenant-closure.js';

const CURRENT = '/api/v1/tenants/current';
const DAY_MS = 24 * 60 * 60 * 1000;

let t: TestApp;
let victimTenantId: string;

beforeAll(async () => {
  t = await createTestApp({ AUTH_MAX_FAILED_ATTEMPTS_PER_IP: '100000' });
  victimTenantId = (await createTenantFor(t.app, await createPerson(t.app))).id;
});
afterAll(() => t?.close());

const randomIp = () => `10.${[...randomBytes(3)].join('.')}`;
const call = (method: InjectOptions['method'], url: string, token: string, payload?: unknown) =>
  t.app.inject({ method, url, remoteAddress: randomIp(), headers: bearer(token), payload: payload as InjectOptions['payload'] });
const close = (token: string, confirm: string, password = TEST_PASSWORD) => call('DELETE', CURRENT, token, { password, confirm });

const owner = () => signedInOwner(t.app);

const memberOf = (tenantId: string, role: MembershipRole = 'member') => signedInMember(t.app, tenantId, role);

type Row = Record<string, unknown>;
const tenantRow = async (id: string) => (await t.admin.query<Row>('SELECT *, xmin::text AS xid FROM tenants WHERE id = $1', [id]))[0];
const auditRows = (tenantId: string, action: string) => t.admin.query<Row>('SELECT *, xmin::text AS xid FROM audit_events WHERE tenant_id = $1 AND action = $2 ORDER BY id', [tenantId, action]);
const eventRows = (tenantId: string, type: string) => t.admin.query<Row>('SELECT *, xmin::text AS xid FROM outbox_events WHERE tenant_id = $1 AND type = $2 ORDER BY id', [tenantId, type]);
const purgeJobs = (tenantId: string) =>
  t.admin.query<{ id: string; state: string; start_after: Date; xid: string }>(
    `SELECT id, state, start_after, xmin::text AS xid FROM pgboss.job WHERE name = $1 AND data->>'tenantId' = $2 ORDER BY created_on`,
    [TENANT_PURGE_QUEUE, tenantId],
  );
/** Moves the closure `days` into the past, as if the tenant had been closed then. */
const closedDaysAgo = (tenantId: string, days: number) =>
  t.admin.query(`UPDATE tenants SET closed_at = now() - make_interval(days => $2) WHERE id = $1`, [tenantId, days]);
const restoreDeps = () => ({ config: t.config, platform: t.platform });

describe('DELETE /tenants/current', () => {
  it('closes the tenant (202) with the audit row, the tenant.closed event and the purge job in the same transaction', async () => {
    const { person, tenant, token } = await owner();
    const before = Date.now();
    const response = await close(token, tenant.slug);
    expect(response.statusCode).toBe(202);
    const body = response.json();
    expect(Object.keys(body).sort()).toEqual(['closedAt', 'id', 'restorableUntil', 'status']);
    expect(body).toMatchObject({ id: tenant.id, status: 'closed' });
    const closedAt = new Date(body.closedAt).getTime();
    expect(closedAt).toBeGreaterThanOrEqual(before - 5000);
    expect(new Date(body.restorableUntil).getTime() - closedAt).toBe(30 * DAY_MS);

    const row = (await tenantRow(tenant.id))!;
    expect(row.status).toBe('closed');
    expect((row.closed_at as Date).toISOString()).toBe(body.closedAt);
    const [auditRow] = await auditRows(tenant.id, 'tenant.closed');
    expect(auditRow).toMatchObject({ actor_type: 'user', actor_id: person.id, target_id: tenant.id, before: { status: 'active' }, after: { status: 'closed', closedAt: body.closedAt, restorableUntil: body.restorableUntil } });
    const [event] = await eventRows(tenant.id, 'tenant.closed');
    expect(event!.payload).toEqual({ tenantId: tenant.id, slug: tenant.slug, closedBy: person.id, reason: 'owner_request', closedAt: body.closedAt, restorableUntil: body.restorableUntil });
    const [job] = await purgeJobs(tenant.id);
    expect(job).toMatchObject({ state: 'created' });
    expect(job!.start_after.toISOString()).toBe(body.restorableUntil);
    for (const written of [auditRow!.xid, event!.xid, job!.xid]) expect(written).toBe(row.xid);
  });

  it('cuts every member off at once, the closer included, while their own routes keep working', async () => {
    const { tenant, token } = await owner();
    const admin = await memberOf(tenant.id, 'admin');
    const member = await memberOf(tenant.id, 'member');
    for (const caller of [token, admin.token, member.token]) expect((await call('GET', CURRENT, caller)).statusCode).toBe(200);

    expect((await close(token, tenant.slug)).statusCode).toBe(202);
    for (const caller of [token, admin.token, member.token]) {
      const response = await call('GET', CURRENT, caller);
      expect(response.statusCode).toBe(403);
      expect(response.json().code).toBe('auth.tenant_access_revoked');
    }
    expect((await call('GET', '/api/v1/auth/sessions', member.token)).statusCode).toBe(200);
    // Closing twice is impossible: the closed tenant refuses the owner too.
    expect((await close(token, tenant.slug)).json().code).toBe('auth.tenant_access_revoked');
  });

  it('refuses a confirmation that is not the slug (400 tenant.confirmation_mismatch) without spending a password check', async () => {
    const { tenant, token } = await owner();
    const before = await tenantDigest(t.admin, tenant.id);
    for (const confirm of [tenant.slug.toUpperCase(), `${tenant.slug} `, tenant.name, 'x']) {
      // A wrong password too: the confirmation is checked first, so it is what the answer is about.
      const response = await close(token, confirm, 'Wrong-password-99');
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ code: 'tenant.confirmation_mismatch', errors: [{ field: '/confirm' }] });
    }
    expect(await tenantDigest(t.admin, tenant.id)).toEqual(before);
    expect(await purgeJobs(tenant.id)).toHaveLength(0);
  });

  it('refuses a wrong password with 401 auth.invalid_credentials, changing nothing', async () => {
    const { tenant, token } = await owner();
    const before = await tenantDigest(t.admin, tenant.id);
    const response = await close(token, tenant.slug, 'Wrong-password-99');
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('auth.invalid_credentials');
    expect(await tenantDigest(t.admin, tenant.id)).toEqual(before);
    expect(await purgeJobs(tenant.id)).toHaveLength(0);
    expect((await call('GET', CURRENT, token)).statusCode).toBe(200);
  });

  it('refuses a missing body or missing fields', async () => {
    const { token } = await owner();
    expect((await call('DELETE', CURRENT, token)).statusCode).toBe(400);
    const missing = await call('DELETE', CURRENT, token, { password: TEST_PASSWORD });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors[0].field).toBe('/confirm');
  });

  it('keeps a closed tenant’s slug taken until it is purged', async () => {
    const closed = await owner();
    await close(closed.token, closed.tenant.slug);
    const other = await owner();
    const response = await call('PATCH', CURRENT, other.token, { slug: closed.tenant.slug });
    expect(response.statusCode).toBe(409);
    expect(response.json().code).toBe('tenant.slug_taken');
  });
});

describe('restoreTenant', () => {
  it('reopens a closed tenant within the window: members are back at once; audit row and event name the administrator', async () => {
    const { tenant, token } = await owner();
    const member = await memberOf(tenant.id);
    await close(token, tenant.slug);
    const admin = await createPerson(t.app, { platformRole: 'platform_admin' });
    await closedDaysAgo(tenant.id, 29);

    const restored = await restoreTenant(restoreDeps(), tenant.id, { type: 'platform_admin', id: admin.id }, { ip: '192.0.2.7', requestId: 'req-restore' });
    expect(restored).toMatchObject({ id: tenant.id, status: 'active', slug: tenant.slug });
    const row = (await tenantRow(tenant.id))!;
    expect(row).toMatchObject({ status: 'active', closed_at: null });
    const [auditRow] = await auditRows(tenant.id, 'tenant.restored');
    expect(auditRow).toMatchObject({ actor_type: 'platform_admin', actor_id: admin.id, ip: '192.0.2.7', request_id: 'req-restore', after: { status: 'active' } });
    const [event] = await eventRows(tenant.id, 'tenant.restored');
    expect(event!.payload).toMatchObject({ tenantId: tenant.id });
    expect(auditRow!.xid).toBe(row.xid);
    expect(event!.xid).toBe(row.xid);

    for (const caller of [token, member.token]) expect((await call('GET', CURRENT, caller)).statusCode).toBe(200);
  });

  it('answers 409 tenant.not_closed for an active tenant, 404 for an unknown one', async () => {
    const { tenant } = await owner();
    await expect(restoreTenant(restoreDeps(), tenant.id)).rejects.toMatchObject({ code: 'tenant.not_closed', status: 409 });
    await expect(restoreTenant(restoreDeps(), uuidv7())).rejects.toMatchObject({ code: 'tenant.not_found', status: 404 });
  });

  it('answers 409 tenant.restore_window_expired once the window is over, leaving the tenant closed', async () => {
    const { tenant, token } = await owner();
    await close(token, tenant.slug);
    await closedDaysAgo(tenant.id, 31);
    await expect(restoreTenant(restoreDeps(), tenant.id)).rejects.toMatchObject({ code: 'tenant.restore_window_expired', status: 409 });
    expect((await tenantRow(tenant.id))!.status).toBe('closed');
    // The window is TENANT_RESTORE_DAYS: with 40 days, the same tenant is still restorable.
    const longer = { ...restoreDeps(), config: { ...t.config, tenants: { restoreDays: 40 } } };
    expect((await restoreTenant(longer, tenant.id)).status).toBe('active');
  });
});

describe('TENANT_RESTORE_DAYS', () => {
  it('defaults to 30 days and accepts 1 to 3650', () => {
    expect(loadConfig({}).tenants.restoreDays).toBe(30);
    expect(loadConfig({ TENANT_RESTORE_DAYS: '7' }).tenants.restoreDays).toBe(7);
    expect(() => loadConfig({ TENANT_RESTORE_DAYS: '0' })).toThrow(/TENANT_RESTORE_DAYS/);
    expect(() => loadConfig({ TENANT_RESTORE_DAYS: 'forever' })).toThrow(/TENANT_RESTORE_DAYS/);
  });
});

/** Tables that hold rows of a tenant (found in the catalog, so tables added later are covered). */
async function rowsOfTenant(tenantId: string): Promise<Record<string, number>> {
  const tables = await t.admin.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY table_name`,
  );
  const counts: Record<string, number> = {};
  for (const { table_name } of tables) {
    const [row] = await t.admin.query<{ n: string }>(`SELECT count(*)::text AS n FROM public.${table_name} WHERE tenant_id = $1`, [tenantId]);
    counts[table_name] = Number(row!.n);
  }
  counts.tenants = (await t.admin.query('SELECT 1 FROM tenants WHERE id = $1', [tenantId])).length;
  return counts;
}

/** A closed tenant with rows in its tables: members (one also elsewhere), a store and an assignment, an invitation, audit and events. */
async function populatedClosedTenant() {
  const { person, tenant, token } = await owner();
  const member = await memberOf(tenant.id, 'member');
  const elsewhere = await createTenantFor(t.app, member.person);
  const storeId = uuidv7();
  await t.admin.query('INSERT INTO stores (tenant_id, id, name, code) VALUES ($1, $2, $3, $4)', [tenant.id, storeId, 'Main', 'MAIN']);
  await t.admin.query('INSERT INTO store_members (tenant_id, store_id, user_id) VALUES ($1, $2, $3)', [tenant.id, storeId, member.person.id]);
  await t.admin.query(`INSERT INTO invitations (tenant_id, id, email, token_hash, expires_at) VALUES ($1, $2, 'guest@example.test', $3, now() + interval '7 days')`, [
    tenant.id,
    uuidv7(),
    randomBytes(32).toString('hex'),
  ]);
  await call('PATCH', CURRENT, token, { name: 'About to go' });
  expect((await close(token, tenant.slug)).statusCode).toBe(202);
  return { person, tenant, member, elsewhere };
}

describe('purgeClosedTenant', () => {
  it('deletes every row of a tenant closed longer than the window, and nothing of any other tenant or person', async () => {
    const { person, tenant, member, elsewhere } = await populatedClosedTenant();
    const before = await rowsOfTenant(tenant.id);
    for (const table of ['memberships', 'stores', 'store_members', 'invitations', 'audit_events', 'outbox_events', 'tenants']) expect(before[table], table).toBeGreaterThan(0);
    const victim = await tenantDigest(t.admin, victimTenantId);
    const elsewhereDigest = await tenantDigest(t.admin, elsewhere.id);
    await closedDaysAgo(tenant.id, 31);

    expect(await purgeClosedTenant(t.platform, tenant.id)).toEqual({ kind: 'purged' });
    expect(Object.values(await rowsOfTenant(tenant.id)).every((count) => count === 0)).toBe(true);
    expect(await tenantDigest(t.admin, victimTenantId)).toEqual(victim);
    expect(await tenantDigest(t.admin, elsewhere.id)).toEqual(elsewhereDigest);
    // People stay (with their other memberships); references from global tables are cleared.
    const people = await t.admin.query<{ id: string; last_tenant_id: string | null }>('SELECT id, last_tenant_id FROM users WHERE id = ANY($1)', [[person.id, member.person.id]]);
    expect(people).toHaveLength(2);
    expect(people.every((row) => row.last_tenant_id !== tenant.id)).toBe(true);
    expect(await t.admin.query('SELECT 1 FROM sessions WHERE active_tenant_id = $1', [tenant.id])).toHaveLength(0);
    expect(await restoreTenant(restoreDeps(), tenant.id).catch((error: { code: string }) => error.code)).toBe('tenant.not_found');
  });

  it('leaves alone a tenant still within its window, an active tenant, and a missing one', async () => {
    const { tenant, token } = await owner();
    await close(token, tenant.slug);
    await closedDaysAgo(tenant.id, 29);
    const outcome = await purgeClosedTenant(t.platform, tenant.id);
    expect(outcome.kind).toBe('not_due');
    expect(await tenantRow(tenant.id)).toBeDefined();

    const active = await owner();
    const digest = await tenantDigest(t.admin, active.tenant.id);
    expect(await purgeClosedTenant(t.platform, active.tenant.id)).toEqual({ kind: 'not_closed' });
    expect(await tenantDigest(t.admin, active.tenant.id)).toEqual(digest);
    expect(await purgeClosedTenant(t.platform, uuidv7())).toEqual({ kind: 'missing' });
  });
});

describe('the purge job', () => {
  beforeAll(async () => {
    await startOrganizationWorkers(t.platform);
  });

  /** Makes the tenant's scheduled purge jobs due now. */
  const makeDue = (tenantId: string) =>
    t.admin.query(`UPDATE pgboss.job SET start_after = now() WHERE name = $1 AND data->>'tenantId' = $2 AND state = 'created'`, [TENANT_PURGE_QUEUE, tenantId]);

  async function waitFor<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (done(value) || Date.now() > deadline) return value;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  it('purges a tenant once its window is over, through the job scheduled at closing', async () => {
    const { tenant } = await populatedClosedTenant();
    const victim = await tenantDigest(t.admin, victimTenantId);
    await closedDaysAgo(tenant.id, 31);
    await makeDue(tenant.id);
    const counts = await waitFor(() => rowsOfTenant(tenant.id), (value) => value.tenants === 0);
    expect(Object.values(counts).every((count) => count === 0)).toBe(true);
    expect(await tenantDigest(t.admin, victimTenantId)).toEqual(victim);
    const [job] = await waitFor(() => purgeJobs(tenant.id), (jobs) => jobs[0]?.state === 'completed');
    expect(job!.state).toBe('completed');
  });

  it('leaves a restored tenant alone, and reschedules one whose window was lengthened', async () => {
    const restored = await owner();
    await close(restored.token, restored.tenant.slug);
    await restoreTenant(restoreDeps(), restored.tenant.id);
    await makeDue(restored.tenant.id);
    const [done] = await waitFor(() => purgeJobs(restored.tenant.id), (jobs) => jobs[0]?.state === 'completed');
    expect(done!.state).toBe('completed');
    expect((await tenantRow(restored.tenant.id))!.status).toBe('active');

    // Closed two days ago, but its job comes due now (as if the window had been 1 day when it closed).
    const lengthened = await owner();
    await close(lengthened.token, lengthened.tenant.slug);
    await closedDaysAgo(lengthened.tenant.id, 2);
    await makeDue(lengthened.tenant.id);
    // The handler enqueues the rescheduled job before its own job is marked completed: wait for both.
    const jobs = await waitFor(() => purgeJobs(lengthened.tenant.id), (value) => value.length === 2 && value[0]!.state === 'completed');
    expect(jobs.map((job) => job.state)).toEqual(['completed', 'created']);
    const due = (await tenantRow(lengthened.tenant.id))!.closed_at as Date;
    expect(jobs[1]!.start_after.getTime()).toBe(due.getTime() + 30 * DAY_MS);
    expect((await tenantRow(lengthened.tenant.id))!.status).toBe('closed');
  });
});

describe('security matrix', () => {
  const getApp = () => t.app;
  securityMatrix(() => ({ app: t.app, admin: t.admin, victimTenantId }), { method: 'DELETE', url: CURRENT, payload: { password: TEST_PASSWORD, confirm: 'anything' } }, [
    ...baseCases,
    ...sessionCases(getApp),
    ...tenantCases(getApp, { lacking: 'admin' }),
    ...tenantCases(getApp, { lacking: 'member' }).slice(0, 1),
  ]);
});
