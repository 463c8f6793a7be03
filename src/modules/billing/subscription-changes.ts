/**
 * Every change of a subscription (status, plan, cycle, cancellation, payment method, overrides) writes its
 * audit row and its domain event in the change's transaction, through here — customer routes, the
 * subscription clock and platform administration alike.
 */
import { audit, type AuditEntry, type RequestOrigin } from '../../core/audit/audit.js';
import type { Tx } from '../../core/db/database.js';
import type { SubscriptionRow } from './subscriptions.table.js';

/** Audit actions and event types of subscription changes. */
export type SubscriptionChange =
  | 'subscription.changed' // plan, cycle or status set (change-plan, platform administration)
  | 'subscription.change_scheduled' // a downgrade waits for the end of the period
  | 'subscription.canceled' // canceled now, or scheduled to cancel at period end
  | 'subscription.reactivated' // a scheduled cancellation undone
  | 'subscription.renewed' // a new period began (trial converted, renewal)
  | 'subscription.past_due' // trial ended or renewal unpaid: grace period
  | 'subscription.expired' // grace period over: read-only
  | 'subscription.trial_extended'
  | 'subscription.payment_method_updated'
  | 'subscription.entitlements_changed'; // platform overrides of features and limits

/** What audit rows and events show of a subscription (no payment reference: it is the provider's). */
export function subscriptionSnapshot(row: SubscriptionRow) {
  return {
    id: row.id,
    planId: row.planId,
    status: row.status,
    billingCycle: row.billingCycle,
    currentPeriodStart: row.currentPeriodStart.toISOString(),
    currentPeriodEnd: row.currentPeriodEnd.toISOString(),
    trialEndsAt: row.trialEndsAt?.toISOString() ?? null,
    graceEndsAt: row.graceEndsAt?.toISOString() ?? null,
    cancelAtPeriodEnd: row.cancelAtPeriodEnd,
    pendingPlanId: row.pendingPlanId,
    pendingBillingCycle: row.pendingBillingCycle,
    paymentProvider: row.paymentProvider,
    featureOverrides: row.featureOverrides,
    limitOverrides: row.limitOverrides,
  };
}

export interface SubscriptionChangeRecord {
  change: SubscriptionChange;
  /** Who changed it: the tenant's member, a platform administrator, or the system (the clock). */
  actor: AuditEntry['actor'];
  origin?: Partial<RequestOrigin>;
  before: SubscriptionRow;
  after: SubscriptionRow;
  /** Extra event payload (a proration, a reason). */
  details?: Record<string, unknown>;
}

/** The audit row and the event of one change, in `tx` (the tenant's context). */
export async function recordSubscriptionChange(tx: Tx, record: SubscriptionChangeRecord): Promise<void> {
  const before = subscriptionSnapshot(record.before);
  const after = subscriptionSnapshot(record.after);
  await audit.recordWithEvent(
    tx,
    { ...record.origin, actor: record.actor, action: record.change, target: { type: 'subscription', id: record.after.id }, before, after },
    { type: record.change, tenantId: record.after.tenantId, payload: { subscription: after, previous: { planId: before.planId, status: before.status, billingCycle: before.billingCycle }, ...record.details } },
  );
}
