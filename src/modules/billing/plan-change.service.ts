/**
 * Changing the tenant's plan (`POST /current/change-plan` and its preview), under the customer rules:
 * - the target plan is public (else 404 `plan.not_found`, as an unknown one: no oracle), not archived
 *   (409 `plan.not_available`), offers the cycle (400 `plan.cycle_not_offered`), and is in the current
 *   plan's currency when the change is prorated (409 `plan.not_available`). The current plan itself is
 *   always allowed (a cycle change, or subscribing again), even if it has since become private or archived;
 * - the same plan and cycle: 409 `subscription.plan_unchanged`, or, with a change pending, its withdrawal;
 * - trialing: applied at once, the trial goes on; active / past due: upgrades at once, downgrades at the
 *   period end unless `immediate`; canceled / expired: a new period from now, active again;
 * - applied at once to a served subscription: current usage must fit the new limits (409
 *   `plan.downgrade_exceeds_limits` listing each limit exceeded). Subscribing again (canceled / expired) is
 *   never refused for usage: the tenant is read-only and cannot shrink first; like a downgrade applied at
 *   the period end, it keeps what it has and adds nothing a limit counts until it fits;
 * - an amount due needs a payment method on file (402).
 * The platform's PUT /admin/tenants/:id/subscription does not go through these rules.
 */
import type { RequestOrigin } from '../../core/audit/audit.js';
import type { Tx } from '../../core/db/database.js';
import { AppError } from '../../core/http/errors.js';
import type { ChangePlanInput, ProrationView } from './current-subscription.schemas.js';
import { applyChange, readSubscription, viewOf, type SubscriptionActor, type SubscriptionDeps } from './current-subscription.service.js';
import { currentUsage, resolveEntitlements } from './entitlements.js';
import { LIMIT_KEYS, type LimitKey } from './features.js';
import { findPlan, planPrice, type PlanRow } from './plans.repository.js';
import { changeDirection, computeProration } from './proration.js';
import { assertTransition, isInactive } from './subscription-states.js';
import type { SubscriptionChanges, SubscriptionWithPlan } from './subscriptions.repository.js';
import type { SubscriptionView } from './subscriptions.schemas.js';

/** What a change request comes to: applied now, scheduled for the period end, a pending change withdrawn, or nothing. */
interface PlannedChange {
  kind: 'apply' | 'schedule' | 'withdraw' | 'none';
  target: PlanRow;
  proration: ProrationView;
  changes: SubscriptionChanges;
}

export interface ExceededLimit {
  limit: LimitKey;
  current: number;
  max: number;
}

const isServedAndBilled = (status: string) => status === 'active' || status === 'past_due';

/** 409 `plan.downgrade_exceeds_limits` unless the tenant's current usage fits `target` (with its overrides). */
async function assertUsageFits(tx: Tx, found: SubscriptionWithPlan, target: PlanRow): Promise<void> {
  const limits = resolveEntitlements(target, found.subscription).limits;
  const usage = await currentUsage(tx, found.subscription.tenantId);
  const exceeded: ExceededLimit[] = [];
  for (const limit of LIMIT_KEYS) {
    const max = limits[limit] ?? null;
    if (max !== null && usage[limit] > max) exceeded.push({ limit, current: usage[limit], max });
  }
  if (exceeded.length === 0) return;
  const list = exceeded.map(({ limit, current, max }) => `${limit} ${current} > ${max}`).join(', ');
  throw new AppError('plan.downgrade_exceeds_limits', `Current usage exceeds the limits of ${target.name}: ${list}. Reduce the usage first, or choose another plan.`, { exceeded });
}

/** Checks the request against the rules and works out the change and its proration; writes nothing. */
async function planChange(tx: Tx, found: SubscriptionWithPlan, input: ChangePlanInput, now: Date): Promise<PlannedChange> {
  const { subscription, plan: current } = found;
  const { status } = subscription;
  const samePlan = input.planId === current.id;
  const unchanged = samePlan && input.billingCycle === subscription.billingCycle && !isInactive(status);
  if (unchanged && !subscription.pendingPlanId) {
    throw new AppError('subscription.plan_unchanged', `The subscription is already on ${current.name}, ${input.billingCycle}, with no change pending.`);
  }

  const target = samePlan ? current : await findPlan(tx, input.planId);
  if (!target || !target.isPublic) throw new AppError('plan.not_found', 'No public plan has this id.');
  if (!samePlan && target.archivedAt !== null) throw new AppError('plan.not_available', `${target.name} is archived: nobody new can choose it.`);
  const newPrice = planPrice(target, input.billingCycle);
  if (newPrice === null) throw new AppError('plan.cycle_not_offered', `${target.name} is not offered ${input.billingCycle}.`);
  if (target.currency !== current.currency && isServedAndBilled(status)) {
    throw new AppError('plan.not_available', `${target.name} is priced in ${target.currency}; the subscription is billed in ${current.currency}, and the rest of its period cannot be credited across currencies.`);
  }

  // A cycle the current plan no longer offers is worth nothing to credit.
  const from = { planId: current.id, cycle: subscription.billingCycle, price: planPrice(current, subscription.billingCycle) ?? 0 };
  const to = { planId: target.id, cycle: input.billingCycle, price: newPrice };
  const change = changeDirection(from, to);
  const effective = isServedAndBilled(status) && change === 'downgrade' && !input.immediate ? 'period_end' : 'immediately';
  const proration = computeProration({ status, from, to, periodStart: subscription.currentPeriodStart, periodEnd: subscription.currentPeriodEnd, effective, now });
  const view: ProrationView = {
    plan: { id: target.id, code: target.code, name: target.name },
    billingCycle: input.billingCycle,
    currency: target.currency,
    change,
    effective,
    credit: proration.credit,
    charge: proration.charge,
    amountDue: proration.amountDue,
    creditBalance: proration.creditBalance,
    periodStart: proration.periodStart.toISOString(),
    periodEnd: proration.periodEnd.toISOString(),
    secondsRemaining: proration.secondsRemaining,
    secondsInPeriod: proration.secondsInPeriod,
  };

  if (unchanged) return { kind: 'withdraw', target, proration: view, changes: { pendingPlanId: null, pendingBillingCycle: null } };
  if (effective === 'period_end') {
    const alreadyPending = subscription.pendingPlanId === target.id && subscription.pendingBillingCycle === input.billingCycle;
    return { kind: alreadyPending ? 'none' : 'schedule', target, proration: view, changes: { pendingPlanId: target.id, pendingBillingCycle: input.billingCycle } };
  }

  if (!isInactive(status)) await assertUsageFits(tx, found, target);
  const changes: SubscriptionChanges = {
    planId: target.id,
    billingCycle: input.billingCycle,
    currentPeriodStart: proration.periodStart,
    currentPeriodEnd: proration.periodEnd,
    pendingPlanId: null,
    pendingBillingCycle: null,
  };
  if (isInactive(status)) {
    assertTransition(status, 'active');
    Object.assign(changes, { status: 'active', cancelAtPeriodEnd: false, canceledAt: null, cancelReason: null, endedAt: null, graceEndsAt: null } satisfies SubscriptionChanges);
  }
  return { kind: 'apply', target, proration: view, changes };
}

/** `POST /current/change-plan/preview`: the change and its proration as `change-plan` would apply them now; writes nothing. */
export async function previewPlanChange(deps: SubscriptionDeps, actor: SubscriptionActor, input: ChangePlanInput, now: Date): Promise<ProrationView> {
  return deps.db.withTenant(actor.tenantId, async (tx) => {
    const found = await readSubscription(tx, actor.tenantId);
    return (await planChange(tx, found, input, now)).proration;
  });
}

/**
 * `POST /current/change-plan`: applies the change (event `subscription.changed`), schedules a downgrade
 * for the period end or withdraws the pending one (`subscription.change_scheduled`), with the proration
 * in the event. Re-asking for the change already pending writes nothing.
 */
export async function changePlan(
  deps: SubscriptionDeps,
  actor: SubscriptionActor,
  origin: RequestOrigin,
  input: ChangePlanInput,
  now: Date,
): Promise<{ subscription: SubscriptionView; proration: ProrationView }> {
  return deps.db.withTenant(actor.tenantId, async (tx) => {
    const found = await readSubscription(tx, actor.tenantId, { lock: true });
    const planned = await planChange(tx, found, input, now);
    if (planned.kind === 'none') return { subscription: await viewOf(tx, found.subscription, found.plan), proration: planned.proration };
    if (planned.kind === 'apply' && planned.proration.amountDue > 0 && found.subscription.paymentProvider === null) {
      throw new AppError(
        'subscription.payment_method_required',
        `The change costs ${planned.proration.amountDue} (minor units of ${planned.proration.currency}) now: record a payment method first (PUT /api/v1/subscriptions/current/payment-method).`,
        { amountDue: planned.proration.amountDue, currency: planned.proration.currency },
      );
    }
    const after = await applyChange(tx, actor, origin, found.subscription, {
      change: planned.kind === 'apply' ? 'subscription.changed' : 'subscription.change_scheduled',
      changes: planned.changes,
      details: { proration: planned.proration, ...(planned.kind === 'withdraw' ? { withdrawn: true } : {}) },
    });
    return { subscription: await viewOf(tx, after, planned.kind === 'apply' ? planned.target : found.plan), proration: planned.proration };
  });
}
