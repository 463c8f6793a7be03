/**
 * Use-cases of the tenant itself: its profile and settings, creating another tenant, handing the
 * ownership over, and leaving it. Closing, restoring and purging live in tenant-closure.ts.
 *
 * Every change locks the tenant row first (then any membership), so concurrent changes of one tenant
 * queue in one order, and writes its audit row and domain event in the same transaction.
 */
import { audit, type RequestOrigin } from '../../core/audit/audit.js';
import { pgConstraint, pgErrorCode, PG } from '../../core/db/errors.js';
import { uuidv7 } from '../../core/db/ids.js';
import { emit } from '../../core/events/events.js';
import { AppError } from '../../core/http/errors.js';
import { checkSlug } from '../../core/tenancy/slug.js';
import { assertCurrentPassword, tenantSlugCandidates, type SignedInPerson } from '../identity/index.js';
import type { OrganizationDeps } from './deps.js';
import { mergeSettings, normalizeSettingsPatch, resolveTenantSettings, settingsChanges, type TenantSettings, type TenantSettingsPatch } from './tenant-settings.js';
import {
  deleteMembership,
  findPasswordHolder,
  findTenant,
  insertMembership,
  insertTenantWithFreeSlug,
  lockMembership,
  lockOwnerMembership,
  lockTenant,
  setMembershipRole,
  updateTenantProfile,
  updateTenantSettings,
  type TenantRow,
} from './tenants.repository.js';
import type { CreateTenantInput, OwnershipTransfer, TenantProfile, TransferOwnershipInput, UpdateTenantInput } from './tenants.schemas.js';

/** A person acting in their current tenant (authentication resolved both from the token). */
export interface TenantMember {
  tenantId: string;
  userId: string;
}

export function presentTenant(row: TenantRow): TenantProfile {
  return { id: row.id, name: row.name, slug: row.slug, status: row.status, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() };
}

export function invalidField(field: string, message: string): AppError {
  return new AppError('request.validation_failed', `The request is invalid: body${field} ${message}.`, { errors: [{ in: 'body', field, message }] });
}

const tenantGone = () => new AppError('tenant.not_found', 'The tenant no longer exists.');
const memberNotFound = () => new AppError('member.not_found', 'No active member of this tenant has that id.');

/** The tenant row or 404; authentication saw it a moment ago, so a miss means it was just purged. */
function requireTenant(row: TenantRow | null): TenantRow {
  if (!row) throw tenantGone();
  return row;
}

const actorOf = (member: TenantMember) => ({ type: 'user' as const, id: member.userId });
const tenantTarget = (tenantId: string) => ({ type: 'tenant', id: tenantId });

/** `GET /tenants/current`. */
export async function getCurrentTenant(deps: OrganizationDeps, member: TenantMember): Promise<TenantProfile> {
  return presentTenant(requireTenant(await deps.platform.db.withTenant(member.tenantId, (tx) => findTenant(tx, member.tenantId))));
}

/** A tenant name as stored: trimmed; blank → 400 naming `/name`. */
export function normalizeTenantName(name: string): string {
  const trimmed = name.trim();
  if (trimmed === '') throw invalidField('/name', 'must not be blank');
  return trimmed;
}

/** 400 naming `/slug` when it is badly formed or reserved (uniqueness is the database's to decide). */
export function assertSlugUsable(slug: string): void {
  const problem = checkSlug(slug);
  if (problem === 'format') throw invalidField('/slug', 'must be 3–63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit');
  if (problem === 'reserved') throw invalidField('/slug', 'is a reserved name');
}

/** The validated name and slug a profile change asks for (PATCH /tenants/current, platform administration). */
export function requestedTenantProfile(input: UpdateTenantInput): { name?: string; slug?: string } {
  const wanted: { name?: string; slug?: string } = {};
  if (input.name !== undefined) wanted.name = normalizeTenantName(input.name);
  if (input.slug !== undefined) {
    assertSlugUsable(input.slug);
    wanted.slug = input.slug;
  }
  return wanted;
}

/** What `wanted` changes in `current`: the changed fields before and after (both empty when nothing). */
export function tenantProfileDiff(current: TenantRow, wanted: { name?: string; slug?: string }) {
  const before: Record<string, string> = {};
  const after: Record<string, string> = {};
  for (const key of ['name', 'slug'] as const) {
    const value = wanted[key];
    if (value === undefined || value === current[key]) continue;
    before[key] = current[key];
    after[key] = value;
  }
  return { before, after };
}

/** 409 `tenant.slug_taken` for the unique-slug violation (the index sees every tenant's slug, whatever RLS hides); any other error unchanged. */
export function slugTakenOr(error: unknown): unknown {
  if (pgErrorCode(error) === PG.uniqueViolation && pgConstraint(error) === 'tenants_slug_key') {
    return new AppError('tenant.slug_taken', 'Another tenant already uses this slug; choose another.', { errors: [{ in: 'body', field: '/slug', message: 'is taken' }] });
  }
  return error;
}

/**
 * `PATCH /tenants/current`: renames the tenant and/or changes its slug. A slug another tenant holds (in
 * any status: a closed tenant keeps its slug until it is purged) → 409 `tenant.slug_taken`. A request
 * that changes nothing writes nothing.
 */
export async function updateCurrentTenant(deps: OrganizationDeps, member: TenantMember, input: UpdateTenantInput, origin: RequestOrigin): Promise<TenantProfile> {
  const wanted = requestedTenantProfile(input);
  try {
    return await deps.platform.db.transaction({ tenantId: member.tenantId, userId: member.userId }, async (tx) => {
      const current = requireTenant(await lockTenant(tx, member.tenantId));
      const { before, after } = tenantProfileDiff(current, wanted);
      if (Object.keys(after).length === 0) return presentTenant(current);

      const updated = await updateTenantProfile(tx, member.tenantId, after);
      await audit.record(tx, { actor: actorOf(member), action: 'tenant.updated', target: tenantTarget(member.tenantId), before, after, ...origin });
      await emit(tx, { type: 'tenant.updated', tenantId: member.tenantId, payload: { tenantId: member.tenantId, before, after } });
      return presentTenant(updated);
    });
  } catch (error) {
    throw slugTakenOr(error);
  }
}

/** `GET /tenants/current/settings`: every setting, defaults filled in. */
export async function getTenantSettings(deps: OrganizationDeps, member: TenantMember): Promise<TenantSettings> {
  const tenant = requireTenant(await deps.platform.db.withTenant(member.tenantId, (tx) => findTenant(tx, member.tenantId)));
  return resolveTenantSettings(tenant.settings);
}

/**
 * `PATCH /tenants/current/settings`: validates the change (time zones, currencies and locales against
 * the runtime's catalogs), merges it into the stored document and answers every setting. The audit row
 * and the event carry only the settings that changed.
 */
export async function updateCurrentTenantSettings(deps: OrganizationDeps, member: TenantMember, patch: TenantSettingsPatch, origin: RequestOrigin): Promise<TenantSettings> {
  const change = normalizeSettingsPatch(patch);
  return deps.platform.db.transaction({ tenantId: member.tenantId, userId: member.userId }, async (tx) => {
    const tenant = requireTenant(await lockTenant(tx, member.tenantId));
    const merged = mergeSettings(tenant.settings, change);
    const before = resolveTenantSettings(tenant.settings);
    const after = resolveTenantSettings(merged);
    const changes = settingsChanges(before, after);
    if (!changes) return after;

    await updateTenantSettings(tx, member.tenantId, merged);
    await audit.record(tx, { actor: actorOf(member), action: 'tenant.settings_updated', target: tenantTarget(member.tenantId), ...changes, ...origin });
    await emit(tx, { type: 'tenant.settings_updated', tenantId: member.tenantId, payload: { tenantId: member.tenantId, ...changes } });
    return after;
  });
}

/**
 * `POST /tenants`: a new tenant owned by the caller, under a slug derived from its name as at
 * registration. The caller's session stays where it is; POST /auth/switch-tenant moves it.
 */
export async function createTenant(deps: OrganizationDeps, person: SignedInPerson, input: CreateTenantInput, origin: RequestOrigin): Promise<TenantProfile> {
  const name = normalizeTenantName(input.name);
  const tenantId = uuidv7();
  return deps.platform.db.transaction({ tenantId, userId: person.userId }, async (tx) => {
    const tenant = await insertTenantWithFreeSlug(tx, tenantId, name, tenantSlugCandidates(name));
    if (!tenant) throw new AppError('resource.conflict', 'Could not find a free address (slug) for the new tenant; try another name.');
    await deps.platform.entitlements.startSubscription(tx, tenantId);
    await insertMembership(tx, tenantId, person.userId, 'owner');

    const actor = { type: 'user' as const, id: person.userId };
    await audit.record(tx, { actor, action: 'tenant.created', target: tenantTarget(tenantId), after: { name: tenant.name, slug: tenant.slug }, ...origin });
    // The same payload as registration's, so consumers treat both alike.
    await emit(tx, { type: 'tenant.created', tenantId, payload: { tenantId, name: tenant.name, slug: tenant.slug, ownerUserId: person.userId, source: 'api' } });
    return presentTenant(tenant);
  });
}

/** Checks the caller's password through identity's brute-force guard (401 `auth.invalid_credentials`). */
export async function assertMemberPassword(deps: OrganizationDeps, member: TenantMember, password: string, ip: string): Promise<void> {
  const holder = await deps.platform.db.transaction({ userId: member.userId }, (tx) => findPasswordHolder(tx, member.userId));
  // Authentication refused disabled people a moment ago; this guards the gap in between.
  if (!holder || holder.status !== 'active') throw new AppError('auth.unauthenticated', 'A valid credential is required.');
  await assertCurrentPassword(deps.identity, holder, password, ip);
}

/**
 * `POST /tenants/current/transfer-ownership`: after the owner's password, the target (an active member
 * with an active account) becomes the owner and the caller an admin, in one transaction. The tenant row
 * and then the owner's membership are locked (FOR UPDATE) before anything is read, so two transfers (or
 * a transfer racing a role change) cannot leave two owners or none: the second waits, then finds the
 * caller no longer the owner and is refused (403 `auth.forbidden`).
 */
export async function transferOwnership(deps: OrganizationDeps, member: TenantMember, input: TransferOwnershipInput, origin: RequestOrigin): Promise<OwnershipTransfer> {
  if (input.userId === member.userId) throw invalidField('/userId', 'is you; name the member who should become the owner');
  await assertMemberPassword(deps, member, input.password, origin.ip);

  return deps.platform.db.transaction({ tenantId: member.tenantId, userId: member.userId }, async (tx) => {
    requireTenant(await lockTenant(tx, member.tenantId));
    const owner = await lockOwnerMembership(tx, member.tenantId);
    if (owner?.userId !== member.userId) throw new AppError('auth.forbidden', 'Only the owner can hand the ownership over.');
    const target = await lockMembership(tx, member.tenantId, input.userId);
    if (!target || target.status !== 'active' || target.userStatus !== 'active') throw memberNotFound();

    // Former owner first: at no point of the transaction are there two owners.
    await setMembershipRole(tx, member.tenantId, member.userId, 'admin');
    await setMembershipRole(tx, member.tenantId, input.userId, 'owner');
    const change = { before: { ownerUserId: member.userId, newOwnerRole: target.role }, after: { ownerUserId: input.userId, previousOwnerRole: 'admin' } };
    await audit.record(tx, { actor: actorOf(member), action: 'tenant.ownership_transferred', target: tenantTarget(member.tenantId), ...change, ...origin });
    await emit(tx, {
      type: 'tenant.ownership_transferred',
      tenantId: member.tenantId,
      payload: { tenantId: member.tenantId, previousOwnerUserId: member.userId, newOwnerUserId: input.userId },
    });
    return { ownerUserId: input.userId, previousOwnerUserId: member.userId };
  });
}

/**
 * `POST /tenants/current/leave`: removes the caller's membership (their store assignments cascade).
 * Their tokens for this tenant stop working at once, as authentication finds no membership. The owner
 * must hand the ownership over first (409 `tenant.owner_cannot_leave`).
 */
export async function leaveTenant(deps: OrganizationDeps, member: TenantMember, origin: RequestOrigin): Promise<void> {
  await deps.platform.db.transaction({ tenantId: member.tenantId, userId: member.userId }, async (tx) => {
    requireTenant(await lockTenant(tx, member.tenantId));
    const membership = await lockMembership(tx, member.tenantId, member.userId);
    if (!membership) throw memberNotFound();
    if (membership.role === 'owner') {
      throw new AppError('tenant.owner_cannot_leave', 'The owner cannot leave the tenant: transfer the ownership to another member first, or close the tenant.');
    }
    await deleteMembership(tx, member.tenantId, member.userId);
    const target = { type: 'user', id: member.userId };
    await audit.record(tx, { actor: actorOf(member), action: 'member.left', target, before: { role: membership.role, status: membership.status }, ...origin });
    await emit(tx, { type: 'member.left', tenantId: member.tenantId, payload: { tenantId: member.tenantId, userId: member.userId } });
  });
}
