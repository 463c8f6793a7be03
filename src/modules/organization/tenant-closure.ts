/**
 * Closing a tenant, restoring it, and purging it once it can no longer be restored.
 *
 * Closing sets the status (members lose access at once: authentication reads it on every request) and,
 * in the same transaction, schedules the purge as a pg-boss job due when the restore window ends
 * (`TENANT_RESTORE_DAYS`). Why a job per closed tenant rather than a periodic sweep: finding "every
 * tenant closed more than N days ago" is a read across tenants, and the app role has no such path (RLS
 * shows a transaction only its own tenant; DESIGN §5 keeps BYPASSRLS off the runtime). The job carries
 * its tenant id, and the purge runs inside that tenant's own context, where its row is visible.
 *
 * The job re-checks everything when it runs: a restored tenant is left alone, and one whose window was
 * lengthened since (config) is rescheduled. Jobs are retried with backoff and never delete early, so a
 * duplicate job (closed, restored, closed again) is harmless.
 */
import { audit, type RequestOrigin } from '../../core/audit/audit.js';
import type { ActorType } from '../../core/audit/audit.table.js';
import type { SqlExecutor, Tx } from '../../core/db/database.js';
import { emit } from '../../core/events/events.js';
import { AppError } from '../../core/http/errors.js';
import type { JobQueue } from '../../core/jobs/jobs.js';
import type { Platform } from '../../core/platform.js';
import type { OrganizationDeps } from './deps.js';
import { deleteTenant, findTenant, lockTenant, markTenantClosed, markTenantRestored, type TenantRow } from './tenants.repository.js';
import type { CloseTenantInput, TenantClosure, TenantProfile } from './tenants.schemas.js';
import { assertMemberPassword, presentTenant, type TenantMember } from './tenants.service.js';

export const TENANT_PURGE_QUEUE = 'tenant.purge';

const DAY_MS = 24 * 60 * 60 * 1000;

interface PurgeJob {
  tenantId: string;
}

/** When a tenant closed at `closedAt` stops being restorable (and is purged). */
export function restorableUntil(closedAt: Date, restoreDays: number): Date {
  return new Date(closedAt.getTime() + restoreDays * DAY_MS);
}

/**
 * The purge queue, retried patiently: a purge that keeps failing (database away for a while) must not
 * end in the dead-letter queue within minutes and leave the tenant behind. Idempotent; called when the
 * organization module starts (jobs can only be sent to a queue that exists) and by the worker.
 */
export async function defineTenantPurgeQueue(jobs: JobQueue): Promise<void> {
  await jobs.define({ name: TENANT_PURGE_QUEUE, retryLimit: 10, retryDelaySeconds: 60, expireInSeconds: 60 * 60 });
}

/**
 * Schedules the purge of a tenant closed at `closedAt` for the end of its restore window, inside the
 * transaction of `executor` (so it exists exactly when the closure commits). Whatever closes a tenant
 * calls this — the owner's DELETE, an account deletion, the platform administration — or the tenant is
 * never purged. The queue is defined when the organization module starts.
 */
export async function scheduleTenantPurge(
  deps: Pick<OrganizationDeps, 'config' | 'platform'>,
  executor: SqlExecutor,
  tenantId: string,
  closedAt: Date,
): Promise<void> {
  const due = restorableUntil(closedAt, deps.config.tenants.restoreDays);
  await deps.platform.jobs.send<PurgeJob>(TENANT_PURGE_QUEUE, { tenantId }, { startAfter: due, db: executor });
}

function presentClosure(row: TenantRow, restoreDays: number): TenantClosure {
  const closedAt = row.closedAt!;
  return { id: row.id, status: 'closed', closedAt: closedAt.toISOString(), restorableUntil: restorableUntil(closedAt, restoreDays).toISOString() };
}

/**
 * `DELETE /tenants/current`: the owner closes the tenant, confirming with its slug (400
 * `tenant.confirmation_mismatch`) and their password (401 `auth.invalid_credentials`). The status change,
 * the audit row, the `tenant.closed` event and the scheduled purge commit together.
 */
export async function closeTenant(deps: OrganizationDeps, member: TenantMember, input: CloseTenantInput, origin: RequestOrigin): Promise<TenantClosure> {
  const { db } = deps.platform;
  const mismatch = () => new AppError('tenant.confirmation_mismatch', 'Type the tenant’s slug in `confirm` to close it.', { errors: [{ in: 'body', field: '/confirm', message: 'does not match the tenant’s slug' }] });

  // The cheap check first: a mistyped confirmation spends no password attempt.
  const current = await db.withTenant(member.tenantId, (tx) => findTenant(tx, member.tenantId));
  if (!current) throw new AppError('tenant.not_found', 'The tenant no longer exists.');
  if (input.confirm !== current.slug) throw mismatch();
  await assertMemberPassword(deps, member, input.password, origin.ip);

  return db.transaction({ tenantId: member.tenantId, userId: member.userId }, async (tx, executor) => {
    const tenant = await lockTenant(tx, member.tenantId);
    if (!tenant) throw new AppError('tenant.not_found', 'The tenant no longer exists.');
    // The slug may have changed while the password was checked: the confirmation must name the tenant as it is.
    if (input.confirm !== tenant.slug) throw mismatch();
    if (tenant.status !== 'active') throw new AppError('auth.tenant_access_revoked', 'The tenant is no longer active.');
    return recordClosure(deps, tx, executor, tenant, { actor: { type: 'user', id: member.userId }, reason: 'owner_request' }, origin);
  });
}

/** Who closed a tenant and why, as its audit row and `tenant.closed` event tell it. */
interface ClosureCause {
  actor: { type: Extract<ActorType, 'user' | 'platform_admin'>; id: string };
  /** `owner_request` or `platform_admin`: the event's `reason`. */
  reason: string;
  /** The administrator's own words, when given. */
  note?: string | null;
}

/**
 * The closure itself, inside the caller's transaction, on the locked `tenant`: the status, the audit row,
 * the `tenant.closed` event and the scheduled purge. Every path that closes a tenant for someone goes
 * through here, so they all close it the same way.
 */
async function recordClosure(
  deps: Pick<OrganizationDeps, 'config' | 'platform'>,
  tx: Tx,
  executor: SqlExecutor,
  tenant: TenantRow,
  cause: ClosureCause,
  origin: Partial<RequestOrigin>,
): Promise<TenantClosure> {
  const closed = await markTenantClosed(tx, tenant.id);
  const closure = presentClosure(closed, deps.config.tenants.restoreDays);
  const note = cause.note ? { note: cause.note } : {};
  await audit.record(tx, {
    actor: cause.actor,
    action: 'tenant.closed',
    target: { type: 'tenant', id: tenant.id },
    before: { status: tenant.status },
    after: { status: 'closed', closedAt: closure.closedAt, restorableUntil: closure.restorableUntil, ...note },
    ...origin,
  });
  await emit(tx, {
    type: 'tenant.closed',
    tenantId: tenant.id,
    payload: { tenantId: tenant.id, slug: tenant.slug, closedBy: cause.actor.id, reason: cause.reason, closedAt: closure.closedAt, restorableUntil: closure.restorableUntil, ...note },
  });
  await scheduleTenantPurge(deps, executor, tenant.id, closed.closedAt!);
  return closure;
}

/** A platform administrator's closure: the closure view, and whether this call closed it (false: it already was). */
export interface PlatformClosure {
  closure: TenantClosure;
  closedNow: boolean;
}

/**
 * `DELETE /admin/tenants/:id`: a platform administrator closes a tenant — active or suspended — exactly as
 * its owner would (see `closeTenant`), the audit row naming the administrator (`platform_admin`). `within`
 * adds the caller's own writes (the platform audit row) to the same transaction. A tenant already closed
 * is answered as it is, nothing written (DELETE is idempotent). 404 `tenant.not_found`.
 */
export async function closeTenantByPlatform(
  deps: Pick<OrganizationDeps, 'config' | 'platform'>,
  tenantId: string,
  closer: { adminId: string; note?: string | null },
  origin: Partial<RequestOrigin>,
  within?: (tx: Tx, closure: TenantClosure) => Promise<void>,
): Promise<PlatformClosure> {
  return deps.platform.db.transaction({ tenantId, userId: closer.adminId }, async (tx, executor) => {
    const tenant = await lockTenant(tx, tenantId);
    if (!tenant) throw new AppError('tenant.not_found', 'No tenant has this id.');
    if (tenant.status === 'closed') return { closure: presentClosure(tenant, deps.config.tenants.restoreDays), closedNow: false };
    const cause: ClosureCause = { actor: { type: 'platform_admin', id: closer.adminId }, reason: 'platform_admin', note: closer.note ?? null };
    const closure = await recordClosure(deps, tx, executor, tenant, cause, origin);
    await within?.(tx, closure);
    return { closure, closedNow: true };
  });
}

/** Who restores a tenant: a platform administrator (the platform-admin routes pass theirs), or the system. */
export interface RestoreActor {
  type: Extract<ActorType, 'platform_admin' | 'system'>;
  id?: string | null;
}

/**
 * Reopens a closed tenant within its restore window: status active, members' access back at once. 404
 * `tenant.not_found` when it does not exist (or was purged), 409 `tenant.not_closed` when it is not
 * closed, 409 `tenant.restore_window_expired` once the window is over. The scheduled purge then finds it
 * active and leaves it alone. `within` adds the caller's own writes (the platform audit row) to the
 * restoring transaction.
 */
export async function restoreTenant(
  deps: Pick<OrganizationDeps, 'config' | 'platform'>,
  tenantId: string,
  actor: RestoreActor = { type: 'system' },
  origin: Partial<RequestOrigin> = {},
  within?: (tx: Tx) => Promise<void>,
): Promise<TenantProfile> {
  const restoreDays = deps.config.tenants.restoreDays;
  return deps.platform.db.withTenant(tenantId, async (tx) => {
    const tenant = await lockTenant(tx, tenantId);
    if (!tenant) throw new AppError('tenant.not_found', 'No tenant has this id.');
    if (tenant.status !== 'closed' || !tenant.closedAt) throw new AppError('tenant.not_closed', `The tenant is ${tenant.status}, not closed.`);
    const until = restorableUntil(tenant.closedAt, restoreDays);
    if (until.getTime() <= Date.now()) {
      throw new AppError('tenant.restore_window_expired', `The tenant could be restored until ${until.toISOString()}; it is due to be purged.`);
    }

    const restored = await markTenantRestored(tx, tenantId);
    const closedAt = tenant.closedAt.toISOString();
    await audit.record(tx, {
      actor: { type: actor.type, id: actor.id ?? null },
      action: 'tenant.restored',
      target: { type: 'tenant', id: tenantId },
      before: { status: 'closed', closedAt },
      after: { status: 'active' },
      ...origin,
    });
    await emit(tx, { type: 'tenant.restored', tenantId, payload: { tenantId, closedAt } });
    await within?.(tx);
    return presentTenant(restored);
  });
}

export type PurgeOutcome = { kind: 'purged' } | { kind: 'missing' } | { kind: 'not_closed' } | { kind: 'not_due'; due: Date };

/**
 * Deletes a tenant closed longer than the restore window, with every row of every tenant table (their
 * foreign keys cascade from `tenants`; people and their other memberships stay). Runs in the tenant's
 * own context: nothing outside it is visible, let alone deleted. The audit trail goes with the tenant,
 * so the purge is logged instead.
 */
export async function purgeClosedTenant(deps: Pick<Platform, 'config' | 'db' | 'logger'>, tenantId: string, now = new Date()): Promise<PurgeOutcome> {
  const restoreDays = deps.config.tenants.restoreDays;
  const outcome = await deps.db.withTenant(tenantId, async (tx): Promise<PurgeOutcome> => {
    const tenant = await lockTenant(tx, tenantId);
    if (!tenant) return { kind: 'missing' };
    if (tenant.status !== 'closed' || !tenant.closedAt) return { kind: 'not_closed' };
    const due = restorableUntil(tenant.closedAt, restoreDays);
    if (due.getTime() > now.getTime()) return { kind: 'not_due', due };
    await deleteTenant(tx, tenantId);
    return { kind: 'purged' };
  });
  if (outcome.kind === 'purged') deps.logger.info({ tenantId }, 'closed tenant purged');
  return outcome;
}

/**
 * Starts this module's background work in a worker process: the tenant purge. Called by `atrium serve`
 * (with its in-process worker) and `atrium worker`, after the platform's own workers.
 */
export async function startOrganizationWorkers(platform: Platform): Promise<void> {
  await defineTenantPurgeQueue(platform.jobs);
  await platform.jobs.work<PurgeJob>(TENANT_PURGE_QUEUE, async (job) => {
    const outcome = await purgeClosedTenant(platform, job.data.tenantId);
    // The window was lengthened since the closure: try again when the new one ends.
    if (outcome.kind === 'not_due') await platform.jobs.send<PurgeJob>(TENANT_PURGE_QUEUE, { tenantId: job.data.tenantId }, { startAfter: outcome.due });
  });
}
