/**
 * `maxUsers` counts seats — members (active or deactivated) plus pending, unexpired invitations — and is
 * enforced in the transaction that adds one: 20 parallel invitations or direct creations never exceed it.
 * A pending invitation's seat was counted when it was sent, so accepting it needs no free seat; replacing
 * one gives its seat back; resending an expired one takes a seat again.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMembership, bearer, createPerson, signedInOwner } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { setSubscription } from '../../../test/subscription-fixtures.js';
import { insertInvitation } from '../organization/index.js';
import { newInvitationToken } from '../organization/invitations.service.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

let emails = 0;
const email = (prefix = 'seat') => `${prefix}-${Date.now()}-${++emails}@example.test`;

const post = (token: string, url: string, payload?: object) =>
  t.app.inject({ method: 'POST', url: `/api/v1${url}`, headers: bearer(token), ...(payload ? { payload } : {}) });
const invite = (token: string, address = email()) => post(token, '/users/invite', { email: address });

const limitReached = (current: number, max: number) => ({ status: 402, code: 'plan.limit_reached', limit: 'maxUsers', current, max });

/** Seats as the plan counts them, read past row-level security. */
async function seats(tenantId: string) {
  const [row] = await t.admin.query<{ members: number; pending: number }>(
    `SELECT (SELECT count(*)::int FROM memberships WHERE tenant_id = $1) AS members,
            (SELECT count(*)::int FROM invitations WHERE tenant_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()) AS pending`,
    [tenantId],
  );
  return row!;
}

function expectRefusals(responses: LightMyRequestResponse[], created: number, current: number, max: number) {
  expect(responses.filter((response) => response.statusCode === 201)).toHaveLength(created);
  const refused = responses.filter((response) => response.statusCode !== 201);
  expect(refused).toHaveLength(responses.length - created);
  for (const response of refused) expect(response.json()).toMatchObject(limitReached(current, max));
}

describe('POST /users/invite against maxUsers', () => {
  it('20 parallel invitations on Basic (10 seats) with 4 taken: exactly 6 succeed, 14 answer 402; expired and revoked ones hold no seat', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    await setSubscription(t.app, tenant.id, { plan: 'basic' });
    await addMembership(t.app, tenant.id, await createPerson(t.app), 'member', 'deactivated');
    for (let i = 0; i < 2; i += 1) expect((await invite(token)).statusCode).toBe(201);
    const expired = (await invite(token)).json<{ id: string }>();
    await t.admin.query(`UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = $1`, [expired.id]);
    const revoked = (await invite(token)).json<{ id: string }>();
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/invitations/${revoked.id}`, headers: bearer(token) })).statusCode).toBe(204);
    expect(await seats(tenant.id)).toEqual({ members: 2, pending: 2 });

    const responses = await Promise.all(Array.from({ length: 20 }, () => invite(token)));
    expectRefusals(responses, 6, 10, 10);
    expect(await seats(tenant.id)).toEqual({ members: 2, pending: 8 });
    // A refused invitation left nothing behind: no row, no audit row.
    expect(await t.admin.query('SELECT id FROM invitations WHERE tenant_id = $1', [tenant.id])).toHaveLength(10);
    expect(await t.admin.query(`SELECT id FROM audit_events WHERE tenant_id = $1 AND action = 'member.invited'`, [tenant.id])).toHaveLength(10);
  });

  it('re-inviting an address with a pending invitation replaces it, so it needs no free seat', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    await setSubscription(t.app, tenant.id, { plan: 'free' }); // 3 seats
    const address = email('again');
    expect((await invite(token, address)).statusCode).toBe(201);
    expect((await invite(token)).statusCode).toBe(201);
    expect((await invite(token)).json()).toMatchObject(limitReached(3, 3));
    expect((await invite(token, address)).statusCode).toBe(201);
    expect(await seats(tenant.id)).toEqual({ members: 1, pending: 2 });
  });

  it('resending keeps a pending invitation’s seat; an expired one takes a seat again, refused when none is free', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    await setSubscription(t.app, tenant.id, { plan: 'free' });
    const pending = (await invite(token)).json<{ id: string }>();
    const lapsed = (await invite(token)).json<{ id: string }>();
    await t.admin.query(`UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = $1`, [lapsed.id]);
    expect((await invite(token)).statusCode).toBe(201); // the expired one's seat was free again: 3 of 3

    expect((await post(token, `/invitations/${pending.id}/resend`)).statusCode).toBe(200);
    const resent = await post(token, `/invitations/${lapsed.id}/resend`);
    expect(resent.json()).toMatchObject(limitReached(3, 3));
    expect(await seats(tenant.id)).toEqual({ members: 1, pending: 2 });

    await setSubscription(t.app, tenant.id, { limitOverrides: { maxUsers: 4 } });
    expect((await post(token, `/invitations/${lapsed.id}/resend`)).statusCode).toBe(200);
    expect(await seats(tenant.id)).toEqual({ members: 1, pending: 3 });
  });
});

describe('POST /users (direct creation) against maxUsers', () => {
  it('20 parallel creations on Basic with the owner alone: exactly 9 succeed, 11 answer 402, the tenant has 10 members', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    await setSubscription(t.app, tenant.id, { plan: 'basic' });
    const addresses = Array.from({ length: 20 }, () => email('direct'));
    const responses = await Promise.all(addresses.map((address, i) => post(token, '/users', { email: address, name: `Direct ${i}` })));
    expectRefusals(responses, 9, 10, 10);
    expect(await seats(tenant.id)).toEqual({ members: 10, pending: 0 });
    // No account, mail or audit row for a refused person.
    const refused = addresses.filter((_, i) => responses[i]!.statusCode === 402);
    expect(await t.admin.query('SELECT id FROM users WHERE email = ANY($1)', [refused])).toEqual([]);
    expect(await t.admin.query(`SELECT id FROM audit_events WHERE tenant_id = $1 AND action = 'member.created'`, [tenant.id])).toHaveLength(9);
  });

  it('pending invitations take seats from direct creation too; unlimited (null) lifts the limit at the next request', async () => {
    const { tenant, token } = await signedInOwner(t.app);
    await setSubscription(t.app, tenant.id, { plan: 'free' });
    expect((await invite(token)).statusCode).toBe(201);
    expect((await post(token, '/users', { email: email(), name: 'Second' })).statusCode).toBe(201);
    expect((await post(token, '/users', { email: email(), name: 'Third' })).json()).toMatchObject(limitReached(3, 3));
    await setSubscription(t.app, tenant.id, { limitOverrides: { maxUsers: null } });
    expect((await post(token, '/users', { email: email(), name: 'Third' })).statusCode).toBe(201);
    expect(await seats(tenant.id)).toEqual({ members: 3, pending: 1 });
  });
});

describe('POST /auth/accept-invite', () => {
  it('needs no free seat: the invitation’s seat was counted while it was pending, even if the limit dropped since', async () => {
    const { person: owner, tenant, token } = await signedInOwner(t.app);
    await setSubscription(t.app, tenant.id, { plan: 'free' });
    const invited = email('joiner');
    const { token: inviteToken, tokenHash } = newInvitationToken(tenant.id);
    await t.app.platform.db.withTenant(tenant.id, (tx) =>
      insertInvitation(tx, tenant.id, { email: invited, role: 'member', storeIds: [], message: null, tokenHash, invitedBy: owner.id, expiresAt: new Date(Date.now() + 60 * 60 * 1000) }),
    );
    await setSubscription(t.app, tenant.id, { limitOverrides: { maxUsers: 1 } });
    expect((await invite(token)).json()).toMatchObject(limitReached(2, 1));

    const accepted = await t.app.inject({ method: 'POST', url: '/api/v1/auth/accept-invite', payload: { token: inviteToken, name: 'Jo Joiner', password: 'Amber-glacier-58-compass' } });
    expect(accepted.statusCode, accepted.body).toBe(200);
    expect(await seats(tenant.id)).toEqual({ members: 2, pending: 0 });
  });
});
