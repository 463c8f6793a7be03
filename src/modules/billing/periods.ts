/**
 * Billing periods: calendar months and years in UTC. A period that starts on the 31st ends on the last day
 * of a shorter month (Jan 31 → Feb 28/29 → Mar 31 is not promised: each period counts from its own start).
 */
import type { BillingCycle } from './features.js';

const DAY_MS = 86_400_000;

/** `start` plus one cycle, clamped to the end of the target month. */
export function addCycle(start: Date, cycle: BillingCycle): Date {
  const months = cycle === 'monthly' ? 1 : 12;
  const year = start.getUTCFullYear();
  const month = start.getUTCMonth() + months;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return new Date(
    Date.UTC(year, month, Math.min(start.getUTCDate(), lastDay), start.getUTCHours(), start.getUTCMinutes(), start.getUTCSeconds(), start.getUTCMilliseconds()),
  );
}

export const addDays = (start: Date, days: number) => new Date(start.getTime() + days * DAY_MS);

/** Whole days left until `end` (rounded up: a trial ending in 3 hours has 1 day left; 0 once past). */
export const daysUntil = (end: Date, now: Date) => Math.max(0, Math.ceil((end.getTime() - now.getTime()) / DAY_MS));
