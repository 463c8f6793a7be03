/**
 * Use-cases of the platform administration of tenants: list and read them across tenants, create one
 * with an invited owner, rename it, suspend and reactivate it, close and restore it.
 *
 * Reads across tenants run as the platform read role (`db.transaction({ platform: true }, …)`). Every
 * change runs in the tenant's own context and writes, in that one transaction: the tenant's audit row
 * (actor `platform_admin`), the platform audit row naming the same administrator, and the event the
 * organization module emits for the same change. Closing and restoring are the organization module's
 * own use-cases, given the platform audit row to add.
 */
import { audit, platformAudit, type RequestOrigin } from '../../core/audit/audit.js';
import type { Config } from '../../config.js';
import type { Tx } from '../../core/db/database.js';
import { isUuid, uuidv7 } from '../../core/db/ids.js';
import { emit } from '../../core/events/events.js';
import { AppError } from '../../core/http/errors.js';
import { decodeCursor, toPage, type Page } from '../../core/http/pagination.js';
import type { Platform } from '../../core/platform.js';
import { tenantSlugCandidates } from '../identity/index.js';
import {
  assertSlugUsable,
  closeTenantByPlatform,
  INVITATION_TTL_MS,
  insertInvitation,
  insertTenantWithFreeSlug,
  invitationLink,
  newInvitationToken,
  normalizeTenantName,
  queueInvitationMail,
  resolveTenantSettings,
  restorableUntil,
  requestedTenantProfile,
  restoreTenant,
  slugTakenOr,
  tenantProfileDiff,
  lockTenant,
  updateTenantProfile,
  type PlatformClosure,
  type UpdateTenantInput,
} from '../organization/index.js';
import type { AdminTenant, AdminTenantDetail, CreateAdminTenantInput, CreatedAdminTenant, ListAdminTenantsInput } from './admin.schemas.js';
import { findPersonName, findTenantDetail, listTenants, setTenantSuspension, type TenantDetailRow, type TenantListKey, type TenantRow } from './tenants.admin.repository.js';

export interface TenantAdminDeps {
  config: Config;
  platform: Platform;
}

/** The platform administrator (or operator, for reads) acting; the route's platform permission is checked. */
export interface PlatformStaff {
  userId: string;
}

const tenantNotFound = () => new AppError('tenant.not_found', 'No tenant has this id.');
const slugTaken = () => new AppError('tenant.slug_taken', 'Another tenant already uses this slug; choose another.', { errors: [{ in: 'body', field: '/slug', message: 'is taken' }] });

export function presentAdminTenant(row: TenantRow): AdminTenant {
  return { id: row.id, name: row.name, slug: row.slug, status: row.status, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() };
}

function presentDetail(deps: TenantAdminDeps, { tenant, memberCount, storeCount, owner }: TenantDetailRow): AdminTenantDetail {
  return {
    ...presentAdminTenant(tenant),
    memberCount,
    storeCount,
    owner,
    settings: { ...resolveTenantSettings(tenant.settings) },
    // A reason left from an earlier suspension is not this tenant's state once it is active (or closed).
    suspendedReason: tenant.status === 'suspended' ? tenant.suspendedReason : null,
    closedAt: tenant.closedAt?.toISOString() ?? null,
    restorableUntil: tenant.closedAt ? restorableUntil(tenant.closedAt, deps.config.tenants.restoreDays).toISOString() : null,
  };
}

async function readDetail(deps: TenantAdminDeps, tx: Tx, tenantId: string): Promise<AdminTenantDetail> {
  const row = await findTenantDetail(tx, tenantId);
  if (!row) throw tenantNotFound();
  return presentDetail(deps, row);
}

/** One change of a tenant, as both audit trails and the outbox tell it. */
interface TenantChange {
  /** The tenant's audit action and event type, e.g. `tenant.suspended`; the platform's is `platform.tenant_suspended`. */
  action: string;
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
  /** The event's payload; none: the change emits no event here (the organization use-case did). */
  payload?: Record<string, unknown>;
}

/** The platform audit row of a change to `tenantId` (in the caller's transaction). */
async function recordOnPlatform(tx: Tx, staff: PlatformStaff, tenantId: string, origin: RequestOrigin, change: TenantChange): Promise<void> {
  await platformAudit.record(tx, {
    actorId: staff.userId,
    action: `platform.${change.action.replace('.', '_')}`,
    target: { type: 'tenant', id: tenantId },
    tenantId,
    details: { before: change.before ?? null, after: change.after ?? null },
    ...origin,
  });
}

/** The tenant's audit row, its event and the platform audit row of one change, in the tenant's transaction. */
async function recordChange(tx: Tx, staff: PlatformStaff, tenantId: string, origin: RequestOrigin, change: TenantChange): Promise<void> {
  const entry = { actor: { type: 'platform_admin' as const, id: staff.userId }, action: change.action, target: { type: 'tenant', id: tenantId }, before: change.before, after: change.after, ...origin };
  await audit.recordWithEvent(tx, entry, { type: change.action, tenantId, payload: change.payload ?? { tenantId } });
  await recordOnPlatform(tx, staff, tenantId, origin, change);
}

const isListKey = (value: unknown): value is { c: string; id: string } =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { c?: unknown }).c === 'string' &&
  !Number.isNaN(Date.parse((value as { c: string }).c)) &&
  isUuid((value as { id?: unknown }).id as string);

/** `GET /admin/tenants`: every tenant, searched, filtered and in creation order (newest first by default). */
export async function listAdminTenants(deps: TenantAdminDeps, staff: PlatformStaff, query: ListAdminTenantsInput): Promise<Page<AdminTenant>> {
  const limit = query.limit ?? 20;
  const cursor = decodeCursor(query.cursor, isListKey);
  const after: TenantListKey | null = cursor ? { createdAt: cursor.c, id: cursor.id } : null;
  const filter = { search: query.search, status: query.status, newestFirst: query.sort !== 'created', after, limit: limit + 1 };
  const rows = await deps.platform.db.transaction({ platform: true, userId: staff.userId }, (tx) => listTenants(tx, filter));
  return toPage(rows, limit, presentAdminTenant, (row) => ({ c: row.cursorAt, id: row.id }));
}

/** `GET /admin/tenants/:id`: the tenant with its counts and owner, read as the platform read role. */
export async function getAdminTenant(deps: TenantAdminDeps, staff: PlatformStaff, tenantId: string): Promise<AdminTenantDetail> {
  return deps.platform.db.transaction({ platform: true, userId: staff.userId }, (tx) => readDetail(deps, tx, tenantId));
}

/** How the invitation mail prints its expiry (as the organization's invitation mails do). */
const mailTimestamp = (date: Date) => `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/**
 * `POST /admin/tenants`: a tenant with no member yet, its slug given (409 `tenant.slug_taken` when held)
 * or derived from the name as POST /tenants derives it, and an invitation with the `owner` role mailed to
 * `ownerEmail` — accepting it makes that person the owner. The tenant, the invitation, the audit rows of
 * both trails, the `tenant.created` and `member.invited` events and the mail commit together.
 */
export async function createAdminTenant(deps: TenantAdminDeps, staff: PlatformStaff, input: CreateAdminTenantInput, origin: RequestOrigin): Promise<CreatedAdminTenant> {
  const name = normalizeTenantName(input.name);
  if (input.slug !== undefined) assertSlugUsable(input.slug);
  const ownerEmail = input.ownerEmail.trim();
  const tenantId = uuidv7();
  const { token, tokenHash } = newInvitationToken(tenantId);

  return deps.platform.db.transaction({ tenantId, userId: staff.userId }, async (tx, executor) => {
    const tenant = await insertTenantWithFreeSlug(tx, tenantId, name, input.slug !== undefined ? [input.slug] : tenantSlugCandidates(name));
    if (!tenant) {
      if (input.slug !== undefined) throw slugTaken();
      throw new AppError('resource.conflict', 'Could not find a free address (slug) for the new tenant; give one, or try another name.');
    }
    await deps.platform.entitlements.startSubscription(tx, tenantId);
    const expiresAt = new Date(Date.now() + INVITATION_TTL_MS);
    // A new tenant has no invitation yet, so nothing can hold the address's pending slot.
    const invitation = (await insertInvitation(tx, tenantId, { email: ownerEmail, role: 'owner', storeIds: [], message: null, tokenHash, invitedBy: staff.userId, expiresAt }))!;

    const created = { name: tenant.name, slug: tenant.slug, ownerEmail, invitationId: invitation.id };
    // The payload of registration's and POST /tenants' event, with no owner yet (the invitation names them).
    const payload = { tenantId, name: tenant.name, slug: tenant.slug, ownerUserId: null, ownerEmail, source: 'platform_admin', createdBy: staff.userId };
    await recordChange(tx, staff, tenantId, origin, { action: 'tenant.created', after: created, payload });
    const invited = { email: ownerEmail, role: 'owner', roleIds: [] as string[], storeIds: [] as string[] };
    await audit.record(tx, { actor: { type: 'platform_admin', id: staff.userId }, action: 'member.invited', target: { type: 'invitation', id: invitation.id }, after: { ...invited, replaces: null }, ...origin });
    await emit(tx, { type: 'member.invited', tenantId, payload: { invitationId: invitation.id, ...invited, invitedBy: staff.userId, expiresAt: expiresAt.toISOString() } });

    await queueInvitationMail(deps.platform, executor, ownerEmail, {
      inviterName: (await findPersonName(tx, staff.userId)) ?? 'The platform administration',
      tenantName: tenant.name,
      role: 'the owner',
      link: invitationLink(deps.config.http.publicUrl, token),
      expiresAt: mailTimestamp(invitation.expiresAt),
      message: null,
    });
    const detail = await readDetail(deps, tx, tenantId);
    return { ...detail, ownerInvitation: { id: invitation.id, email: ownerEmail, expiresAt: invitation.expiresAt.toISOString() } };
  });
}

/**
 * `PATCH /admin/tenants/:id`: renames the tenant and/or changes its slug, validated as PATCH
 * /tenants/current validates them (409 `tenant.slug_taken`). A request that changes nothing writes nothing.
 */
export async function updateAdminTenant(deps: TenantAdminDeps, staff: PlatformStaff, tenantId: string, input: UpdateTenantInput, origin: RequestOrigin): Promise<AdminTenantDetail> {
  const wanted = requestedTenantProfile(input);
  try {
    return await inTenant(deps, staff, tenantId, async (tx, current) => {
      const { before, after } = tenantProfileDiff(current, wanted);
      if (Object.keys(after).length === 0) return;
      await updateTenantProfile(tx, tenantId, after);
      await recordChange(tx, staff, tenantId, origin, { action: 'tenant.updated', before, after, payload: { tenantId, before, after } });
    });
  } catch (error) {
    throw slugTakenOr(error);
  }
}

/**
 * Runs `change` on the locked tenant in its own context (404 `tenant.not_found`), then answers the
 * tenant as it is at the end of that transaction.
 */
async function inTenant(deps: TenantAdminDeps, staff: PlatformStaff, tenantId: string, change: (tx: Tx, tenant: TenantRow) => Promise<void>): Promise<AdminTenantDetail> {
  return deps.platform.db.transaction({ tenantId, userId: staff.userId }, async (tx) => {
    const tenant = await lockTenant(tx, tenantId);
    if (!tenant) throw tenantNotFound();
    await change(tx, tenant);
    return readDetail(deps, tx, tenantId);
  });
}

/**
 * `POST /admin/tenants/:id/suspend`: an active tenant is suspended for `reason` (409 `tenant.not_active`
 * otherwise). Its members are refused (403 `auth.tenant_access_revoked`) from their next request on:
 * authentication reads the tenant's status with every one.
 */
export async function suspendTenant(deps: TenantAdminDeps, staff: PlatformStaff, tenantId: string, reason: string, origin: RequestOrigin): Promise<AdminTenantDetail> {
  const why = reason.trim();
  if (why === '') throw new AppError('request.validation_failed', 'The request is invalid: body/reason must not be blank.', { errors: [{ in: 'body', field: '/reason', message: 'must not be blank' }] });
  return inTenant(deps, staff, tenantId, async (tx, tenant) => {
    if (tenant.status !== 'active') throw new AppError('tenant.not_active', `The tenant is ${tenant.status}; only an active tenant can be suspended.`);
    await setTenantSuspension(tx, tenantId, { status: 'suspended', reason: why });
    const change = { before: { status: 'active' }, after: { status: 'suspended', reason: why } };
    await recordChange(tx, staff, tenantId, origin, { action: 'tenant.suspended', ...change, payload: { tenantId, reason: why, suspendedBy: staff.userId } });
  });
}

/** `POST /admin/tenants/:id/reactivate`: a suspended tenant is active again (409 `tenant.not_suspended` otherwise). */
export async function reactivateTenant(deps: TenantAdminDeps, staff: PlatformStaff, tenantId: string, origin: RequestOrigin): Promise<AdminTenantDetail> {
  return inTenant(deps, staff, tenantId, async (tx, tenant) => {
    if (tenant.status !== 'suspended') throw new AppError('tenant.not_suspended', `The tenant is ${tenant.status}, not suspended.`);
    await setTenantSuspension(tx, tenantId, { status: 'active' });
    const change = { before: { status: 'suspended', reason: tenant.suspendedReason }, after: { status: 'active' } };
    await recordChange(tx, staff, tenantId, origin, { action: 'tenant.reactivated', ...change, payload: { tenantId, reactivatedBy: staff.userId } });
  });
}

/**
 * `DELETE /admin/tenants/:id`: closes the tenant as its owner would (organization's closure: status,
 * audit row, `tenant.closed` event, purge scheduled), with the platform audit row in the same transaction.
 * An already closed tenant is answered as it is (`closedNow: false`).
 */
export async function closeAdminTenant(deps: TenantAdminDeps, staff: PlatformStaff, tenantId: string, note: string | null, origin: RequestOrigin): Promise<PlatformClosure> {
  const reason = note?.trim() || null;
  return closeTenantByPlatform(deps, tenantId, { adminId: staff.userId, note: reason }, origin, async (tx, closure) => {
    const after = { status: 'closed', closedAt: closure.closedAt, restorableUntil: closure.restorableUntil, reason };
    await recordOnPlatform(tx, staff, tenantId, origin, { action: 'tenant.closed', after });
  });
}

/**
 * `POST /admin/tenants/:id/restore`: the organization's restore (409 `tenant.not_closed`,
 * `tenant.restore_window_expired`), with the platform audit row in the same transaction.
 */
export async function restoreAdminTenant(deps: TenantAdminDeps, staff: PlatformStaff, tenantId: string, origin: RequestOrigin): Promise<AdminTenantDetail> {
  let detail: AdminTenantDetail | undefined;
  await restoreTenant(deps, tenantId, { type: 'platform_admin', id: staff.userId }, origin, async (tx) => {
    await recordOnPlatform(tx, staff, tenantId, origin, { action: 'tenant.restored', before: { status: 'closed' }, after: { status: 'active' } });
    detail = await readDetail(deps, tx, tenantId);
  });
  return detail!;
}
