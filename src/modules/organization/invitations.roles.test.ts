/**
 * Invitations with roles from the tenant's catalog: `roleIds` (one built-in tenant role plus custom
 * tenant roles), the older `role` beside it, every refusal (owner, two built-ins, store roles, unknown or
 * another tenant's ids, privilege escalation), the roles shown by GET /invitations, and acceptance
 * creating the custom role assignments in its transaction — skipping roles deleted or made store roles
 * since — that then take effect.
 */
import { describe, expect, it } from 'vitest';
import { INVITATIONS_URL, inviteToken, NEW_PASSWORD, problemOf, uniqueEmail, useInvitationTestApp, type InvitationView } from '../../../test/invitation-flows.js';
import { builtinRoleId, createCustomRole, giveCustomRole, heldCustomRoles } from '../../../test/organization-roles.js';
import type { LoginResponse } from '../identity/index.js';

const kit = useInvitationTestApp();
const { request, owner, member, createStore, invite, invited, accept, invitationMail } = kit;
const admin = () => kit.context.t.admin;
const app = () => kit.app();

const invitationRows = (tenantId: string) => admin().query<{ role: string; role_ids: string[] }>('SELECT role, role_ids FROM invitations WHERE tenant_id = $1', [tenantId]);

describe('POST /users/invite with roleIds', () => {
  it('takes one built-in tenant role and custom tenant roles (repeats dropped); GET /invitations shows them; audited', async () => {
    const inviter = await owner();
    const tenantId = inviter.tenant.id;
    const [adminId, cashier, auditor] = [
      await builtinRoleId(app(), tenantId, 'admin'),
      await createCustomRole(app(), tenantId, { permissions: ['billing.view'] }),
      await createCustomRole(app(), tenantId, { permissions: ['audit.view'] }),
    ];
    const email = uniqueEmail();
    const invitation = await invited(inviter.token, { email, roleIds: [cashier, adminId, auditor, cashier.toUpperCase()] });
    expect(invitation).toMatchObject({ email, role: 'admin', roleIds: [cashier, auditor] });
    expect(await invitationRows(tenantId)).toEqual([{ role: 'admin', role_ids: [cashier, auditor] }]);

    const listed = await request('GET', INVITATIONS_URL, inviter.token);
    expect(listed.json<{ data: InvitationView[] }>().data).toEqual([expect.objectContaining({ id: invitation.id, role: 'admin', roleIds: [cashier, auditor] })]);
    const [audit] = await admin().query<{ after: Record<string, unknown> }>(`SELECT after FROM audit_events WHERE tenant_id = $1 AND action = 'member.invited'`, [tenantId]);
    expect(audit!.after).toMatchObject({ role: 'admin', roleIds: [cashier, auditor] });
    const [event] = await admin().query<{ payload: Record<string, unknown> }>(`SELECT payload FROM outbox_events WHERE tenant_id = $1 AND type = 'member.invited'`, [tenantId]);
    expect(event!.payload).toMatchObject({ role: 'admin', roleIds: [cashier, auditor] });
  });

  it('defaults to member; `role` still works alone, and beside roleIds must agree with their built-in role', async () => {
    const { tenant, token } = await owner();
    const [adminId, memberId, custom] = [
      await builtinRoleId(app(), tenant.id, 'admin'),
      await builtinRoleId(app(), tenant.id, 'member'),
      await createCustomRole(app(), tenant.id, { permissions: ['audit.view'] }),
    ];
    expect(await invited(token, { email: uniqueEmail(), roleIds: [custom] })).toMatchObject({ role: 'member', roleIds: [custom] });
    expect(await invited(token, { email: uniqueEmail(), role: 'admin' })).toMatchObject({ role: 'admin', roleIds: [] });
    expect(await invited(token, { email: uniqueEmail(), role: 'admin', roleIds: [custom] })).toMatchObject({ role: 'admin', roleIds: [custom] });
    expect(await invited(token, { email: uniqueEmail(), role: 'member', roleIds: [memberId] })).toMatchObject({ role: 'member' });

    const disagree = problemOf(await invite(token, { email: uniqueEmail(), role: 'member', roleIds: [adminId] }));
    expect(disagree).toMatchObject({ status: 400, code: 'request.validation_failed' });
    expect(disagree.errors!.map((error) => error.field)).toEqual(['/role']);
  });

  it('refuses the owner role (409), two built-ins (400), store roles (400), unknown and other tenants’ ids (400), writing nothing', async () => {
    const { tenant, token } = await owner();
    const other = await owner();
    const id = (key: 'owner' | 'admin' | 'member' | 'store_manager') => builtinRoleId(app(), tenant.id, key);
    const storeCustom = await createCustomRole(app(), tenant.id, { scope: 'store', permissions: ['stores.update'] });
    const foreign = await createCustomRole(app(), other.tenant.id, { permissions: ['audit.view'] });
    const refused = async (roleIds: string[]) => problemOf(await invite(token, { email: uniqueEmail(), roleIds }));

    expect(await refused([await id('owner')])).toMatchObject({ status: 409, code: 'role.owner_transfer_only' });
    const two = await refused([await id('admin'), await id('member')]);
    expect(two).toMatchObject({ status: 400, code: 'request.validation_failed' });
    expect(two.errors!.map((error) => error.field)).toEqual(['/roleIds/1']);
    const store = await refused([await id('member'), await id('store_manager'), storeCustom]);
    expect(store).toMatchObject({ status: 400, code: 'role.scope_mismatch' });
    expect(store.errors!.map((error) => error.field)).toEqual(['/roleIds/1', '/roleIds/2']);
    // Another tenant's role answers exactly as an id that exists nowhere.
    const unknown = await refused([await id('member'), foreign, '0193d4c0-0000-7000-8000-000000000001']);
    expect(unknown).toMatchObject({ status: 400, code: 'request.validation_failed' });
    expect(unknown.errors).toEqual([
      { in: 'body', field: '/roleIds/1', message: 'is not a role of this tenant' },
      { in: 'body', field: '/roleIds/2', message: 'is not a role of this tenant' },
    ]);
    expect(await invitationRows(tenant.id)).toEqual([]);
  });

  it('refuses roles holding a permission the inviter lacks (403 role.privilege_escalation)', async () => {
    const { tenant, token: ownerToken } = await owner();
    const recruiter = await member(tenant.id);
    await giveCustomRole(app(), tenant.id, recruiter.person.id, await createCustomRole(app(), tenant.id, { permissions: ['users.manage'] }));
    const billing = await createCustomRole(app(), tenant.id, { permissions: ['billing.view'] });
    const manageMembers = await createCustomRole(app(), tenant.id, { permissions: ['users.manage'] });
    const store = await createStore(tenant.id);

    const escalation = async (token: string, body: Record<string, unknown>) => {
      const problem = problemOf(await invite(token, { email: uniqueEmail(), ...body }));
      expect(problem).toMatchObject({ status: 403, code: 'role.privilege_escalation' });
      return problem;
    };
    expect((await escalation(recruiter.token, { roleIds: [billing] })).detail).toContain('billing.view');
    await escalation(recruiter.token, { role: 'admin' });
    await escalation(recruiter.token, { roleIds: [await builtinRoleId(app(), tenant.id, 'admin')] });
    expect(await invitationRows(tenant.id)).toEqual([]);

    // What they hold themselves they may pass on: the member role, stores, their own custom role.
    expect(await invited(recruiter.token, { email: uniqueEmail(), roleIds: [manageMembers], storeIds: [store] })).toMatchObject({ role: 'member', roleIds: [manageMembers] });
    // An administrator lacks billing.manage (owner only): neither may they hand it out.
    const billingManager = await createCustomRole(app(), tenant.id, { permissions: ['billing.manage'] });
    const administrator = await member(tenant.id, 'admin');
    await escalation(administrator.token, { roleIds: [billingManager] });
    expect(await invited(ownerToken, { email: uniqueEmail(), roleIds: [billingManager] })).toMatchObject({ roleIds: [billingManager] });
  });
});

describe('accepting an invitation with roles', () => {
  it('creates the custom role assignments in the acceptance’s transaction, skipping roles deleted or made store roles since; they take effect', async () => {
    const inviter = await owner();
    const tenantId = inviter.tenant.id;
    const [recruiter, gone, nowStore] = [
      await createCustomRole(app(), tenantId, { permissions: ['users.manage'] }),
      await createCustomRole(app(), tenantId, { permissions: ['audit.view'] }),
      await createCustomRole(app(), tenantId, { permissions: ['stores.view'] }),
    ];
    const email = uniqueEmail();
    const { id } = await invited(inviter.token, { email, roleIds: [recruiter, gone, nowStore] });
    const token = inviteToken(await invitationMail(email));
    await admin().query('DELETE FROM roles WHERE tenant_id = $1 AND id = $2', [tenantId, gone]);
    await admin().query(`UPDATE roles SET scope = 'store' WHERE tenant_id = $1 AND id = $2`, [tenantId, nowStore]);

    const response = await accept({ token, name: 'Rita Recruiter', password: NEW_PASSWORD });
    expect(response.statusCode).toBe(200);
    const body = response.json<LoginResponse>();
    const userId = body.user.id;
    expect(body.memberships).toEqual([expect.objectContaining({ tenantId, role: 'member' })]);
    expect(await heldCustomRoles(app(), tenantId, userId)).toEqual([`${recruiter}@-`]);

    // One transaction with the invitation's acceptance; assigned by the inviter; announced.
    const [invitation] = await admin().query<{ xmin: string }>('SELECT xmin::text FROM invitations WHERE id = $1', [id]);
    const [assignment] = await admin().query<{ xmin: string; assigned_by: string }>('SELECT xmin::text, assigned_by FROM role_assignments WHERE tenant_id = $1 AND user_id = $2', [tenantId, userId]);
    expect(assignment).toEqual({ xmin: invitation!.xmin, assigned_by: inviter.person.id });
    const [event] = await admin().query<{ payload: Record<string, unknown> }>(`SELECT payload FROM outbox_events WHERE tenant_id = $1 AND type = 'member.joined'`, [tenantId]);
    expect(event!.payload).toMatchObject({ userId, role: 'member', roleIds: [recruiter] });

    // The custom role works at once: a member with users.manage lists the invitations.
    expect((await request('GET', INVITATIONS_URL, body.accessToken)).statusCode).toBe(200);
  });

  it('an invitation without custom roles creates no assignment', async () => {
    const inviter = await owner();
    const email = uniqueEmail();
    await invited(inviter.token, { email, role: 'admin' });
    const response = await accept({ token: inviteToken(await invitationMail(email)), name: 'Ada Admin', password: NEW_PASSWORD });
    const body = response.json<LoginResponse>();
    expect(body.memberships).toEqual([expect.objectContaining({ tenantId: inviter.tenant.id, role: 'admin' })]);
    expect(await heldCustomRoles(app(), inviter.tenant.id, body.user.id)).toEqual([]);
  });
});
