/**
 * Invitations, the tenant's side: invite a person by email, list the invitations, resend one (a new
 * token and expiry), revoke one. Acceptance — the invitee's side — is in accept-invite.service.ts.
 *
 * The emailed token is `<tenantId>.<secret>`: 256 random bits, of which only the SHA-256 is stored. It
 * names its tenant so acceptance can look it up inside that tenant (row-level security needs the tenant
 * before any row is visible) without a cross-tenant index or a privileged read.
 *
 * Each change writes its audit row, its outbox event and — when it sends one — queues its mail in the same
 * transaction: the mail goes out only if the invitation it carries exists.
 */
import { audit, type RequestOrigin } from '../../core/audit/audit.js';
import type { Tx } from '../../core/db/database.js';
import { isUuid } from '../../core/db/ids.js';
import { emit } from '../../core/events/events.js';
import { AppError } from '../../core/http/errors.js';
import { decodeCursor, toPage, type Page } from '../../core/http/pagination.js';
import type { MembershipRole } from '../../core/tenancy/tenancy.table.js';
import { generateSecretToken, hashSecretToken } from '../identity/index.js';
import type { OrganizationDeps } from './deps.js';
import { findLiveStoreIds } from './stores.repository.js';
import { invitationLink, queueInvitationMail, roleInASentence } from './invitation-mails.js';
import { assertCanGrantNewMember, resolveNewMemberRoles, type Granter } from './member-roles.js';
import {
  findInvitation,
  findMembershipByEmail,
  findOpenInvitationByEmail,
  findTenant,
  findUserById,
  insertInvitation,
  invitationStatus,
  listInvitations as listInvitationRows,
  renewInvitationToken,
  revokeInvitation as revokeInvitationRow,
  type InvitationRow,
  type InvitationStatus,
  type TenantFacts,
} from './invitations.repository.js';

/** How long an invitation link works (the issue: 7 days). */
export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

export type InvitableRole = 'admin' | 'member';

/** The member of the tenant acting (the route's permission is already checked). */
export interface TenantActor {
  userId: string;
  tenantId: string;
}

export interface InvitationView {
  id: string;
  email: string;
  role: MembershipRole;
  roleIds: string[];
  storeIds: string[];
  message: string | null;
  status: InvitationStatus;
  expiresAt: string;
  createdAt: string;
  invitedBy: string | null;
  acceptedAt: string | null;
  revokedAt: string | null;
}

export interface InviteInput {
  email: string;
  role?: InvitableRole;
  roleIds?: string[];
  storeIds?: string[];
  message?: string;
}

export function presentInvitation(row: InvitationRow, now: Date = new Date()): InvitationView {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    roleIds: row.roleIds,
    storeIds: row.storeIds,
    message: row.message,
    status: invitationStatus(row, now),
    expiresAt: row.expiresAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
    invitedBy: row.invitedBy,
    acceptedAt: row.acceptedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}

/** A new emailed token and what is stored of it. */
export function newInvitationToken(tenantId: string): { token: string; tokenHash: string } {
  const secret = generateSecretToken();
  return { token: `${tenantId}.${secret}`, tokenHash: hashSecretToken(secret) };
}

/**
 * The tenant's `security.allowedEmailDomains`, lower-cased without a leading `@`; null when unset or
 * empty (an empty list restricting nobody is the reading that cannot lock a tenant out of inviting).
 */
export function allowedEmailDomains(settings: Record<string, unknown>): string[] | null {
  const security = settings.security;
  if (typeof security !== 'object' || security === null) return null;
  const domains = (security as { allowedEmailDomains?: unknown }).allowedEmailDomains;
  if (!Array.isArray(domains)) return null;
  const normalized = domains.filter((domain): domain is string => typeof domain === 'string').map((domain) => domain.trim().replace(/^@/, '').toLowerCase());
  return normalized.length > 0 ? normalized : null;
}

/** Whether the tenant's domain policy lets this address in: its domain equals a listed one (no subdomains). */
export function isEmailDomainAllowed(settings: Record<string, unknown>, email: string): boolean {
  const domains = allowedEmailDomains(settings);
  if (!domains) return true;
  const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
  return domains.includes(domain);
}

const notFound = () => new AppError('invitation.not_found', 'No invitation of this tenant has this id.');
const notPending = (status: 'accepted' | 'revoked') => new AppError('invitation.not_pending', `The invitation was ${status}; invite the person again instead.`);
const alreadyMember = () =>
  new AppError('invitation.already_member', 'The person with this email address is already a member of this tenant (an inactive member is reactivated with PATCH /api/v1/users/:id).');

function assertDomainAllowed(tenant: TenantFacts, email: string, field: string | null): void {
  if (isEmailDomainAllowed(tenant.settings, email)) return;
  const domains = allowedEmailDomains(tenant.settings)!.join(', ');
  throw new AppError('invitation.domain_not_allowed', `This tenant only admits email addresses of ${domains}.`, {
    ...(field ? { errors: [{ in: 'body' as const, field, message: `must be an address of ${domains}` }] } : {}),
  });
}

/** The tenant as the use-cases need it; it exists and is active, or authentication would have refused. */
async function getTenant(tx: Tx, tenantId: string): Promise<TenantFacts> {
  const tenant = await findTenant(tx, tenantId);
  if (!tenant) throw new AppError('auth.tenant_access_revoked', 'Your access to this tenant is no longer active.');
  return tenant;
}

async function sendInvitationMail(deps: OrganizationDeps, tx: Tx, executor: Parameters<typeof queueInvitationMail>[1], actor: TenantActor, tenant: TenantFacts, row: InvitationRow, token: string) {
  const inviter = await findUserById(tx, actor.userId);
  await queueInvitationMail(deps.platform, executor, row.email, {
    inviterName: inviter?.name ?? 'A member',
    tenantName: tenant.name,
    role: roleInASentence(row.role),
    link: invitationLink(deps.config.http.publicUrl, token),
    expiresAt: `${row.expiresAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    message: row.message,
  });
}

/** Store ids as asked (duplicates dropped), each a live store of the tenant, else a 400 naming it. */
async function checkStoreIds(tx: Tx, tenantId: string, storeIds: string[]): Promise<string[]> {
  const unique = [...new Set(storeIds.map((id) => id.toLowerCase()))];
  const live = await findLiveStoreIds(tx, tenantId, unique);
  const errors = storeIds.flatMap((id, index) => (live.has(id.toLowerCase()) ? [] : [{ in: 'body' as const, field: `/storeIds/${index}`, message: 'is not a store of this tenant' }]));
  if (errors.length > 0) throw new AppError('request.validation_failed', 'The request is invalid: every storeIds entry must be a store of this tenant.', { errors });
  return unique;
}

/**
 * `POST /users/invite`: invites `email` with roles (member-roles.ts: a built-in tenant role and custom
 * ones, none with a permission the inviter lacks) and stores. A person already in the tenant (active or
 * deactivated) answers 409; an open invitation for the same address is replaced — revoked, so its token
 * stops working — by the new one, which is what an admin re-inviting someone means.
 *
 * A pending invitation holds a seat of the plan's `maxUsers` until it is accepted (which then adds
 * nothing), revoked or expires: the seat is counted here, after the replaced invitation gave its own
 * back, in the transaction of the insert under the limit's locks (402 `plan.limit_reached`).
 */
export async function inviteMember(deps: OrganizationDeps, actor: TenantActor, granter: Granter, input: InviteInput, origin: RequestOrigin): Promise<InvitationView> {
  const { tenantId } = actor;
  const email = input.email.trim();
  const message = input.message?.trim() || null;
  const { token, tokenHash } = newInvitationToken(tenantId);

  return deps.platform.db.transaction({ tenantId, userId: actor.userId }, async (tx, executor) => {
    const tenant = await getTenant(tx, tenantId);
    assertDomainAllowed(tenant, email, '/email');
    if (await findMembershipByEmail(tx, tenantId, email)) throw alreadyMember();
    const storeIds = await checkStoreIds(tx, tenantId, input.storeIds ?? []);
    const roles = await resolveNewMemberRoles(tx, tenantId, input);
    assertCanGrantNewMember(granter, roles, storeIds.length > 0);
    const role = roles.base;
    const roleIds = roles.custom.map((custom) => custom.id);

    const who = { actor: { type: 'user' as const, id: actor.userId }, ...origin };
    const replaced = await findOpenInvitationByEmail(tx, tenantId, email);
    if (replaced) {
      await revokeInvitationRow(tx, tenantId, replaced.id);
      await audit.record(tx, { ...who, action: 'member.invitation_revoked', target: { type: 'invitation', id: replaced.id }, after: { email: replaced.email, reason: 'replaced' } });
      await emit(tx, { type: 'member.invitation_revoked', tenantId, payload: { invitationId: replaced.id, email: replaced.email, reason: 'replaced' } });
    }
    await deps.platform.entitlements.assertWithinLimit(tx, tenantId, 'maxUsers', 1);
    const row = await insertInvitation(tx, tenantId, { email, role, roleIds, storeIds, message, tokenHash, invitedBy: actor.userId, expiresAt: new Date(Date.now() + INVITATION_TTL_MS) });
    // A concurrent invite of the same address committed first: the pending-address index refused this one.
    if (!row) throw new AppError('resource.conflict', 'Another invitation for this address was just created; list the invitations and retry if needed.');

    const after = { email, role, roleIds, storeIds, replaces: replaced?.id ?? null };
    await audit.record(tx, { ...who, action: 'member.invited', target: { type: 'invitation', id: row.id }, after });
    await emit(tx, { type: 'member.invited', tenantId, payload: { invitationId: row.id, email, role, roleIds, storeIds, invitedBy: actor.userId, expiresAt: row.expiresAt.toISOString() } });
    await sendInvitationMail(deps, tx, executor, actor, tenant, row, token);
    return presentInvitation(row);
  });
}

export interface InvitationListQuery {
  status?: InvitationStatus;
  limit?: number;
  cursor?: string;
}

const isCursorKey = (value: unknown): value is { id: string } =>
  typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string' && isUuid((value as { id: string }).id);

/** `GET /invitations`: newest first, optionally of one status. */
export async function listInvitations(deps: OrganizationDeps, actor: TenantActor, query: InvitationListQuery): Promise<Page<InvitationView>> {
  const after = decodeCursor(query.cursor, isCursorKey);
  const limit = query.limit ?? 20;
  const rows = await deps.platform.db.transaction({ tenantId: actor.tenantId, userId: actor.userId }, (tx) =>
    listInvitationRows(tx, actor.tenantId, { status: query.status, limit, beforeId: after?.id }),
  );
  const now = new Date();
  return toPage(rows, limit, (row) => presentInvitation(row, now), (row) => ({ id: row.id }));
}

/**
 * `POST /invitations/:id/resend`: a pending or expired invitation gets a new token (the old link stops
 * working), a new 7-day expiry and the mail again. The domain policy and membership are checked again:
 * either may have changed since the first mail. A pending invitation keeps its seat; an expired one
 * held none and takes one again (402 `plan.limit_reached` when none is free).
 */
export async function resendInvitation(deps: OrganizationDeps, actor: TenantActor, id: string, origin: RequestOrigin): Promise<InvitationView> {
  const { tenantId } = actor;
  const { token, tokenHash } = newInvitationToken(tenantId);
  return deps.platform.db.transaction({ tenantId, userId: actor.userId }, async (tx, executor) => {
    const current = await findInvitation(tx, tenantId, id, { forUpdate: true });
    if (!current) throw notFound();
    const status = invitationStatus(current);
    if (status === 'accepted' || status === 'revoked') throw notPending(status);
    const tenant = await getTenant(tx, tenantId);
    assertDomainAllowed(tenant, current.email, null);
    if (await findMembershipByEmail(tx, tenantId, current.email)) throw alreadyMember();
    if (status === 'expired') await deps.platform.entitlements.assertWithinLimit(tx, tenantId, 'maxUsers', 1);

    // The row is locked and still open, so the update finds it.
    const row = (await renewInvitationToken(tx, tenantId, id, tokenHash, new Date(Date.now() + INVITATION_TTL_MS)))!;
    await audit.record(tx, {
      actor: { type: 'user', id: actor.userId },
      action: 'member.invitation_resent',
      target: { type: 'invitation', id },
      before: { expiresAt: current.expiresAt.toISOString() },
      after: { expiresAt: row.expiresAt.toISOString() },
      ...origin,
    });
    await emit(tx, { type: 'member.invitation_resent', tenantId, payload: { invitationId: id, email: row.email, expiresAt: row.expiresAt.toISOString() } });
    await sendInvitationMail(deps, tx, executor, actor, tenant, row, token);
    return presentInvitation(row);
  });
}

/**
 * `DELETE /invitations/:id`: the link stops working. Revoking a revoked invitation changes nothing and
 * succeeds (DELETE is idempotent); an accepted one answers 409 (remove the member instead).
 */
export async function revokeInvitation(deps: OrganizationDeps, actor: TenantActor, id: string, origin: RequestOrigin): Promise<void> {
  const { tenantId } = actor;
  await deps.platform.db.transaction({ tenantId, userId: actor.userId }, async (tx) => {
    const current = await findInvitation(tx, tenantId, id, { forUpdate: true });
    if (!current) throw notFound();
    if (current.acceptedAt) throw notPending('accepted');
    if (current.revokedAt) return;
    // The row is locked: it is still open.
    const row = (await revokeInvitationRow(tx, tenantId, id))!;
    await audit.record(tx, { actor: { type: 'user', id: actor.userId }, action: 'member.invitation_revoked', target: { type: 'invitation', id }, after: { email: row.email, reason: 'revoked' }, ...origin });
    await emit(tx, { type: 'member.invitation_revoked', tenantId, payload: { invitationId: id, email: row.email, reason: 'revoked' } });
  });
}
