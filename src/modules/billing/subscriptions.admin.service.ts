/**
 * Use-cases of the platform administration of one tenant's subscription: read it (with its entitlements,
 * overrides and usage), set its plan, cycle, status or trial, and replace its feature and limit overrides.
 *
 * Reads run as the platform read role (`db.transaction({ platform: true }, …)`). Every change runs in the
 * tenant's own context, locks the subscription first, and writes in that one transaction the tenant's
 * audit row and event (`recordSubscriptionChange`, actor `platform_admin`) and the platform audit row.
 * Each change takes a new entitlements revision (trigger), so every process serves the new entitlements
 * from the tenant's next request on.
 */
import type { Config } from '../../config.js';
import { platformAudit, type RequestOrigin } from '../../core/audit/audit.js';
import type { Database, Tx } from '../../core/db/database.js';
import { AppError } from '../../core/http/errors.js';
import { currentUsage, resolveEntitlements } from './entitlements.js';
import { FEATURE_CODES, LIMIT_KEYS, type LimitKey, type PlanLimits } from './features.js';
import { findPlan, planPrice, type PlanRow } from './plans.repository.js';
import { adminSubscriptionChanges, isTrialExtension, requestedTrialEnd } from './subscriptions.admin.changes.js';
import type { AdminEntitlementsView, AdminSubscriptionView, ExceededLimit, UpdateAdminSubscriptionInput, UpdateEntitlementsInput } from './subscriptions.admin.schemas.js';
import { recordSubscriptionChange, subscriptionSnapshot, type SubscriptionChange } from './subscription-changes.js';
import { findSubscription, updateSubscription, type SubscriptionChanges, type SubscriptionWithPlan } from './subscriptions.repository.js';
import { presentSubscription } from './subscriptions.schemas.js';
import type { FeatureOverrides, LimitOverrides, SubscriptionRow } from './subscriptions.table.js';

export interface SubscriptionAdminDeps {
  db: Database;
  config: Pick<Config, 'billing'>;
  /** The clock (tests inject one). */
  now?: () => Date;
}

/** The platform administrator (or operator, for reads) acting; the route's platform permission is checked. */
export interface SubscriptionStaff {
  userId: string;
}

const tenantNotFound = () => new AppError('tenant.not_found', 'No tenant has this id.');
const planNotFound = () => new AppError('plan.not_found', 'No plan has this id.');

/** The plan's features and limits with the overrides, in catalog order, every limit present. */
function effectiveEntitlements(plan: PlanRow, subscription: SubscriptionRow) {
  const resolved = resolveEntitlements(plan, subscription);
  return {
    features: FEATURE_CODES.filter((code) => resolved.features.includes(code)),
    limits: Object.fromEntries(LIMIT_KEYS.map((key) => [key, resolved.limits[key] ?? null])) as PlanLimits,
  };
}

/** The overrides in catalog order (stored jsonb keeps no order; comparisons and views need one). */
function overridesOf(row: Pick<SubscriptionRow, 'featureOverrides' | 'limitOverrides'>) {
  const features: FeatureOverrides = {};
  for (const code of FEATURE_CODES) if (row.featureOverrides[code] !== undefined) features[code] = row.featureOverrides[code];
  const limits: LimitOverrides = {};
  for (const key of LIMIT_KEYS) if (row.limitOverrides[key] !== undefined) limits[key] = row.limitOverrides[key];
  return { features, limits };
}

/** Every limit the usage is above. */
function exceededLimits(limits: PlanLimits, usage: Record<LimitKey, number>): ExceededLimit[] {
  return LIMIT_KEYS.flatMap((limit) => {
    const max = limits[limit];
    return max !== null && usage[limit] > max ? [{ limit, current: usage[limit], max }] : [];
  });
}

function presentEntitlements({ subscription, plan }: SubscriptionWithPlan): AdminEntitlementsView {
  return { ...effectiveEntitlements(plan, subscription), overrides: overridesOf(subscription) };
}

async function presentAdminSubscription(tx: Tx, { subscription, plan }: SubscriptionWithPlan): Promise<AdminSubscriptionView> {
  const pendingPlan = subscription.pendingPlanId ? await findPlan(tx, subscription.pendingPlanId) : null;
  const usage = await currentUsage(tx, subscription.tenantId);
  const entitlements = effectiveEntitlements(plan, subscription);
  return {
    subscription: presentSubscription(subscription, plan, pendingPlan),
    entitlements,
    overrides: overridesOf(subscription),
    usage,
    exceeded: exceededLimits(entitlements.limits, usage),
  };
}

async function readSubscription(tx: Tx, tenantId: string, options: { lock?: boolean } = {}): Promise<SubscriptionWithPlan> {
  const found = await findSubscription(tx, tenantId, options);
  if (!found) throw tenantNotFound();
  return found;
}

const readAsPlatform = <T>(deps: SubscriptionAdminDeps, staff: SubscriptionStaff, fn: (tx: Tx) => Promise<T>) =>
  deps.db.transaction({ platform: true, userId: staff.userId }, fn);

/** `GET /admin/tenants/:id/subscription`: the subscription, its entitlements, overrides, usage and the limits exceeded. */
export async function getTenantSubscription(deps: SubscriptionAdminDeps, staff: SubscriptionStaff, tenantId: string): Promise<AdminSubscriptionView> {
  return readAsPlatform(deps, staff, async (tx) => presentAdminSubscription(tx, await readSubscription(tx, tenantId)));
}

/** `GET /admin/tenants/:id/entitlements`: the effective features and limits, and the overrides. */
export async function getTenantEntitlements(deps: SubscriptionAdminDeps, staff: SubscriptionStaff, tenantId: string): Promise<AdminEntitlementsView> {
  return readAsPlatform(deps, staff, async (tx) => presentEntitlements(await readSubscription(tx, tenantId)));
}

interface AdminChange {
  change: SubscriptionChange;
  /** The platform audit action. */
  action: string;
  before: SubscriptionRow;
  after: SubscriptionRow;
  details: Record<string, unknown>;
}

/** The tenant's audit row and event, and the platform audit row, of one change (in the tenant's transaction). */
async function recordAdminChange(tx: Tx, staff: SubscriptionStaff, origin: RequestOrigin, change: AdminChange): Promise<void> {
  const actor = { type: 'platform_admin' as const, id: staff.userId };
  await recordSubscriptionChange(tx, { change: change.change, actor, origin, before: change.before, after: change.after, details: change.details });
  await platformAudit.record(tx, {
    actorId: staff.userId,
    action: change.action,
    target: { type: 'subscription', id: change.after.id },
    tenantId: change.after.tenantId,
    details: { before: subscriptionSnapshot(change.before), after: subscriptionSnapshot(change.after), ...change.details },
    ...origin,
  });
}

const inTenant = <T>(deps: SubscriptionAdminDeps, staff: SubscriptionStaff, tenantId: string, fn: (tx: Tx) => Promise<T>) =>
  deps.db.transaction({ tenantId, userId: staff.userId }, fn);

/** The fields named by the request (400 when none of them is given: `reason` alone changes nothing). */
function assertSomethingToChange(input: UpdateAdminSubscriptionInput): void {
  if (input.planId === undefined && input.billingCycle === undefined && input.status === undefined && input.trialEndsAt === undefined && input.extendTrialDays === undefined) {
    const message = 'must have at least one of planId, billingCycle, status, trialEndsAt, extendTrialDays';
    throw new AppError('request.validation_failed', `The request is invalid: body ${message}.`, { errors: [{ in: 'body', field: '', message }] });
  }
}

/**
 * `PUT /admin/tenants/:id/subscription`: puts the tenant on any plan (private or archived included) and
 * cycle at once — no proration, no usage check: the limits the usage exceeds are answered in `exceeded` —
 * and/or changes its status through the state machine, and/or sets the trial's end. The plan must offer
 * the cycle (400 `plan.cycle_not_offered`). A request that changes nothing writes nothing.
 */
export async function changeTenantSubscription(
  deps: SubscriptionAdminDeps,
  staff: SubscriptionStaff,
  tenantId: string,
  input: UpdateAdminSubscriptionInput,
  origin: RequestOrigin,
): Promise<AdminSubscriptionView> {
  assertSomethingToChange(input);
  const now = deps.now?.() ?? new Date();
  const reason = input.reason?.trim() || null;

  return inTenant(deps, staff, tenantId, async (tx) => {
    const current = await readSubscription(tx, tenantId, { lock: true });
    const { subscription: before } = current;
    const trialEndsAt = requestedTrialEnd(input, before, now);
    let plan = current.plan;
    if (input.planId !== undefined && input.planId !== plan.id) {
      const chosen = await findPlan(tx, input.planId);
      if (!chosen) throw planNotFound();
      plan = chosen;
    }
    const billingCycle = input.billingCycle ?? before.billingCycle;
    if ((input.planId !== undefined || input.billingCycle !== undefined) && planPrice(plan, billingCycle) === null) {
      throw new AppError('plan.cycle_not_offered', `The plan ${plan.code} does not offer the ${billingCycle} cycle.`, { errors: [{ in: 'body', field: '/billingCycle', message: 'is not offered by the plan' }] });
    }

    const changes: SubscriptionChanges = adminSubscriptionChanges(before, { planId: plan.id, billingCycle, status: input.status, trialEndsAt }, now, deps.config.billing.graceDays);
    if (Object.keys(changes).length === 0) return presentAdminSubscription(tx, current);

    const after = await updateSubscription(tx, tenantId, changes);
    const view = await presentAdminSubscription(tx, { subscription: after, plan });
    const extension = isTrialExtension(before, changes);
    await recordAdminChange(tx, staff, origin, {
      change: extension ? 'subscription.trial_extended' : 'subscription.changed',
      action: extension ? 'platform.subscription_trial_extended' : 'platform.subscription_changed',
      before,
      after,
      details: { reason, exceeded: view.exceeded },
    });
    return view;
  });
}

/**
 * `PUT /admin/tenants/:id/entitlements`: replaces the tenant's overrides as a whole (a code or key not
 * given has none; `{}` clears them). A request that changes nothing writes nothing.
 */
export async function setTenantEntitlements(
  deps: SubscriptionAdminDeps,
  staff: SubscriptionStaff,
  tenantId: string,
  input: UpdateEntitlementsInput,
  origin: RequestOrigin,
): Promise<AdminEntitlementsView> {
  const wanted = overridesOf({ featureOverrides: input.features ?? {}, limitOverrides: input.limits ?? {} });
  return inTenant(deps, staff, tenantId, async (tx) => {
    const current = await readSubscription(tx, tenantId, { lock: true });
    const previous = overridesOf(current.subscription);
    if (JSON.stringify(previous) === JSON.stringify(wanted)) return presentEntitlements(current);

    const after = await updateSubscription(tx, tenantId, { featureOverrides: wanted.features, limitOverrides: wanted.limits });
    const changed = { subscription: after, plan: current.plan };
    const view = presentEntitlements(changed);
    await recordAdminChange(tx, staff, origin, {
      change: 'subscription.entitlements_changed',
      action: 'platform.entitlements_changed',
      before: current.subscription,
      after,
      details: { overrides: { before: previous, after: wanted }, features: view.features, limits: view.limits },
    });
    return view;
  });
}
