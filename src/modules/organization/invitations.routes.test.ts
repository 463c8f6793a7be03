/**
 * The tenant's side of invitations: POST /users/invite (the mail through a real SMTP server, the token's
 * shape and storage, the rules on members, stores, domains and roles, replacement, Idempotency-Key, the
 * per-member limit), GET /invitations (status filter, pagination, tenant isolation), resend and revoke,
 * and the route-security matrix of all four. Acceptance is in accept-invite.routes.test.ts.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { baseCases, otherTenantCase, securityMatrix, sessionCases, tenantCases } from '../../../test/security-matrix.js';
import { INVITATIONS_URL, INVITE_URL, inviteToken, NEW_PASSWORD, problemOf, PUBLIC_URL, uniqueEmail, useInvitationTestApp, type InvitationView } from '../../../test/invitation-flows.js';
import { INVITATION_MAILS_PER_ACTOR_PER_HOUR } from './invitations.routes.js';
import { INVITATION_TTL_MS } from './invitations.service.js';

const kit = useInvitationTestApp();
const { request, owner, member, createStore, invite, invited, accept, invitationMail, invitationMails, expire, setTenant } = kit;
const admin = () => kit.context.t.admin;

type Page = { data: InvitationView[]; nextCursor: string | null };

describe('POST /users/invite', () => {
  it('creates a pending invitation, stores only the hash of the token, and mails the link with the message escaped', async () => {
    const { person, tenant, token } = await owner({ name: 'Olga <Owner>' });
    const [storeA, storeB] = [await createStore(tenant.id), await createStore(tenant.id)];
    const email = uniqueEmail();
    const message = 'Welcome <b>aboard</b> & "enjoy"\nSee you Monday.';
    const before = Date.now();

    const response = await invite(token, { email, role: 'admin', storeIds: [storeA, storeB, storeA], message });
    expect(response.statusCode).toBe(201);
    const invitation = response.json<InvitationView>();
    expect(invitation).toEqual({
      id: expect.any(String),
      email,
      role: 'admin',
      roleIds: [],
      storeIds: [storeA, storeB],
      message,
      status: 'pending',
      expiresAt: expect.any(String),
      createdAt: expect.any(String),
      invitedBy: person.id,
      acceptedAt: null,
      revokedAt: null,
    });
    const expiresIn = Date.parse(invitation.expiresAt) - before;
    expect(expiresIn).toBeGreaterThanOrEqual(INVITATION_TTL_MS - 1000);
    expect(expiresIn).toBeLessThanOrEqual(INVITATION_TTL_MS + 60_000);

    const mail = await invitationMail(email);
    expect(mail.subject).toBe(`Olga <Owner> invited you to join ${tenant.name}`);
    const text = mail.text!.replace(/\r\n/g, '\n');
    expect(text).toContain(`Olga <Owner> invited you to join ${tenant.name} as an administrator.`);
    expect(text).toContain(message);
    expect(mail.html).toContain('Olga &lt;Owner&gt;');
    expect(mail.html).toContain('Welcome &lt;b&gt;aboard&lt;/b&gt; &amp; &quot;enjoy&quot;');
    expect(mail.html).not.toContain('<b>aboard</b>');
    const emailed = inviteToken(mail);
    expect(mail.text).toContain(`${PUBLIC_URL}/auth/accept-invite?token=`);

    // `<tenantId>.<256-bit base64url secret>`; only sha256(secret) is stored.
    const [tenantPart, secret] = emailed.split('.');
    expect(tenantPart).toBe(tenant.id);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [row] = await admin().query<{ token_hash: string; store_ids: string[] }>('SELECT token_hash, store_ids FROM invitations WHERE id = $1', [invitation.id]);
    expect(row!.token_hash).toBe(createHash('sha256').update(secret!).digest('hex'));
    const dump = JSON.stringify(await admin().query('SELECT * FROM invitations WHERE tenant_id = $1', [tenant.id]));
    expect(dump).not.toContain(secret);
  });

  it('writes the invitation, its audit row and its event in one transaction', async () => {
    const { person, tenant, token } = await owner();
    const email = uniqueEmail();
    const invitation = await invited(token, { email });
    const [row] = await admin().query<{ xmin: string }>('SELECT xmin::text FROM invitations WHERE id = $1', [invitation.id]);
    const audits = await admin().query<{ xmin: string; actor_id: string; after: { email: string; role: string } }>(
      `SELECT xmin::text, actor_id, after FROM audit_events WHERE tenant_id = $1 AND action = 'member.invited' AND target_id = $2`,
      [tenant.id, invitation.id],
    );
    const events = await admin().query<{ xmin: string; payload: { invitationId: string; email: string; role: string } }>(
      `SELECT xmin::text, payload FROM outbox_events WHERE tenant_id = $1 AND type = 'member.invited'`,
      [tenant.id],
    );
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ xmin: row!.xmin, actor_id: person.id, after: { email, role: 'member' } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ xmin: row!.xmin, payload: { invitationId: invitation.id, email, role: 'member' } });
    // The mail text has no message block when none was given.
    expect((await invitationMail(email)).text).not.toContain('Their message');
  });

  it('refuses stores that are not live stores of this tenant, naming each', async () => {
    const { tenant, token } = await owner();
    const other = await owner();
    const live = await createStore(tenant.id);
    const deleted = await createStore(tenant.id, { deleted: true });
    const foreign = await createStore(other.tenant.id);
    const response = await invite(token, { email: uniqueEmail(), storeIds: [live, foreign, deleted] });
    expect(response.statusCode).toBe(400);
    const problem = problemOf(response);
    expect(problem.code).toBe('request.validation_failed');
    expect(problem.errors!.map((error) => error.field)).toEqual(['/storeIds/1', '/storeIds/2']);
    expect(await admin().query('SELECT 1 FROM invitations WHERE tenant_id = $1', [tenant.id])).toHaveLength(0);
  });

  it('validates the body: email, role, message length, unknown fields, role ids that are not uuids', async () => {
    const { token } = await owner();
    const codeOf = async (body: Record<string, unknown>) => problemOf(await invite(token, body));
    expect((await codeOf({ email: 'not-an-email' })).code).toBe('request.validation_failed');
    expect((await codeOf({ email: uniqueEmail(), role: 'owner' })).code).toBe('request.validation_failed');
    expect((await codeOf({ email: uniqueEmail(), message: 'x'.repeat(1001) })).code).toBe('request.validation_failed');
    expect((await codeOf({ email: uniqueEmail(), tenantId: '0190a0a0-0000-7000-8000-000000000000' })).code).toBe('request.validation_failed');
    const roles = await codeOf({ email: uniqueEmail(), roleIds: ['cashier'] });
    expect(roles).toMatchObject({ status: 400, code: 'request.validation_failed' });
    expect(roles.errors!.map((error) => error.field)).toEqual(['/roleIds/0']);
    expect((await invite(token, { email: uniqueEmail(), roleIds: [], message: 'x'.repeat(1000) })).statusCode).toBe(201);
  });

  it('answers 409 for a person already in the tenant, active or deactivated, in any capitalisation', async () => {
    const { tenant, token } = await owner();
    const active = await member(tenant.id);
    const response = await invite(token, { email: active.person.email.toUpperCase() });
    expect(response.statusCode).toBe(409);
    expect(problemOf(response).code).toBe('invitation.already_member');

    const deactivated = await member(tenant.id);
    await admin().query(`UPDATE memberships SET status = 'deactivated' WHERE tenant_id = $1 AND user_id = $2`, [tenant.id, deactivated.person.id]);
    expect(problemOf(await invite(token, { email: deactivated.person.email })).code).toBe('invitation.already_member');
    expect(invitationMails(active.person.email)).toHaveLength(0);
  });

  it('replaces an open invitation for the same address: the old link stops working', async () => {
    const { tenant, token } = await owner();
    const email = uniqueEmail();
    const first = await invited(token, { email });
    const firstToken = inviteToken(await invitationMail(email, 1));
    const second = await invited(token, { email: email.toUpperCase(), role: 'admin' });
    const secondToken = inviteToken(await invitationMail(email.toUpperCase(), 2));
    expect(second.id).not.toBe(first.id);
    expect(secondToken).not.toBe(firstToken);

    const list = (await request('GET', INVITATIONS_URL, token)).json<Page>();
    expect(list.data.map((row) => [row.id, row.status])).toEqual([
      [second.id, 'pending'],
      [first.id, 'revoked'],
    ]);
    const audits = await admin().query<{ action: string }>(`SELECT action FROM audit_events WHERE tenant_id = $1 ORDER BY id`, [tenant.id]);
    expect(audits.map((row) => row.action)).toEqual(['member.invited', 'member.invitation_revoked', 'member.invited']);

    expect(problemOf(await accept({ token: firstToken, name: 'Ann', password: NEW_PASSWORD })).code).toBe('auth.invalid_token');
    const joined = await accept({ token: secondToken, name: 'Ann', password: NEW_PASSWORD });
    expect(joined.statusCode).toBe(200);
    expect(joined.json().memberships[0]).toMatchObject({ tenantId: tenant.id, role: 'admin' });
  });

  it('restricts the address to the tenant’s allowed email domains when set', async () => {
    const { tenant, token } = await owner();
    await setTenant(tenant.id, { allowedEmailDomains: ['allowed.example'] });
    const refused = await invite(token, { email: uniqueEmail() });
    expect(refused.statusCode).toBe(400);
    const problem = problemOf(refused);
    expect(problem.code).toBe('invitation.domain_not_allowed');
    expect(problem.errors!.map((error) => error.field)).toEqual(['/email']);
    // A subdomain is another domain.
    expect(problemOf(await invite(token, { email: 'ann@sub.allowed.example' })).code).toBe('invitation.domain_not_allowed');
    expect((await invite(token, { email: 'Ann@Allowed.Example' })).statusCode).toBe(201);
    // An empty list admits every domain.
    await setTenant(tenant.id, { allowedEmailDomains: [] });
    expect((await invite(token, { email: uniqueEmail() })).statusCode).toBe(201);
  });

  it('honours Idempotency-Key: a retry replays the answer and invites once', async () => {
    const { tenant, token } = await owner();
    const email = uniqueEmail();
    const headers = { 'idempotency-key': `invite-${email}` };
    const first = await invite(token, { email }, headers);
    const retry = await invite(token, { email }, headers);
    expect(first.statusCode).toBe(201);
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.json()).toEqual(first.json());
    expect(await admin().query('SELECT id FROM invitations WHERE tenant_id = $1', [tenant.id])).toHaveLength(1);
    expect(problemOf(await invite(token, { email: uniqueEmail() }, headers)).code).toBe('idempotency.key_reused');
    await invitationMail(email);
    const [{ count }] = (await admin().query<{ count: string }>(`SELECT count(*)::text AS count FROM audit_events WHERE tenant_id = $1 AND action = 'member.invited'`, [tenant.id])) as [{ count: string }];
    expect(count).toBe('1');
  });

  it(`limits invitation mails (invites and resends together) to ${INVITATION_MAILS_PER_ACTOR_PER_HOUR} per member per hour`, async () => {
    const { token } = await owner();
    const other = await owner();
    const first = await invited(token, { email: uniqueEmail('limit') });
    for (let sent = 1; sent < INVITATION_MAILS_PER_ACTOR_PER_HOUR - 1; sent++) {
      expect((await invite(token, { email: uniqueEmail('limit') })).statusCode).toBe(201);
    }
    expect((await request('POST', `${INVITATIONS_URL}/${first.id}/resend`, token)).statusCode).toBe(200);
    const limited = await invite(token, { email: uniqueEmail('limit') });
    expect(limited.statusCode).toBe(429);
    expect(problemOf(limited).code).toBe('rate_limit.exceeded');
    expect(limited.headers['retry-after']).toBeDefined();
    expect(problemOf(await request('POST', `${INVITATIONS_URL}/${first.id}/resend`, token)).code).toBe('rate_limit.exceeded');
    // Another member's budget is their own.
    expect((await invite(other.token, { email: uniqueEmail('limit') })).statusCode).toBe(201);
  });
});

describe('GET /invitations', () => {
  it('lists newest first, filters by status, pages with a cursor, and shows only this tenant’s invitations', async () => {
    const { tenant, token } = await owner();
    const other = await owner();
    await invited(other.token, { email: uniqueEmail() });

    const accepted = await invited(token, { email: uniqueEmail() });
    const revoked = await invited(token, { email: uniqueEmail() });
    const expired = await invited(token, { email: uniqueEmail() });
    const pending = await invited(token, { email: uniqueEmail() });
    expect((await accept({ token: inviteToken(await invitationMail(accepted.email)), name: 'Ann', password: NEW_PASSWORD })).statusCode).toBe(200);
    expect((await request('DELETE', `${INVITATIONS_URL}/${revoked.id}`, token)).statusCode).toBe(204);
    await expire(expired.id);

    const all = (await request('GET', INVITATIONS_URL, token)).json<Page>();
    expect(all.data.map((row) => [row.id, row.status])).toEqual([
      [pending.id, 'pending'],
      [expired.id, 'expired'],
      [revoked.id, 'revoked'],
      [accepted.id, 'accepted'],
    ]);
    expect(all.nextCursor).toBeNull();
    expect(all.data.find((row) => row.id === accepted.id)!.acceptedAt).not.toBeNull();
    expect(all.data.find((row) => row.id === revoked.id)!.revokedAt).not.toBeNull();

    for (const [status, id] of [
      ['pending', pending.id],
      ['expired', expired.id],
      ['revoked', revoked.id],
      ['accepted', accepted.id],
    ] as const) {
      const page = (await request('GET', `${INVITATIONS_URL}?status=${status}`, token)).json<Page>();
      expect(page.data.map((row) => row.id), status).toEqual([id]);
    }

    const first = (await request('GET', `${INVITATIONS_URL}?limit=3`, token)).json<Page>();
    expect(first.data.map((row) => row.id)).toEqual([pending.id, expired.id, revoked.id]);
    const second = (await request('GET', `${INVITATIONS_URL}?limit=3&cursor=${first.nextCursor}`, token)).json<Page>();
    expect(second).toEqual({ data: [expect.objectContaining({ id: accepted.id })], nextCursor: null });

    const badCursor = await request('GET', `${INVITATIONS_URL}?cursor=not-a-cursor`, token);
    expect(badCursor.statusCode).toBe(400);
    expect(problemOf(badCursor).errors!.map((error) => error.field)).toEqual(['/cursor']);
    expect((await request('GET', `${INVITATIONS_URL}?status=lost`, token)).statusCode).toBe(400);
    expect(tenant.id).not.toBe(other.tenant.id);
  });
});

describe('POST /invitations/:id/resend', () => {
  it('mails a new link valid for 7 more days; the old link stops working', async () => {
    const { tenant, token } = await owner();
    const email = uniqueEmail();
    const invitation = await invited(token, { email, message: 'Hi' });
    const oldToken = inviteToken(await invitationMail(email, 1));
    await admin().query(`UPDATE invitations SET expires_at = now() + interval '1 hour' WHERE id = $1`, [invitation.id]);

    const response = await request('POST', `${INVITATIONS_URL}/${invitation.id}/resend`, token);
    expect(response.statusCode).toBe(200);
    const resent = response.json<InvitationView>();
    expect(resent).toMatchObject({ id: invitation.id, status: 'pending', message: 'Hi' });
    expect(Date.parse(resent.expiresAt)).toBeGreaterThan(Date.now() + INVITATION_TTL_MS - 60_000);
    const newToken = inviteToken(await invitationMail(email, 2));
    expect(newToken).not.toBe(oldToken);
    expect((await invitationMail(email, 2)).text).toContain('Hi');

    const [audit] = await admin().query<{ action: string }>(`SELECT action FROM audit_events WHERE tenant_id = $1 AND target_id = $2 ORDER BY id DESC LIMIT 1`, [tenant.id, invitation.id]);
    expect(audit!.action).toBe('member.invitation_resent');
    expect(problemOf(await accept({ token: oldToken, name: 'Ann', password: NEW_PASSWORD })).code).toBe('auth.invalid_token');
    expect((await accept({ token: newToken, name: 'Ann', password: NEW_PASSWORD })).statusCode).toBe(200);

    // Accepted: no longer pending.
    const again = await request('POST', `${INVITATIONS_URL}/${invitation.id}/resend`, token);
    expect(again.statusCode).toBe(409);
    expect(problemOf(again).code).toBe('invitation.not_pending');
  });

  it('revives an expired invitation, refuses a revoked one, and answers 404 for an unknown or another tenant’s id', async () => {
    const { token } = await owner();
    const other = await owner();
    const expired = await invited(token, { email: uniqueEmail() });
    await expire(expired.id);
    const revived = await request('POST', `${INVITATIONS_URL}/${expired.id}/resend`, token);
    expect(revived.statusCode).toBe(200);
    expect(revived.json().status).toBe('pending');

    const revoked = await invited(token, { email: uniqueEmail() });
    expect((await request('DELETE', `${INVITATIONS_URL}/${revoked.id}`, token)).statusCode).toBe(204);
    expect(problemOf(await request('POST', `${INVITATIONS_URL}/${revoked.id}/resend`, token)).code).toBe('invitation.not_pending');

    const foreign = await request('POST', `${INVITATIONS_URL}/${expired.id}/resend`, other.token);
    expect(foreign.statusCode).toBe(404);
    expect(problemOf(foreign).code).toBe('invitation.not_found');
    expect(problemOf(await request('POST', `${INVITATIONS_URL}/0190a0a0-0000-7000-8000-000000000000/resend`, token)).code).toBe('invitation.not_found');
    expect((await request('POST', `${INVITATIONS_URL}/not-a-uuid/resend`, token)).statusCode).toBe(400);
  });
});

describe('DELETE /invitations/:id', () => {
  it('revokes (the link stops working), is idempotent, refuses an accepted invitation, and hides other tenants’ ids', async () => {
    const { tenant, token } = await owner();
    const other = await owner();
    const email = uniqueEmail();
    const invitation = await invited(token, { email });
    const emailed = inviteToken(await invitationMail(email));

    const foreign = await request('DELETE', `${INVITATIONS_URL}/${invitation.id}`, other.token);
    expect(foreign.statusCode).toBe(404);
    expect(problemOf(foreign).code).toBe('invitation.not_found');

    expect((await request('DELETE', `${INVITATIONS_URL}/${invitation.id}`, token)).statusCode).toBe(204);
    expect((await request('DELETE', `${INVITATIONS_URL}/${invitation.id}`, token)).statusCode).toBe(204);
    expect(problemOf(await accept({ token: emailed, name: 'Ann', password: NEW_PASSWORD })).code).toBe('auth.invalid_token');
    const audits = await admin().query<{ action: string }>(`SELECT action FROM audit_events WHERE tenant_id = $1 AND target_id = $2 ORDER BY id`, [tenant.id, invitation.id]);
    expect(audits.map((row) => row.action)).toEqual(['member.invited', 'member.invitation_revoked']);
    const events = await admin().query(`SELECT 1 FROM outbox_events WHERE tenant_id = $1 AND type = 'member.invitation_revoked'`, [tenant.id]);
    expect(events).toHaveLength(1);

    const acceptedEmail = uniqueEmail();
    const acceptedInvitation = await invited(token, { email: acceptedEmail });
    expect((await accept({ token: inviteToken(await invitationMail(acceptedEmail)), name: 'Bo', password: NEW_PASSWORD })).statusCode).toBe(200);
    const refused = await request('DELETE', `${INVITATIONS_URL}/${acceptedInvitation.id}`, token);
    expect(refused.statusCode).toBe(409);
    expect(problemOf(refused).code).toBe('invitation.not_pending');
  });
});

describe('route security', () => {
  const victim = {} as { tenantId: string; invitationId: string };
  const PLACEHOLDER_ID = '0190a0a0-0000-7000-8000-000000000001';

  it('sets up a victim tenant with a pending invitation', async () => {
    const { tenant, token } = await owner();
    victim.tenantId = tenant.id;
    victim.invitationId = (await invited(token, { email: uniqueEmail('victim') })).id;
    // The worker relays the outbox meanwhile (marking events published): let it finish before digests are taken.
    await expect
      .poll(async () => (await admin().query('SELECT 1 FROM outbox_events WHERE tenant_id = $1 AND published_at IS NULL', [tenant.id])).length, { timeout: 15_000 })
      .toBe(0);
  });

  const context = () => ({ app: kit.app(), admin: admin(), victimTenantId: victim.tenantId });
  const cases = [...baseCases, ...sessionCases(kit.app), ...tenantCases(kit.app, { lacking: 'member' })];
  const idCases = [...cases, otherTenantCase(kit.app, 'invitation.not_found')];
  // Getters: the victim's invitation exists only once the set-up test has run.
  const victimUrl = () => `${INVITATIONS_URL}/${victim.invitationId ?? PLACEHOLDER_ID}`;

  securityMatrix(context, { method: 'POST', url: INVITE_URL, payload: { email: 'matrix@example.test' } }, cases);
  securityMatrix(context, { method: 'GET', url: INVITATIONS_URL }, cases);
  securityMatrix(context, { method: 'POST', get url() { return `${victimUrl()}/resend`; } }, idCases);
  securityMatrix(context, { method: 'DELETE', get url() { return victimUrl(); } }, idCases);

  it('left the victim’s invitation pending and unmailed twice', async () => {
    const [row] = await admin().query<{ revoked_at: Date | null; accepted_at: Date | null }>('SELECT revoked_at, accepted_at FROM invitations WHERE id = $1', [victim.invitationId]);
    expect(row).toEqual({ revoked_at: null, accepted_at: null });
    expect(await admin().query(`SELECT 1 FROM invitations WHERE lower(email) = 'matrix@example.test'`)).toHaveLength(0);
  });
});
