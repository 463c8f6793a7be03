/**
 * `POST /api/v1/auth/accept-invite`: the invitee's side of an invitation. The token names its tenant
 * (`<tenantId>.<secret>`); the invitation is looked up by the secret's hash inside that tenant.
 *
 * Who accepts:
 * - nobody has an account with the invited address: a new person, created with the `name` and
 *   `password` given and the address verified (the token reached that mailbox);
 * - the address has an account: its owner proves it — with a bearer token of that very person (the
 *   token's person must have the invited address, else 403 `invitation.email_mismatch`), or with the
 *   account's password, checked through the brute-force guard. A person with two-factor authentication
 *   must use the bearer token (a session that passed the second factor): a password alone never signs
 *   them in.
 *
 * Then, in ONE transaction: the person (when new), the membership with the invited built-in role, the
 * invited custom tenant roles (role_assignments; roles deleted since, or no longer tenant-wide, are
 * skipped), the store assignments (stores deleted since the invitation are skipped), the invitation marked accepted under the
 * very token presented (a concurrent acceptance, resend or revocation makes it fail), the audit rows and
 * `member.joined` event, and the session whose tokens answer the request — acting in the invited tenant.
 *
 * An unknown, malformed, used, revoked or expired token, an invitation of a suspended or closed tenant,
 * and an address the tenant's domain policy no longer admits all answer the same 400 `auth.invalid_token`.
 */
import { audit, type RequestOrigin } from '../../core/audit/audit.js';
import { isUuid, uuidv7 } from '../../core/db/ids.js';
import { emit } from '../../core/events/events.js';
import { AppError, type FieldError } from '../../core/http/errors.js';
import type { Actor } from '../../core/http/request-context.js';
import { findRoles } from '../authorization/index.js';
import { assertCurrentPassword, assertPasswordAcceptable, hashSecretToken, normalizeEmail, signedInPerson, signIn, type LoginResponse } from '../identity/index.js';
import type { OrganizationDeps } from './deps.js';
import { findLiveStoreIds } from './stores.repository.js';
import {
  findInvitationByTokenHash,
  findTenant,
  findUserByEmail,
  findUserById,
  hasMembership,
  insertMembership,
  insertRoleAssignments,
  insertStoreAssignments,
  insertUser,
  invitationStatus,
  markEmailVerified,
  markInvitationAccepted,
  type InvitationRow,
  type UserRow,
} from './invitations.repository.js';
import { isEmailDomainAllowed } from './invitations.service.js';

export interface AcceptInviteInput {
  token: string;
  name?: string;
  password?: string;
}

/** How the caller came: the request's actor (a valid bearer token) and whether a bearer token was sent at all. */
export interface AcceptInviteCaller {
  actor: Actor | undefined;
  bearerPresented: boolean;
}

/** A base64url secret of 256 bits (see identity's `generateSecretToken`). */
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

const invalidToken = () => new AppError('auth.invalid_token', 'The invitation link is invalid, used, revoked or expired; ask for a new invitation.');

/** The tenant and stored hash an emailed token names, or null when it is not shaped like one. */
export function parseInvitationToken(token: string): { tenantId: string; tokenHash: string } | null {
  const dot = token.indexOf('.');
  if (dot < 0) return null;
  const tenantId = token.slice(0, dot).toLowerCase();
  const secret = token.slice(dot + 1);
  if (!isUuid(tenantId) || !SECRET_PATTERN.test(secret)) return null;
  return { tenantId, tokenHash: hashSecretToken(secret) };
}

/** Who the invitation will be accepted as, once proven. */
type Acceptor =
  | { kind: 'existing'; userId: string; mfaVerified: boolean }
  | { kind: 'new'; userId: string; name: string; passwordHash: string };

const sameAddress = (a: string, b: string) => normalizeEmail(a) === normalizeEmail(b);

const emailMismatch = () =>
  new AppError('invitation.email_mismatch', 'This invitation is for another email address than the account you are signed in with; sign out, or sign in with the invited address.');

const signInRequired = (detail: string) => new AppError('invitation.sign_in_required', detail);

/** The new person's name and password, or a 400 naming each missing field. */
function newPersonFields(input: AcceptInviteInput): { name: string; password: string } {
  const name = input.name?.trim() ?? '';
  const errors: FieldError[] = [];
  if (name === '') errors.push({ in: 'body', field: '/name', message: 'is required to create your account' });
  if (input.password === undefined) errors.push({ in: 'body', field: '/password', message: 'is required to create your account' });
  if (errors.length > 0) {
    throw new AppError('request.validation_failed', 'The request is invalid: no account has this address yet, so name and password are required to create one.', { errors });
  }
  return { name, password: input.password! };
}

/** Proves who accepts: a bearer token of the invited person, the password of their account, or a new account. */
async function proveAcceptor(deps: OrganizationDeps, invitation: InvitationRow, account: UserRow | null, caller: AcceptInviteCaller, input: AcceptInviteInput, origin: RequestOrigin): Promise<Acceptor> {
  if (caller.bearerPresented) {
    // A public route treats a bad token as none; here it was clearly meant as the proof, so say it failed.
    if (!caller.actor) throw new AppError('auth.unauthenticated', 'The access token is invalid or expired; sign in again, or accept without it.');
    const person = signedInPerson(caller.actor);
    const user = await deps.platform.db.transaction({ userId: person.userId }, (tx) => findUserById(tx, person.userId));
    if (!user || !sameAddress(user.email, invitation.email)) throw emailMismatch();
    return { kind: 'existing', userId: user.id, mfaVerified: caller.actor.mfaVerified === true };
  }

  if (account) {
    if (input.password === undefined) {
      throw signInRequired('An account with this email address exists: send its password, or sign in and accept with the access token.');
    }
    await assertCurrentPassword(deps.identity, account, input.password, origin.ip);
    if (account.status !== 'active') throw new AppError('auth.invalid_credentials', 'The email address or the password is wrong.');
    // Only now, to someone who knows the password: a password alone must not bypass the second factor.
    if (account.totpEnabledAt !== null) {
      throw signInRequired('This account uses two-factor authentication: sign in (with your code), then accept with the access token.');
    }
    return { kind: 'existing', userId: account.id, mfaVerified: false };
  }

  const { name, password } = newPersonFields(input);
  assertPasswordAcceptable(password, { email: invitation.email });
  return { kind: 'new', userId: uuidv7(), name, passwordHash: await deps.identity.passwords.hash(password) };
}

/** Accepts the invitation the token names and signs the person in, acting in the invited tenant. */
export async function acceptInvitation(deps: OrganizationDeps, input: AcceptInviteInput, caller: AcceptInviteCaller, origin: RequestOrigin): Promise<LoginResponse> {
  const parsed = parseInvitationToken(input.token);
  if (!parsed) throw invalidToken();
  const { tenantId, tokenHash } = parsed;
  const db = deps.platform.db;

  // Read first (nothing is written before the person is proven, and no password is hashed for a dead token).
  const found = await db.transaction({ tenantId }, async (tx) => {
    const invitation = await findInvitationByTokenHash(tx, tenantId, tokenHash);
    if (!invitation || invitationStatus(invitation) !== 'pending') return null;
    const tenant = await findTenant(tx, tenantId);
    if (!tenant || tenant.status !== 'active' || !isEmailDomainAllowed(tenant.settings, invitation.email)) return null;
    return { invitation, account: await findUserByEmail(tx, invitation.email) };
  });
  if (!found) throw invalidToken();
  const { invitation } = found;
  const acceptor = await proveAcceptor(deps, invitation, found.account, caller, input, origin);
  const { userId } = acceptor;

  return db.transaction({ tenantId, userId }, async (tx) => {
    // Suspension or closure since the read: nothing is joined. FOR SHARE holds them off until commit.
    const tenant = await findTenant(tx, tenantId, { forShare: true });
    if (!tenant || tenant.status !== 'active' || !isEmailDomainAllowed(tenant.settings, invitation.email)) throw invalidToken();

    const actor = { type: 'user' as const, id: userId };
    if (acceptor.kind === 'new') {
      const created = await insertUser(tx, { id: userId, email: invitation.email, name: acceptor.name, passwordHash: acceptor.passwordHash });
      // Registered between the read and now: that account's owner must prove it instead.
      if (!created) throw new AppError('auth.email_taken', 'An account with this email address was just created; sign in and accept again.');
      await audit.record(tx, { actor, action: 'user.registered', target: { type: 'user', id: userId }, after: { email: invitation.email, name: acceptor.name, source: 'invitation' }, ...origin });
    } else {
      const user = await findUserById(tx, userId, { forUpdate: true });
      if (!user || user.status !== 'active') throw new AppError('auth.invalid_credentials', 'The account is disabled.');
      // The address changed since it was proven: the invitation is not this account's any more.
      if (!sameAddress(user.email, invitation.email)) throw emailMismatch();
      await markEmailVerified(tx, userId);
    }
    if (await hasMembership(tx, tenantId, userId)) {
      throw new AppError('invitation.already_member', 'You are already a member of this tenant; switch to it (POST /api/v1/auth/switch-tenant).');
    }
    const accepted = await markInvitationAccepted(tx, tenantId, invitation.id, tokenHash, userId);
    if (!accepted) throw invalidToken();

    // `owner`: the first owner of a tenant platform administration created without members.
    const role = accepted.role;
    await insertMembership(tx, tenantId, userId, role);
    // Stores deleted since the invitation was sent are skipped, not an error the invitee could fix.
    const live = await findLiveStoreIds(tx, tenantId, accepted.storeIds);
    const storeIds = accepted.storeIds.filter((id) => live.has(id));
    await insertStoreAssignments(tx, tenantId, userId, storeIds);
    // Likewise custom roles deleted (or made store roles) since: the rest were vetted when inviting.
    const stillTenantRoles = (await findRoles(tx, tenantId, accepted.roleIds)).filter((held) => held.key === null && held.scope === 'tenant').map((held) => held.id);
    const roleIds = accepted.roleIds.filter((id) => stillTenantRoles.includes(id));
    await insertRoleAssignments(tx, tenantId, roleIds.map((roleId) => ({ userId, roleId })), { storeId: null, assignedBy: accepted.invitedBy });

    const after = { invitationId: accepted.id, email: accepted.email, role, roleIds, storeIds, newAccount: acceptor.kind === 'new' };
    await audit.record(tx, { actor, action: 'member.joined', target: { type: 'member', id: userId }, after, ...origin });
    await emit(tx, { type: 'member.joined', tenantId, payload: { userId, invitedBy: accepted.invitedBy, ...after } });

    const mfaVerified = acceptor.kind === 'existing' && acceptor.mfaVerified;
    return signIn(tx, deps.identity, { userId, tenantId, mfaVerified, ip: origin.ip, userAgent: origin.userAgent });
  });
}
