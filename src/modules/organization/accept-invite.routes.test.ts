/**
 * POST /api/v1/auth/accept-invite end to end through a real SMTP server: invite → mail → the link's token
 * → accept, for a new person (name + password) and for a person who already has an account elsewhere
 * (their password, or a bearer token of theirs), ending in tokens that act in the invited tenant with the
 * invited role and stores. Then every way a token or a proof can be wrong.
 */
import { describe, expect, it } from 'vitest';
import { bearer, createPerson, createTenantFor, signInAs, TEST_PASSWORD } from '../../../test/auth.js';
import { clientIp } from '../../../test/account-flows.js';
import { INVITATIONS_URL, inviteToken, NEW_PASSWORD, problemOf, uniqueEmail, useInvitationTestApp, type Owner } from '../../../test/invitation-flows.js';
import type { LoginResponse } from '../identity/index.js';

const kit = useInvitationTestApp();
const { request, owner, createStore, invited, accept, invitationMail, expire, setTenant } = kit;
const admin = () => kit.context.t.admin;

/** Invites `email` from `from` and returns the token of the link in the mail that arrives. */
async function invitationToken(from: Owner, email: string, body: Record<string, unknown> = {}): Promise<{ id: string; token: string }> {
  const { id } = await invited(from.token, { email, ...body });
  return { id, token: inviteToken(await invitationMail(email)) };
}

/** Where an access token acts, and in which store when X-Store-ID is sent. */
const contextOf = (accessToken: string, storeId?: string) =>
  request('GET', '/test/context', accessToken, undefined, storeId ? { 'x-store-id': storeId } : {});

const login = (email: string, password: string) =>
  kit.app().inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, remoteAddress: clientIp() });

describe('a new person', () => {
  it('accepts with a name and password and acts in the invited tenant with the invited role and stores', async () => {
    const inviter = await owner();
    const [store, otherStore] = [await createStore(inviter.tenant.id), await createStore(inviter.tenant.id)];
    const email = uniqueEmail();
    const { id, token } = await invitationToken(inviter, email, { role: 'member', storeIds: [store] });

    const response = await accept({ token, name: '  Nia Newcomer ', password: NEW_PASSWORD });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = response.json<LoginResponse>();
    expect(body.user).toMatchObject({ email, name: 'Nia Newcomer', emailVerified: true, mfaEnabled: false });
    expect(body.tenant).toMatchObject({ id: inviter.tenant.id, name: inviter.tenant.name, status: 'active' });
    expect(body.memberships).toEqual([expect.objectContaining({ tenantId: inviter.tenant.id, role: 'member', status: 'active' })]);
    expect(body.tokenType).toBe('Bearer');

    // The person, membership, store assignment, invitation, audit rows and session: one transaction (one
    // xmin). The outbox row's xmin moves when the worker relays it, so it is matched by transaction time.
    const [invitation] = await admin().query<{ xmin: string; accepted_by: string; accepted_at: Date }>('SELECT xmin::text, accepted_by, accepted_at FROM invitations WHERE id = $1', [id]);
    expect(invitation!.accepted_by).toBe(body.user.id);
    const xmins = await admin().query<{ what: string; xmin: string }>(
      `SELECT 'user' AS what, xmin::text FROM users WHERE id = $1
       UNION ALL SELECT 'membership', xmin::text FROM memberships WHERE tenant_id = $2 AND user_id = $1
       UNION ALL SELECT 'store', xmin::text FROM store_members WHERE tenant_id = $2 AND user_id = $1
       UNION ALL SELECT 'audit:' || action, xmin::text FROM audit_events WHERE tenant_id = $2 AND actor_id = $1
       UNION ALL SELECT 'session', xmin::text FROM sessions WHERE user_id = $1 AND active_tenant_id = $2 ORDER BY 1`,
      [body.user.id, inviter.tenant.id],
    );
    expect(xmins.map((row) => row.what)).toEqual(['audit:member.joined', 'audit:user.registered', 'membership', 'session', 'store', 'user']);
    expect(new Set(xmins.map((row) => row.xmin))).toEqual(new Set([invitation!.xmin]));
    const events = await admin().query<{ created_at: Date }>(`SELECT created_at FROM outbox_events WHERE tenant_id = $1 AND type = 'member.joined'`, [inviter.tenant.id]);
    expect(events.map((row) => row.created_at.getTime())).toEqual([invitation!.accepted_at.getTime()]);
    const [event] = await admin().query<{ payload: Record<string, unknown> }>(`SELECT payload FROM outbox_events WHERE tenant_id = $1 AND type = 'member.joined'`, [inviter.tenant.id]);
    expect(event!.payload).toMatchObject({ userId: body.user.id, invitationId: id, role: 'member', storeIds: [store], newAccount: true, invitedBy: inviter.person.id });

    // The tokens act in the invited tenant, as a member, in the invited store and no other.
    const here = await contextOf(body.accessToken, store);
    expect(here.json()).toEqual({ userId: body.user.id, tenantId: inviter.tenant.id, role: 'member', storeId: store });
    const elsewhere = await contextOf(body.accessToken, otherStore);
    expect(elsewhere.statusCode).toBe(403);
    expect(problemOf(elsewhere).code).toBe('store.access_denied');
    expect(problemOf(await request('GET', INVITATIONS_URL, body.accessToken)).code).toBe('auth.forbidden');
    // The refresh token works, and the new password signs in.
    const refreshed = await kit.app().inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: body.refreshToken }, remoteAddress: clientIp() });
    expect(refreshed.statusCode).toBe(200);
    expect((await login(email, NEW_PASSWORD)).json().tenant.id).toBe(inviter.tenant.id);

    // Single use.
    const reused = await accept({ token, name: 'Nia', password: NEW_PASSWORD });
    expect(reused.statusCode).toBe(400);
    expect(problemOf(reused).code).toBe('auth.invalid_token');
  });

  it('joins as admin when invited as admin, skipping stores deleted since the invitation', async () => {
    const inviter = await owner();
    const [kept, removed] = [await createStore(inviter.tenant.id), await createStore(inviter.tenant.id)];
    const { token } = await invitationToken(inviter, uniqueEmail(), { role: 'admin', storeIds: [kept, removed] });
    await admin().query('UPDATE stores SET deleted_at = now() WHERE id = $1', [removed]);
    const body = (await accept({ token, name: 'Ada', password: NEW_PASSWORD })).json<LoginResponse>();
    expect((await contextOf(body.accessToken)).json()).toMatchObject({ tenantId: inviter.tenant.id, role: 'admin' });
    expect((await request('GET', INVITATIONS_URL, body.accessToken)).statusCode).toBe(200);
    const assigned = await admin().query<{ store_id: string }>('SELECT store_id FROM store_members WHERE user_id = $1', [body.user.id]);
    expect(assigned.map((row) => row.store_id)).toEqual([kept]);
  });

  it('needs a name and an acceptable password, and leaves the invitation usable when refused', async () => {
    const inviter = await owner();
    const email = uniqueEmail('weak');
    const { token } = await invitationToken(inviter, email);
    const missing = await accept({ token });
    expect(missing.statusCode).toBe(400);
    expect(problemOf(missing).errors!.map((error) => error.field)).toEqual(['/name', '/password']);
    expect(problemOf(await accept({ token, name: '   ', password: NEW_PASSWORD })).errors!.map((error) => error.field)).toEqual(['/name']);
    expect(problemOf(await accept({ token, name: 'Wes', password: 'password' })).code).toBe('auth.weak_password');
    expect(problemOf(await accept({ token, name: 'Wes', password: `${email.split('@')[0]}-Xy9` })).code).toBe('auth.weak_password');
    expect(problemOf(await accept({ token, name: 'Wes', password: NEW_PASSWORD, tenantId: inviter.tenant.id })).code).toBe('request.validation_failed');
    expect(await admin().query('SELECT 1 FROM users WHERE lower(email) = lower($1)', [email])).toHaveLength(0);
    expect((await accept({ token, name: 'Wes', password: NEW_PASSWORD })).statusCode).toBe(200);
  });
});

describe('a person who already has an account (and a tenant of their own)', () => {
  async function existingPerson(options: { verified?: boolean } = {}) {
    const person = await createPerson(kit.app(), options);
    const home = await createTenantFor(kit.app(), person);
    return { person, home };
  }

  it('accepts with their password: two memberships, and they can switch between the tenants', async () => {
    const inviter = await owner();
    const { person, home } = await existingPerson({ verified: false });
    const { token } = await invitationToken(inviter, person.email, { role: 'admin' });

    const noProof = await accept({ token, name: 'Someone', password: undefined });
    expect(noProof.statusCode).toBe(401);
    expect(problemOf(noProof).code).toBe('invitation.sign_in_required');
    const wrong = await accept({ token, password: 'Not-the-right-passphrase-1' });
    expect(wrong.statusCode).toBe(401);
    expect(problemOf(wrong).code).toBe('auth.invalid_credentials');

    const response = await accept({ token, name: 'Ignored Name', password: TEST_PASSWORD });
    expect(response.statusCode).toBe(200);
    const body = response.json<LoginResponse>();
    expect(body.user).toMatchObject({ id: person.id, name: person.name, emailVerified: true });
    expect(body.tenant!.id).toBe(inviter.tenant.id);
    expect(body.memberships.map((m) => [m.tenantId, m.role]).sort()).toEqual(
      [
        [home.id, 'owner'],
        [inviter.tenant.id, 'admin'],
      ].sort(),
    );
    expect((await contextOf(body.accessToken)).json()).toMatchObject({ userId: person.id, tenantId: inviter.tenant.id, role: 'admin' });

    const switched = await request('POST', '/api/v1/auth/switch-tenant', body.accessToken, { tenantId: home.id });
    expect(switched.statusCode).toBe(200);
    expect((await contextOf(switched.json().accessToken)).json()).toMatchObject({ tenantId: home.id, role: 'owner' });
    const back = await request('POST', '/api/v1/auth/switch-tenant', switched.json().accessToken, { tenantId: inviter.tenant.id });
    expect((await contextOf(back.json().accessToken)).json()).toMatchObject({ tenantId: inviter.tenant.id, role: 'admin' });

    const [audit] = await admin().query<{ after: { newAccount: boolean } }>(`SELECT after FROM audit_events WHERE tenant_id = $1 AND action = 'member.joined'`, [inviter.tenant.id]);
    expect(audit!.after.newAccount).toBe(false);
    expect(problemOf(await accept({ token, password: TEST_PASSWORD })).code).toBe('auth.invalid_token');
  });

  it('accepts with a bearer token of that same person', async () => {
    const inviter = await owner();
    const { person, home } = await existingPerson();
    const session = await signInAs(kit.app(), person, home.id);
    const { token } = await invitationToken(inviter, person.email.toUpperCase());

    const response = await accept({ token }, bearer(session.accessToken));
    expect(response.statusCode).toBe(200);
    const body = response.json<LoginResponse>();
    expect(body.user.id).toBe(person.id);
    expect(body.tenant!.id).toBe(inviter.tenant.id);
    expect(body.memberships).toHaveLength(2);
    expect((await contextOf(body.accessToken)).json()).toMatchObject({ tenantId: inviter.tenant.id, role: 'member' });
    // The session the proof came from still works, in its own tenant.
    expect((await contextOf(session.accessToken)).json()).toMatchObject({ tenantId: home.id });
    const switched = await request('POST', '/api/v1/auth/switch-tenant', session.accessToken, { tenantId: inviter.tenant.id });
    expect(switched.json().tenant.id).toBe(inviter.tenant.id);
  });

  it('refuses a bearer token of someone else (403), an invalid bearer token (401) and a password alone when the account has MFA', async () => {
    const inviter = await owner();
    const { person } = await existingPerson();
    const stranger = await existingPerson();
    const { token } = await invitationToken(inviter, person.email);

    const mismatch = await accept({ token }, bearer((await signInAs(kit.app(), stranger.person, stranger.home.id)).accessToken));
    expect(mismatch.statusCode).toBe(403);
    expect(problemOf(mismatch).code).toBe('invitation.email_mismatch');
    const invalid = await accept({ token, password: TEST_PASSWORD }, bearer('not-a-token'));
    expect(invalid.statusCode).toBe(401);
    expect(problemOf(invalid).code).toBe('auth.unauthenticated');

    await admin().query('UPDATE users SET totp_enabled_at = now() WHERE id = $1', [person.id]);
    const mfa = await accept({ token, password: TEST_PASSWORD });
    expect(mfa.statusCode).toBe(401);
    expect(problemOf(mfa)).toMatchObject({ code: 'invitation.sign_in_required', detail: expect.stringContaining('two-factor') });
    // A session of theirs (sign-in asks them for the second factor) proves it.
    const session = await signInAs(kit.app(), person);
    expect((await accept({ token }, bearer(session.accessToken))).statusCode).toBe(200);
    expect(await admin().query('SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id = $2', [inviter.tenant.id, stranger.person.id])).toHaveLength(0);
  });

  it('never creates a second account for an address that has one', async () => {
    const inviter = await owner();
    const { person } = await existingPerson();
    const { token } = await invitationToken(inviter, person.email);
    expect(problemOf(await accept({ token, name: 'Impostor' })).code).toBe('invitation.sign_in_required');
    expect(await admin().query('SELECT 1 FROM users WHERE lower(email) = lower($1)', [person.email])).toHaveLength(1);
  });

  it('answers 409 when they became a member meanwhile, and the invitation stays pending', async () => {
    const inviter = await owner();
    const { person } = await existingPerson();
    const { id, token } = await invitationToken(inviter, person.email);
    await admin().query(`INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'member')`, [inviter.tenant.id, person.id]);
    const response = await accept({ token, password: TEST_PASSWORD });
    expect(response.statusCode).toBe(409);
    expect(problemOf(response).code).toBe('invitation.already_member');
    const [row] = await admin().query<{ accepted_at: Date | null }>('SELECT accepted_at FROM invitations WHERE id = $1', [id]);
    expect(row!.accepted_at).toBeNull();
  });
});

describe('tokens that no longer work answer 400 auth.invalid_token', () => {
  const refusedWith = async (token: string) => {
    const response = await accept({ token, name: 'Tess', password: NEW_PASSWORD });
    expect(response.statusCode, token).toBe(400);
    const problem = problemOf(response);
    expect(problem.code).toBe('auth.invalid_token');
    return problem.detail;
  };

  it('expired, revoked, replaced by a resend, of a suspended or closed tenant, or outside a tightened domain policy', async () => {
    const details = new Set<string>();
    const inviter = await owner();

    const expired = await invitationToken(inviter, uniqueEmail());
    await expire(expired.id);
    details.add(await refusedWith(expired.token));

    const revoked = await invitationToken(inviter, uniqueEmail());
    expect((await request('DELETE', `${INVITATIONS_URL}/${revoked.id}`, inviter.token)).statusCode).toBe(204);
    details.add(await refusedWith(revoked.token));

    const resentEmail = uniqueEmail();
    const resent = await invitationToken(inviter, resentEmail);
    expect((await request('POST', `${INVITATIONS_URL}/${resent.id}/resend`, inviter.token)).statusCode).toBe(200);
    const newToken = inviteToken(await invitationMail(resentEmail, 2));
    details.add(await refusedWith(resent.token));
    expect((await accept({ token: newToken, name: 'Tess', password: NEW_PASSWORD })).statusCode).toBe(200);

    const restricted = await invitationToken(inviter, uniqueEmail());
    await setTenant(inviter.tenant.id, { allowedEmailDomains: ['elsewhere.example'] });
    details.add(await refusedWith(restricted.token));

    for (const change of ['suspended', 'closed'] as const) {
      const other = await owner();
      const pending = await invitationToken(other, uniqueEmail());
      await setTenant(other.tenant.id, change);
      details.add(await refusedWith(pending.token));
    }
    // One answer for every reason: nothing tells which.
    expect(details.size).toBe(1);
  });

  it('malformed, unknown, or naming another tenant than the one that issued it', async () => {
    const inviter = await owner();
    const other = await owner();
    const { token } = await invitationToken(inviter, uniqueEmail());
    const [, secret] = token.split('.');
    for (const bad of ['garbage', `${inviter.tenant.id}.`, `${inviter.tenant.id}.short`, `not-a-uuid.${secret}`, `${other.tenant.id}.${secret}`, `${inviter.tenant.id}.${'A'.repeat(43)}`]) {
      await refusedWith(bad);
    }
    expect((await accept({ token, name: 'Tess', password: NEW_PASSWORD })).statusCode).toBe(200);
  });

  it('is not replayed under an Idempotency-Key (its answer carries tokens)', async () => {
    const inviter = await owner();
    const { token } = await invitationToken(inviter, uniqueEmail());
    const headers = { 'idempotency-key': `accept-${token.slice(-8)}` };
    expect((await accept({ token, name: 'Ida', password: NEW_PASSWORD }, headers)).statusCode).toBe(200);
    const retry = await accept({ token, name: 'Ida', password: NEW_PASSWORD }, headers);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(problemOf(retry).code).toBe('auth.invalid_token');
  });
});
