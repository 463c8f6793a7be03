/**
 * The subscription state machine, in one place: every status change (customer routes, the subscription
 * clock, platform administration, later payments) goes through `assertTransition`.
 *
 *   trialing ─▶ active ─▶ past_due ─▶ expired
 *      │  ╲        │  ▲      │  │        │
 *      │   ╲       ▼  └──────┘  ▼        ▼
 *      │    ╲──▶ canceled ◀─────┘      active / trialing (paid again, or trial extended)
 *      └──▶ past_due / expired            canceled ─▶ active (subscribed again)
 *
 * Staying in a status (a renewal, a plan change) is not a transition.
 */
import { AppError } from '../../core/http/errors.js';
import type { SubscriptionStatus } from './subscriptions.table.js';

export const TRANSITIONS: Readonly<Record<SubscriptionStatus, readonly SubscriptionStatus[]>> = {
  // Trial converted (paid or free plan), trial ended unpaid (grace), canceled, or expired outright.
  trialing: ['active', 'past_due', 'canceled', 'expired'],
  // A renewal went unpaid, or the customer canceled.
  active: ['past_due', 'canceled'],
  // Paid within the grace period, canceled, or the grace period ran out.
  past_due: ['active', 'canceled', 'expired'],
  // Subscribed again (a plan change starts a new period).
  canceled: ['active'],
  // Paid again, or the platform extended the trial.
  expired: ['active', 'trialing'],
};

/** Statuses in which the tenant is read-only: mutating requests get 402 `subscription.inactive`. */
export const INACTIVE_STATUSES: readonly SubscriptionStatus[] = ['canceled', 'expired'];

export const isInactive = (status: SubscriptionStatus) => INACTIVE_STATUSES.includes(status);

export function canTransition(from: SubscriptionStatus, to: SubscriptionStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Throws 409 `subscription.invalid_transition` unless `from → to` is a transition of the machine. */
export function assertTransition(from: SubscriptionStatus, to: SubscriptionStatus): void {
  if (!canTransition(from, to)) {
    const allowed = TRANSITIONS[from];
    throw new AppError('subscription.invalid_transition', `A ${from} subscription cannot become ${to} (it can become: ${allowed.join(', ')}).`);
  }
}
