/**
 * What a platform administrator's PUT /admin/tenants/:id/subscription does to the row — a pure function of
 * the subscription, the request and the clock, so every rule is testable without a database.
 *
 * The platform skips the customer's rules (public plan, proration, usage check): its change applies at
 * once. Status changes still go through the state machine, and each one leaves the row as the clock or
 * the customer's routes would have left it for that status.
 */
import { AppError } from '../../core/http/errors.js';
import type { BillingCycle } from './features.js';
import { addCycle, addDays } from './periods.js';
import { assertTransition } from './subscription-states.js';
import type { SubscriptionChanges } from './subscriptions.repository.js';
import type { SubscriptionRow, SubscriptionStatus } from './subscriptions.table.js';

export interface AdminSubscriptionRequest {
  planId: string;
  billingCycle: BillingCycle;
  status?: SubscriptionStatus;
  trialEndsAt?: Date;
}

const DAY_MS = 86_400_000;
/** How far ahead a trial may be set. */
export const MAX_TRIAL_DAYS_AHEAD = 365;

const invalidTrialEnd = (message: string, field = '/trialEndsAt') =>
  new AppError('request.validation_failed', `The request is invalid: body${field} ${message}.`, { errors: [{ in: 'body', field, message }] });

/** Checks a trial end: in the future and no more than 365 days ahead (400 naming `field` otherwise). */
function assertTrialEnd(date: Date, now: Date, field: string): Date {
  if (Number.isNaN(date.getTime())) throw invalidTrialEnd('must be a date-time', field);
  if (date.getTime() <= now.getTime()) throw invalidTrialEnd('must be in the future', field);
  if (date.getTime() > now.getTime() + MAX_TRIAL_DAYS_AHEAD * DAY_MS) throw invalidTrialEnd(`must end the trial at most ${MAX_TRIAL_DAYS_AHEAD} days ahead`, field);
  return date;
}

/**
 * The trial end a request asks for: `trialEndsAt` as given, or `extendTrialDays` more days than the
 * running trial's end (from now when there is no running trial). Not both (400).
 */
export function requestedTrialEnd(request: { trialEndsAt?: string; extendTrialDays?: number }, current: SubscriptionRow, now: Date): Date | undefined {
  if (request.trialEndsAt !== undefined && request.extendTrialDays !== undefined) throw invalidTrialEnd('cannot be given with trialEndsAt', '/extendTrialDays');
  if (request.trialEndsAt !== undefined) return assertTrialEnd(new Date(request.trialEndsAt), now, '/trialEndsAt');
  if (request.extendTrialDays === undefined) return undefined;
  const running = current.status === 'trialing' && current.trialEndsAt && current.trialEndsAt > now ? current.trialEndsAt : now;
  return assertTrialEnd(addDays(running, request.extendTrialDays), now, '/extendTrialDays');
}

const noPendingChange = { pendingPlanId: null, pendingBillingCycle: null } satisfies SubscriptionChanges;
const noCancellation = { cancelAtPeriodEnd: false, canceledAt: null, cancelReason: null } satisfies SubscriptionChanges;
const newPeriod = (now: Date, cycle: BillingCycle) => ({ currentPeriodStart: now, currentPeriodEnd: addCycle(now, cycle) });

/** The columns a status change sets (the transition is legal: checked before). */
function statusChanges(current: SubscriptionRow, to: SubscriptionStatus, request: AdminSubscriptionRequest, now: Date, graceDays: number): SubscriptionChanges {
  const from = current.status;
  switch (to) {
    case 'active':
      // Paid within the grace period: the period owed is the current one.
      if (from === 'past_due') return { status: to, graceEndsAt: null };
      // The trial ends now and the first paid period begins (a scheduled cancellation stays scheduled).
      if (from === 'trialing') return { status: to, trialEndsAt: now, ...newPeriod(now, request.billingCycle) };
      // Subscribed again: a new period from now, the end and any cancellation forgotten.
      return { status: to, ...newPeriod(now, request.billingCycle), graceEndsAt: null, endedAt: null, ...noCancellation, ...noPendingChange };
    case 'past_due': {
      const grace = { status: to, graceEndsAt: addDays(now, graceDays) } as const;
      // A trial ended unpaid: the period owed starts now, as the clock starts it at the trial's end.
      return from === 'trialing' ? { ...grace, trialEndsAt: now, ...newPeriod(now, request.billingCycle) } : grace;
    }
    case 'canceled':
      return { status: to, endedAt: now, cancelAtPeriodEnd: false, canceledAt: current.canceledAt ?? now, ...noPendingChange };
    case 'expired':
      return { status: to, endedAt: now, cancelAtPeriodEnd: false, ...noPendingChange };
    case 'trialing':
      if (!request.trialEndsAt) throw invalidTrialEnd('is required to start a trial (status trialing)');
      return {
        status: to,
        trialEndsAt: request.trialEndsAt,
        currentPeriodStart: now,
        currentPeriodEnd: request.trialEndsAt,
        graceEndsAt: null,
        endedAt: null,
        ...noCancellation,
        ...noPendingChange,
      };
  }
}

const sameValue = (a: unknown, b: unknown) => (a instanceof Date && b instanceof Date ? a.getTime() === b.getTime() : a === b);

/**
 * The columns to set on `current` for the administrator's request (only those that change: an empty
 * result means nothing to write). Throws 409 `subscription.invalid_transition` for a status the machine
 * does not allow from here, or a trial end on a subscription that is not (or does not become) trialing;
 * 400 naming `/trialEndsAt` for a trial started without one.
 */
export function adminSubscriptionChanges(current: SubscriptionRow, request: AdminSubscriptionRequest, now: Date, graceDays: number): SubscriptionChanges {
  const planChanged = request.planId !== current.planId;
  const cycleChanged = request.billingCycle !== current.billingCycle;
  const target = request.status ?? current.status;
  let changes: SubscriptionChanges = {};
  if (planChanged || cycleChanged) {
    // The platform's plan decision replaces a downgrade the customer had scheduled.
    changes = { planId: request.planId, billingCycle: request.billingCycle, ...noPendingChange };
  }

  if (target !== current.status) {
    assertTransition(current.status, target);
    changes = { ...changes, ...statusChanges(current, target, request, now, graceDays) };
  } else if (cycleChanged && (target === 'active' || target === 'past_due')) {
    // A paid period of the new cycle begins now (no proration: an administrative decision).
    changes = { ...changes, ...newPeriod(now, request.billingCycle) };
  }

  if (request.trialEndsAt) {
    if (target !== 'trialing') {
      throw new AppError(
        'subscription.invalid_transition',
        `A trial end can be set only on a trialing subscription, or with status trialing (from expired); this one is ${current.status}${request.status ? ` and would become ${request.status}` : ''}.`,
      );
    }
    // Extending (or shortening) a running trial: the trial is the current period, so its end moves too.
    if (current.status === 'trialing') changes = { ...changes, trialEndsAt: request.trialEndsAt, currentPeriodEnd: request.trialEndsAt };
  }

  const keys = Object.keys(changes) as Array<keyof SubscriptionChanges>;
  return Object.fromEntries(keys.filter((key) => !sameValue(changes[key], current[key])).map((key) => [key, changes[key]])) as SubscriptionChanges;
}

/** Whether `changes` only move a running trial's end (event `subscription.trial_extended`). */
export function isTrialExtension(current: SubscriptionRow, changes: SubscriptionChanges): boolean {
  return current.status === 'trialing' && Object.keys(changes).every((key) => key === 'trialEndsAt' || key === 'currentPeriodEnd') && 'trialEndsAt' in changes;
}
