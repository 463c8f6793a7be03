/**
 * Use-cases of the tenant's own subscription (`/api/v1/subscriptions/current`): reading it (with its plan,
 * entitlements, usage and trial), canceling, reactivating and recording the payment method. Plan changes
 * are in plan-change.service.ts.
 *
 * Every change locks the subscription row first and writes its audit row and event
 * (`recordSubscriptionChange`) in the same transaction. A request that changes nothing writes nothing.
 */
import type { AuditEntry, RequestOrigin } from '../../core/audit/audit.js';
import type { Database, Tx } from '../../core/db/database.js';
import { AppError } from '../../core/http/errors.js';
import type { Actor } from '../../core/http/request-context.js';
import type { CancelInput, DetailsView, PaymentMethodInput, TrialView, UsageView } from './current-subscription.schemas.js';
import { currentUsage, resolveEntitlements } from './entitlements.js';
import { FEATURE_CODES, LIMIT_KEYS, LIMITS, type LimitKey, type PlanLimits } from './features.js';
import { daysUntil } from './periods.js';
import { findPlan, type PlanRow } from './plans.repository.js';
import { presentPlan } from './plans.service.js';
import { recordSubscriptionChange, type SubscriptionChange } from './subscription-changes.js';
import { assertTransition, isInactive } from './subscription-states.js';
import { findSubscription, updateSubscription, type SubscriptionChanges, type SubscriptionWithPlan } from './subscriptions.repository.js';
import { presentSubscription, type SubscriptionView } from './subscriptions.schemas.js';
import type { SubscriptionRow } from './subscriptions.table.js';

export interface SubscriptionDeps {
  db: Database;
}

/** The member (or API key) acting on its tenant's subscription; the route's permission is checked. */
export interface SubscriptionActor {
  tenantId: string;
  audit: AuditEntry['actor'];
}

export function subscriptionActorOf(actor: Actor | undefined): SubscriptionActor {
  if (!actor?.tenantId) throw new AppError('auth.tenant_access_revoked', 'This route acts in a tenant, and the credential names none.');
  return { tenantId: actor.tenantId, audit: { type: actor.kind === 'api_key' ? 'api_key' : 'user', id: actor.userId ?? actor.apiKeyId ?? null } };
}

/** The tenant's subscription and plan (`lock`: held until the transaction ends, before any change). */
export async function readSubscription(tx: Tx, tenantId: string, options: { lock?: boolean } = {}): Promise<SubscriptionWithPlan> {
  const found = await findSubscription(tx, tenantId, options);
  // Every tenant has one (checked at commit when the tenant is created): a missing one is a broken tenant.
  if (!found) throw new AppError('tenant.not_found', 'No subscription for this tenant.');
  return found;
}

/** The API view of the subscription, with the plan of its pending change. */
export async function viewOf(tx: Tx, subscription: SubscriptionRow, plan: PlanRow): Promise<SubscriptionView> {
  const pendingPlan = subscription.pendingPlanId ? await findPlan(tx, subscription.pendingPlanId) : null;
  return presentSubscription(subscription, plan, pendingPlan);
}

export interface AppliedChange {
  change: SubscriptionChange;
  changes: SubscriptionChanges;
  details?: Record<string, unknown>;
}

/** Writes `changes` with the audit row and event, in `tx`; returns the row as changed. */
export async function applyChange(tx: Tx, actor: SubscriptionActor, origin: RequestOrigin, before: SubscriptionRow, applied: AppliedChange): Promise<SubscriptionRow> {
  const after = await updateSubscription(tx, actor.tenantId, applied.changes);
  await recordSubscriptionChange(tx, { change: applied.change, actor: actor.audit, origin, before, after, details: applied.details });
  return after;
}

/** Every limit of the catalog with the overrides applied; a key the plan lacks reads as unlimited. */
function effectiveLimits(found: SubscriptionWithPlan): PlanLimits {
  const limits = resolveEntitlements(found.plan, found.subscription).limits;
  return Object.fromEntries(LIMIT_KEYS.map((key) => [key, limits[key] ?? null])) as PlanLimits;
}

/** `GET /current`. */
export async function getCurrentSubscription(deps: SubscriptionDeps, actor: SubscriptionActor): Promise<SubscriptionView> {
  return deps.db.withTenant(actor.tenantId, async (tx) => {
    const { subscription, plan } = await readSubscription(tx, actor.tenantId);
    return viewOf(tx, subscription, plan);
  });
}

/** `GET /current/details`: the subscription, its plan, and the features and limits in effect. */
export async function getSubscriptionDetails(deps: SubscriptionDeps, actor: SubscriptionActor): Promise<DetailsView> {
  return deps.db.withTenant(actor.tenantId, async (tx) => {
    const found = await readSubscription(tx, actor.tenantId);
    const { features } = resolveEntitlements(found.plan, found.subscription);
    return {
      subscription: await viewOf(tx, found.subscription, found.plan),
      plan: presentPlan(found.plan),
      features: FEATURE_CODES.filter((code) => features.includes(code)),
      limits: effectiveLimits(found),
      overrides: { features: found.subscription.featureOverrides, limits: found.subscription.limitOverrides },
    };
  });
}

/** 100 × current / max with one decimal; null when unlimited; a max of 0 reads 0 unused, else 100. */
export function usagePercentage(current: number, max: number | null): number | null {
  if (max === null) return null;
  if (max === 0) return current === 0 ? 0 : 100;
  return Math.round((current * 1000) / max) / 10;
}

/** `GET /current/usage`: every limit in catalog order, counted now. */
export async function getSubscriptionUsage(deps: SubscriptionDeps, actor: SubscriptionActor): Promise<UsageView> {
  return deps.db.withTenant(actor.tenantId, async (tx) => {
    const found = await readSubscription(tx, actor.tenantId);
    const limits = effectiveLimits(found);
    const usage = await currentUsage(tx, actor.tenantId);
    return {
      limits: LIMIT_KEYS.map((limit: LimitKey) => ({
        limit,
        description: LIMITS[limit],
        current: usage[limit],
        max: limits[limit],
        percentage: usagePercentage(usage[limit], limits[limit]),
      })),
    };
  });
}

/** `GET /current/trial`. */
export async function getTrial(deps: SubscriptionDeps, actor: SubscriptionActor, now: Date): Promise<TrialView> {
  const { subscription } = await deps.db.withTenant(actor.tenantId, (tx) => readSubscription(tx, actor.tenantId));
  const trialing = subscription.status === 'trialing';
  return {
    trialing,
    trialEndsAt: subscription.trialEndsAt?.toISOString() ?? null,
    daysLeft: trialing && subscription.trialEndsAt ? daysUntil(subscription.trialEndsAt, now) : 0,
  };
}

/**
 * `POST /current/cancel`. Trialing or active with `atPeriodEnd` (default): served until the period (the
 * trial) ends, then the clock cancels it; asking again changes nothing. Otherwise — `atPeriodEnd: false`,
 * or past due (there is no paid period to serve) — canceled now: read-only, the pending change dropped.
 * Canceled or expired: 409 `subscription.invalid_transition`.
 */
export async function cancelSubscription(deps: SubscriptionDeps, actor: SubscriptionActor, origin: RequestOrigin, input: CancelInput, now: Date): Promise<SubscriptionView> {
  const atPeriodEnd = input.atPeriodEnd ?? true;
  const reason = input.reason ?? null;
  return deps.db.withTenant(actor.tenantId, async (tx) => {
    const { subscription, plan } = await readSubscription(tx, actor.tenantId, { lock: true });
    if (atPeriodEnd && (subscription.status === 'trialing' || subscription.status === 'active')) {
      if (subscription.cancelAtPeriodEnd) return viewOf(tx, subscription, plan);
      const after = await applyChange(tx, actor, origin, subscription, {
        change: 'subscription.canceled',
        changes: { cancelAtPeriodEnd: true, canceledAt: now, cancelReason: reason },
        details: { atPeriodEnd: true, reason },
      });
      return viewOf(tx, after, plan);
    }
    // Canceled now: asked for, or past due (no paid period left to serve). Canceled or expired already: 409.
    assertTransition(subscription.status, 'canceled');
    const after = await applyChange(tx, actor, origin, subscription, {
      change: 'subscription.canceled',
      changes: {
        status: 'canceled',
        endedAt: now,
        canceledAt: now,
        cancelReason: reason ?? subscription.cancelReason,
        cancelAtPeriodEnd: false,
        pendingPlanId: null,
        pendingBillingCycle: null,
      },
      details: { atPeriodEnd: false, reason },
    });
    return viewOf(tx, after, plan);
  });
}

const why = (row: SubscriptionRow) => (!row.cancelAtPeriodEnd ? 'no cancellation scheduled' : isInactive(row.status) ? 'canceled already' : 'its period is over');

/**
 * `POST /current/reactivate`: undoes a cancellation scheduled for the period end, before the period
 * ends. Anything else (nothing scheduled, canceled already, past due, the period over): 409
 * `subscription.invalid_transition`.
 */
export async function reactivateSubscription(deps: SubscriptionDeps, actor: SubscriptionActor, origin: RequestOrigin, now: Date): Promise<SubscriptionView> {
  return deps.db.withTenant(actor.tenantId, async (tx) => {
    const { subscription, plan } = await readSubscription(tx, actor.tenantId, { lock: true });
    const scheduled = subscription.cancelAtPeriodEnd && (subscription.status === 'trialing' || subscription.status === 'active');
    if (!scheduled || subscription.currentPeriodEnd.getTime() <= now.getTime()) {
      throw new AppError(
        'subscription.invalid_transition',
        `Only a cancellation scheduled for the end of the period can be undone, before the period ends (this subscription: ${subscription.status}, ${why(subscription)}).`,
      );
    }
    const after = await applyChange(tx, actor, origin, subscription, { change: 'subscription.reactivated', changes: { cancelAtPeriodEnd: false, canceledAt: null, cancelReason: null } });
    return viewOf(tx, after, plan);
  });
}

/**
 * `PUT /current/payment-method`: records the provider and its reference (charging comes with payments).
 * The same method again changes nothing. The audit row and event name the provider only.
 */
export async function setPaymentMethod(deps: SubscriptionDeps, actor: SubscriptionActor, origin: RequestOrigin, input: PaymentMethodInput, now: Date): Promise<SubscriptionView> {
  return deps.db.withTenant(actor.tenantId, async (tx) => {
    const { subscription, plan } = await readSubscription(tx, actor.tenantId, { lock: true });
    if (subscription.paymentProvider === input.provider && subscription.paymentReference === input.reference) return viewOf(tx, subscription, plan);
    const after = await applyChange(tx, actor, origin, subscription, {
      change: 'subscription.payment_method_updated',
      changes: { paymentProvider: input.provider, paymentReference: input.reference, paymentMethodUpdatedAt: now },
      details: { paymentMethod: { provider: input.provider, hasReference: true, replaced: subscription.paymentProvider !== null } },
    });
    return viewOf(tx, after, plan);
  });
}
