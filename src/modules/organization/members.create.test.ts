/**
 * POST /api/v1/users: creating a new person directly in the current tenant, end to end through a real
 * SMTP server — the mailed link to choose a password (identity's reset flow) or to verify the address —
 * and every refusal: an address with an account (invite them instead), owner as role, stores that are not
 * this tenant's, weak passwords, no users.manage. Idempotency-Key replays the creation.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { addMembership, bearer, createPerson, createTenantFor, signInAs } from '../../../test/auth.js';
import { linkToken, problemOf, uniqueEmail, useAccountTestApp } from '../../../test/account-flows.js';

const { context, post, login, mailTo } = useAccountTestApp();

const createMember = (token: string, payload: unknown, headers: Record<string, string> = {}) =>
  context.t.app.inject({ method: 'POST', url: '/api/v1/users', headers: { ...bearer(token), ...headers }, payload: payload as object });

async function tenantWithOwner() {
  const owner = await createPerson(context.t.app, { name: 'Olive Owner' });
  const tenant = await createTenantFor(context.t.app, owner, { name: 'Corner Shop' });
  const session = await signInAs(context.t.app, owner, tenant.id);
  return { owner, tenant, token: session.accessToken };
}

async function createStore(tenantId: string, options: { deleted?: boolean } = {}): Promise<string> {
  const id = randomUUID();
  await context.t.admin.query(`INSERT INTO stores (tenant_id, id, name, code, deleted_at) VALUES ($1, $2, 'Store', $3, $4)`, [
    tenantId,
    id,
    `S${id.slice(0, 8)}`,
    options.deleted ? new Date() : null,
  ]);
  return id;
}

const usersWithEmail = (email: string) => context.t.admin.query<{ id: string }>('SELECT id FROM users WHERE lower(email) = lower($1)', [email]);

describe('POST /users', () => {
  it('creates the person, membership and store assignments in one go; they choose a password through the mailed link', async () => {
    const { owner, tenant, token } = await tenantWithOwner();
    const [storeA, storeB] = [await createStore(tenant.id), await createStore(tenant.id)];
    const email = uniqueEmail('new-member');

    const response = await createMember(token, { email, name: ' Nia Newcomer ', role: 'admin', storeIds: [storeA, storeB, storeA] });
    expect(response.statusCode).toBe(201);
    const member = response.json();
    expect(member).toEqual({
      id: expect.any(String),
      email,
      name: 'Nia Newcomer',
      role: 'admin',
      status: 'active',
      title: null,
      createdAt: expect.stringMatching(/Z$/),
      storeIds: [storeA, storeB].sort(),
    });
    expect(response.headers.location).toBe(`/api/v1/users/${member.id}`);

    const [user] = await context.t.admin.query<{ password_hash: string | null; email_verified_at: Date | null }>('SELECT * FROM users WHERE id = $1', [member.id]);
    expect(user).toMatchObject({ password_hash: null, email_verified_at: null });
    expect(await context.t.admin.query(`SELECT action, actor_id FROM audit_events WHERE tenant_id = $1 AND target_id = $2`, [tenant.id, member.id])).toEqual([
      { action: 'member.created', actor_id: owner.id },
    ]);
    const [event] = await context.t.admin.query<{ type: string; payload: Record<string, unknown> }>(`SELECT type, payload FROM outbox_events WHERE tenant_id = $1 AND payload->>'userId' = $2`, [
      tenant.id,
      member.id,
    ]);
    expect(event).toEqual({ type: 'member.created', payload: expect.objectContaining({ tenantId: tenant.id, userId: member.id, role: 'admin', createdBy: owner.id }) });

    // The mail names who added them where, and links to identity's reset flow.
    const mail = await mailTo(email, 'Olive Owner added you to Corner Shop');
    expect(mail.text).toContain('as an administrator');
    const resetToken = linkToken(mail, 'reset-password');
    expect((await post('/reset-password', { token: resetToken, password: 'Chosen-by-nia-2931' })).statusCode).toBe(204);

    const signedIn = await login(email, 'Chosen-by-nia-2931');
    expect(signedIn.statusCode).toBe(200);
    expect(signedIn.json()).toMatchObject({ tenant: { id: tenant.id }, memberships: [{ tenantId: tenant.id, role: 'admin' }] });
    // The link went to the address: using it proved the address.
    expect((await context.t.admin.query<{ email_verified_at: Date | null }>('SELECT email_verified_at FROM users WHERE id = $1', [member.id]))[0]!.email_verified_at).not.toBeNull();
  });

  it('with a password: the person signs in with it and is mailed a link to verify the address', async () => {
    const { tenant, token } = await tenantWithOwner();
    const email = uniqueEmail('with-password');
    const response = await createMember(token, { email, name: 'Pat Password', password: 'Handed-over-4471-x' });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ role: 'member', storeIds: [] });

    const signedIn = await login(email, 'Handed-over-4471-x');
    expect(signedIn.statusCode).toBe(200);
    expect(signedIn.json().tenant.id).toBe(tenant.id);
    const mail = await mailTo(email, 'Olive Owner added you to Corner Shop');
    expect((await post('/verify-email', { token: linkToken(mail, 'verify-email') })).statusCode).toBe(204);
  });

  it('an address that already has an account (any capitalisation) is 409, suggesting an invitation; nothing is attached', async () => {
    const { tenant, token } = await tenantWithOwner();
    const existing = await createPerson(context.t.app, { email: uniqueEmail('existing') });
    const response = await createMember(token, { email: existing.email.toUpperCase(), name: 'Someone Else' });
    expect(response.statusCode).toBe(409);
    const problem = problemOf(response);
    expect(problem.code).toBe('member.email_has_account');
    expect(response.json().detail).toMatch(/invit/i);
    expect(await context.t.admin.query('SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id = $2', [tenant.id, existing.id])).toEqual([]);
  });

  it.each([
    ['owner as role', { role: 'owner' }, '/role', 'request.validation_failed'],
    ['a weak password', { password: 'password' }, '/password', 'auth.weak_password'],
    ['a blank name', { name: '   ' }, '/name', 'request.validation_failed'],
    ['an unknown field', { tenantId: randomUUID() }, '', 'request.validation_failed'],
    ['a malformed store id', { storeIds: ['nope'] }, '/storeIds/0', 'request.validation_failed'],
  ])('refuses %s with 400; nobody is created', async (_label, extra, field, code) => {
    const { token } = await tenantWithOwner();
    const email = uniqueEmail('refused');
    const response = await createMember(token, { email, name: 'Refused Person', ...extra });
    expect(response.statusCode).toBe(400);
    const problem = problemOf(response);
    expect(problem.code).toBe(code);
    if (field) expect(problem.errors?.map((error) => error.field)).toContain(field);
    expect(await usersWithEmail(email)).toEqual([]);
  });

  it('store ids must be live stores of this tenant: another tenant’s store or a deleted one is 400 naming the entry', async () => {
    const { tenant, token } = await tenantWithOwner();
    const { tenant: other } = await tenantWithOwner();
    const live = await createStore(tenant.id);
    const deleted = await createStore(tenant.id, { deleted: true });
    const foreign = await createStore(other.id);
    const email = uniqueEmail('stores');
    const response = await createMember(token, { email, name: 'Store Person', storeIds: [live, foreign, deleted] });
    expect(response.statusCode).toBe(400);
    const problem = problemOf(response);
    expect(problem.code).toBe('request.validation_failed');
    expect(problem.errors?.map((error) => error.field)).toEqual(['/storeIds/1', '/storeIds/2']);
    expect(await usersWithEmail(email)).toEqual([]);
    expect(await context.t.admin.query('SELECT 1 FROM store_members WHERE store_id = $1', [foreign])).toEqual([]);
  });

  it('honours Idempotency-Key: a retry replays the creation instead of repeating it', async () => {
    const { tenant, token } = await tenantWithOwner();
    const email = uniqueEmail('idempotent');
    const headers = { 'idempotency-key': `create-${randomUUID()}` };
    const first = await createMember(token, { email, name: 'Ida Idempotent' }, headers);
    expect(first.statusCode).toBe(201);
    const retry = await createMember(token, { email, name: 'Ida Idempotent' }, headers);
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.json()).toEqual(first.json());
    expect(await usersWithEmail(email)).toHaveLength(1);
    expect(await context.t.admin.query(`SELECT 1 FROM audit_events WHERE tenant_id = $1 AND action = 'member.created'`, [tenant.id])).toHaveLength(1);
    // Without the key, the same request is a new attempt: the address is taken now.
    expect((await createMember(token, { email, name: 'Ida Idempotent' })).statusCode).toBe(409);
  });

  it('a member without users.manage is refused (403) and nobody is created', async () => {
    const { tenant } = await tenantWithOwner();
    const member = await createPerson(context.t.app);
    await addMembership(context.t.app, tenant.id, member, 'member');
    const session = await signInAs(context.t.app, member, tenant.id);
    const email = uniqueEmail('forbidden');
    const response = await createMember(session.accessToken, { email, name: 'Nope' });
    expect(response.statusCode).toBe(403);
    expect(problemOf(response).code).toBe('auth.forbidden');
    expect(await usersWithEmail(email)).toEqual([]);
  });
});
