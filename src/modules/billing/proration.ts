/**
 * Proration of a plan change, pure (no clock, no database): what the rest of the current period is worth
 * on the old plan (credit) and on the new one (charge), to the second.
 *
 * Each amount is computed exactly in integer arithmetic (BigInt: prices reach Number.MAX_SAFE_INTEGER and
 * their products with seconds do not fit a double) and rounded once, half up — never a rounded amount
 * derived from another rounded amount. `amountDue − creditBalance === charge − credit` exactly.
 */
import type { BillingCycle } from './features.js';
import { addCycle } from './periods.js';
import type { SubscriptionStatus } from './subscriptions.table.js';

/** A plan and cycle, with the plan's price for that cycle in minor units. */
export interface PlanChoice {
  planId: string;
  cycle: BillingCycle;
  price: number;
}

export interface ProrationInput {
  status: SubscriptionStatus;
  from: PlanChoice;
  to: PlanChoice;
  /** The current period (the trial, while trialing). */
  periodStart: Date;
  periodEnd: Date;
  /** `period_end`: a downgrade scheduled for the end of the period (nothing is prorated). */
  effective: 'immediately' | 'period_end';
  now: Date;
}

export interface Proration {
  /** Unused time of the current period on the old plan. */
  credit: number;
  /** The new plan for the rest of the period (same cycle), or its full price (another cycle, or a new subscription). */
  charge: number;
  amountDue: number;
  /** Credit left over after the charge (a later issue applies it to invoices). */
  creditBalance: number;
  /** The period after the change. */
  periodStart: Date;
  periodEnd: Date;
  /** Whole seconds left of the current period, the basis of the credit (0 when nothing is prorated from it). */
  secondsRemaining: number;
  /** Whole seconds of the current period. */
  secondsInPeriod: number;
}

const wholeSeconds = (ms: number) => Math.floor(ms / 1000);

/** `amount × numerator / denominator`, exact, rounded half up (all values ≥ 0, denominator > 0). */
export function prorate(amount: number, numerator: number, denominator: number): number {
  const exact2 = 2n * BigInt(amount) * BigInt(numerator);
  const d = BigInt(denominator);
  return Number((exact2 + d) / (2n * d));
}

/** A price as a year's worth, so monthly and yearly prices compare (BigInt: ×12 can pass 2^53). */
export const yearlyEquivalent = (price: number, cycle: BillingCycle): bigint => BigInt(price) * (cycle === 'monthly' ? 12n : 1n);

/** An upgrade costs at least as much per year as the current plan and cycle; a downgrade strictly less. */
export function changeDirection(from: Pick<PlanChoice, 'price' | 'cycle'>, to: Pick<PlanChoice, 'price' | 'cycle'>): 'upgrade' | 'downgrade' {
  return yearlyEquivalent(to.price, to.cycle) >= yearlyEquivalent(from.price, from.cycle) ? 'upgrade' : 'downgrade';
}

function settle(credit: number, charge: number, period: { periodStart: Date; periodEnd: Date }, seconds: { secondsRemaining: number; secondsInPeriod: number }): Proration {
  return { credit, charge, amountDue: Math.max(0, charge - credit), creditBalance: Math.max(0, credit - charge), ...period, ...seconds };
}

/**
 * The proration of changing from `from` to `to` at `now`:
 * - the same plan and cycle while served (trialing, active, past_due): nothing changes, all zero;
 * - trialing: the trial continues on the new plan, free: all zero, the period kept;
 * - canceled or expired: a new subscription — no credit, the full new price, a new period from now;
 * - scheduled for the period end: nothing prorated, the new period follows the current one;
 * - otherwise credit = old price × remaining / total; the same cycle keeps the period and charges the new
 *   price × remaining / total; another cycle charges the full new price for a new period from now.
 */
export function computeProration(input: ProrationInput): Proration {
  const { from, to, now, periodStart, periodEnd } = input;
  const secondsInPeriod = Math.max(1, wholeSeconds(periodEnd.getTime() - periodStart.getTime()));
  const secondsRemaining = Math.min(secondsInPeriod, Math.max(0, wholeSeconds(periodEnd.getTime() - now.getTime())));
  const seconds = { secondsRemaining, secondsInPeriod };
  const kept = { periodStart, periodEnd };

  if (input.status === 'canceled' || input.status === 'expired') {
    return settle(0, to.price, { periodStart: now, periodEnd: addCycle(now, to.cycle) }, { secondsRemaining: 0, secondsInPeriod });
  }
  if (from.planId === to.planId && from.cycle === to.cycle) return settle(0, 0, kept, seconds);
  if (input.status === 'trialing') return settle(0, 0, kept, seconds);
  if (input.effective === 'period_end') return settle(0, 0, { periodStart: periodEnd, periodEnd: addCycle(periodEnd, to.cycle) }, seconds);

  const credit = prorate(from.price, secondsRemaining, secondsInPeriod);
  if (from.cycle === to.cycle) return settle(credit, prorate(to.price, secondsRemaining, secondsInPeriod), kept, seconds);
  return settle(credit, to.price, { periodStart: now, periodEnd: addCycle(now, to.cycle) }, seconds);
}
