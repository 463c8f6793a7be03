/**
 * Proration arithmetic (issue 6): property tests with fast-check — never negative; amountDue −
 * creditBalance = charge − credit exactly; credit ≤ the old price and charge ≤ the new one; each amount
 * within ½ of its exact rational value (rounded once); the same plan and cycle costs nothing — and
 * examples computed by hand.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BillingCycle } from './features.js';
import { addCycle } from './periods.js';
import { changeDirection, computeProration, prorate, type ProrationInput } from './proration.js';

const DAY = 86_400_000;
const start = new Date('2025-03-01T00:00:00.000Z');
const end = new Date('2025-03-31T00:00:00.000Z'); // 30 days: 2,592,000 s
const at = (days: number) => new Date(start.getTime() + days * DAY);

const input = (overrides: Partial<ProrationInput> = {}): ProrationInput => ({
  status: 'active',
  from: { planId: 'basic', cycle: 'monthly', price: 1900 },
  to: { planId: 'pro', cycle: 'monthly', price: 4900 },
  periodStart: start,
  periodEnd: end,
  effective: 'immediately',
  now: at(10),
  ...overrides,
});

describe('computeProration: examples computed by hand', () => {
  it('upgrade, same cycle, 20 of 30 days left: credit 1900·⅔ = 1266.67 → 1267, charge 4900·⅔ = 3266.67 → 3267, due 2000', () => {
    const result = computeProration(input());
    expect(result).toEqual({
      credit: 1267,
      charge: 3267,
      amountDue: 2000,
      creditBalance: 0,
      periodStart: start,
      periodEnd: end,
      secondsRemaining: 1_728_000,
      secondsInPeriod: 2_592_000,
    });
  });

  it('downgrade at once, same cycle, 15 of 30 days left: credit 2450, charge 950, credit balance 1500', () => {
    const result = computeProration(input({ from: { planId: 'pro', cycle: 'monthly', price: 4900 }, to: { planId: 'basic', cycle: 'monthly', price: 1900 }, now: at(15) }));
    expect(result).toMatchObject({ credit: 2450, charge: 950, amountDue: 0, creditBalance: 1500, periodStart: start, periodEnd: end });
  });

  it('another cycle: the full new price for a new period from now; credit for the unused time', () => {
    const now = at(15);
    const result = computeProration(input({ to: { planId: 'pro', cycle: 'yearly', price: 49000 }, now }));
    expect(result).toMatchObject({ credit: 950, charge: 49000, amountDue: 48050, creditBalance: 0, periodStart: now, periodEnd: new Date('2026-03-16T00:00:00.000Z') });
  });

  it('rounds half up, once: 1 × 1/2 = 0.5 → 1, 3 × 1/2 = 1.5 → 2, 1 × 1/3 → 0, 2 × 1/3 → 1', () => {
    expect(prorate(1, 1, 2)).toBe(1);
    expect(prorate(3, 1, 2)).toBe(2);
    expect(prorate(1, 1, 3)).toBe(0);
    expect(prorate(2, 1, 3)).toBe(1);
    // Exact beyond 2^53: a double would lose the last digits of the product.
    expect(prorate(Number.MAX_SAFE_INTEGER, 31_622_399, 31_622_400)).toBe(Number((BigInt(Number.MAX_SAFE_INTEGER) * 31_622_399n * 2n + 31_622_400n) / (2n * 31_622_400n)));
  });

  it('counts whole seconds: 999 ms left is 0 seconds, and a moment past the end credits nothing', () => {
    expect(computeProration(input({ now: new Date(end.getTime() - 999) }))).toMatchObject({ secondsRemaining: 0, credit: 0, charge: 0 });
    expect(computeProration(input({ now: new Date(end.getTime() + DAY) }))).toMatchObject({ secondsRemaining: 0, credit: 0, charge: 0, amountDue: 0 });
  });

  it('trialing: all zero, the trial period kept', () => {
    expect(computeProration(input({ status: 'trialing' }))).toMatchObject({ credit: 0, charge: 0, amountDue: 0, creditBalance: 0, periodStart: start, periodEnd: end });
  });

  it('canceled or expired: no credit, the full new price, a new period from now', () => {
    for (const status of ['canceled', 'expired'] as const) {
      const now = at(40);
      expect(computeProration(input({ status, now }))).toMatchObject({
        credit: 0,
        charge: 4900,
        amountDue: 4900,
        creditBalance: 0,
        periodStart: now,
        periodEnd: addCycle(now, 'monthly'),
        secondsRemaining: 0,
      });
    }
  });

  it('scheduled for the period end: nothing prorated, the next period follows the current one', () => {
    const result = computeProration(input({ from: { planId: 'pro', cycle: 'monthly', price: 4900 }, to: { planId: 'basic', cycle: 'yearly', price: 19000 }, effective: 'period_end' }));
    expect(result).toMatchObject({ credit: 0, charge: 0, amountDue: 0, creditBalance: 0, periodStart: end, periodEnd: new Date('2026-03-31T00:00:00.000Z') });
  });

  it('direction compares yearly equivalents: ≥ is an upgrade', () => {
    expect(changeDirection({ price: 1900, cycle: 'monthly' }, { price: 19000, cycle: 'yearly' })).toBe('downgrade'); // 22,800 → 19,000
    expect(changeDirection({ price: 19000, cycle: 'yearly' }, { price: 1900, cycle: 'monthly' })).toBe('upgrade');
    expect(changeDirection({ price: 1000, cycle: 'monthly' }, { price: 12000, cycle: 'yearly' })).toBe('upgrade'); // equal
    expect(changeDirection({ price: 0, cycle: 'monthly' }, { price: 0, cycle: 'yearly' })).toBe('upgrade');
  });
});

// --- properties -----------------------------------------------------------------------------------

const cycle = fc.constantFrom<BillingCycle>('monthly', 'yearly');
const price = fc.oneof(fc.integer({ min: 0, max: 1_000_000 }), fc.constant(0), fc.maxSafeInteger().map(Math.abs));
const servedStatus = fc.constantFrom('active' as const, 'past_due' as const);
/** A period of 1 s to ~2 years with millisecond edges, and a moment from before it starts to after it ends. */
const period = fc
  .record({
    start: fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2090, 0, 1) }),
    length: fc.integer({ min: 1000, max: 800 * DAY }),
    offset: fc.double({ min: -0.1, max: 1.1, noNaN: true }),
  })
  .map(({ start: s, length, offset }) => ({ periodStart: new Date(s), periodEnd: new Date(s + length), now: new Date(s + Math.round(length * offset)) }));

const immediateChange = fc
  .record({ status: servedStatus, fromPrice: price, toPrice: price, fromCycle: cycle, toCycle: cycle, period })
  .map(({ status, fromPrice, toPrice, fromCycle, toCycle, period: p }): ProrationInput => ({
    status,
    from: { planId: 'old', cycle: fromCycle, price: fromPrice },
    to: { planId: 'new', cycle: toCycle, price: toPrice },
    effective: 'immediately',
    ...p,
  }));

const anyChange = fc
  .record({
    status: fc.constantFrom('trialing' as const, 'active' as const, 'past_due' as const, 'canceled' as const, 'expired' as const),
    effective: fc.constantFrom('immediately' as const, 'period_end' as const),
    samePlan: fc.boolean(),
    change: immediateChange,
  })
  .map(({ status, effective, samePlan, change }): ProrationInput => ({ ...change, status, effective, to: { ...change.to, planId: samePlan ? 'old' : 'new' } }));

/** |amount − price × remaining / total| ≤ ½, in exact integers. */
const withinHalf = (amount: number, fullPrice: number, remaining: number, total: number) => {
  const difference = 2n * BigInt(amount) * BigInt(total) - 2n * BigInt(fullPrice) * BigInt(remaining);
  return (difference < 0n ? -difference : difference) <= BigInt(total);
};

describe('computeProration: properties', () => {
  it('never negative, integer amounts, and amountDue − creditBalance = charge − credit exactly (one of them 0)', () => {
    fc.assert(
      fc.property(anyChange, (change) => {
        const result = computeProration(change);
        for (const amount of [result.credit, result.charge, result.amountDue, result.creditBalance]) {
          expect(Number.isSafeInteger(amount) && amount >= 0).toBe(true);
        }
        expect(BigInt(result.amountDue) - BigInt(result.creditBalance)).toBe(BigInt(result.charge) - BigInt(result.credit));
        expect(Math.min(result.amountDue, result.creditBalance)).toBe(0);
        expect(result.periodEnd.getTime()).toBeGreaterThan(result.periodStart.getTime());
      }),
      { numRuns: 500 },
    );
  });

  it('credit ≤ the old price, and charge ≤ the new price', () => {
    fc.assert(
      fc.property(anyChange, (change) => {
        const result = computeProration(change);
        expect(result.credit).toBeLessThanOrEqual(change.from.price);
        expect(result.charge).toBeLessThanOrEqual(change.to.price);
      }),
      { numRuns: 500 },
    );
  });

  it('each amount is within ½ of its exact rational value (rounded once, not from another rounded amount)', () => {
    fc.assert(
      fc.property(immediateChange, (change) => {
        const result = computeProration(change);
        const { secondsRemaining: remaining, secondsInPeriod: total } = result;
        expect(total).toBe(Math.max(1, Math.floor((change.periodEnd.getTime() - change.periodStart.getTime()) / 1000)));
        expect(remaining).toBeGreaterThanOrEqual(0);
        expect(remaining).toBeLessThanOrEqual(total);
        expect(withinHalf(result.credit, change.from.price, remaining, total)).toBe(true);
        if (change.from.cycle === change.to.cycle) {
          expect(withinHalf(result.charge, change.to.price, remaining, total)).toBe(true);
          expect({ periodStart: result.periodStart, periodEnd: result.periodEnd }).toEqual({ periodStart: change.periodStart, periodEnd: change.periodEnd });
        } else {
          expect(result.charge).toBe(change.to.price);
          expect(result.periodStart).toEqual(change.now);
          expect(result.periodEnd).toEqual(addCycle(change.now, change.to.cycle));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('the same plan and cycle while served costs nothing and keeps the period', () => {
    fc.assert(
      fc.property(immediateChange, fc.constantFrom('trialing' as const, 'active' as const, 'past_due' as const), (change, status) => {
        const same = { ...change, status, to: change.from };
        expect(computeProration(same)).toMatchObject({ credit: 0, charge: 0, amountDue: 0, creditBalance: 0, periodStart: change.periodStart, periodEnd: change.periodEnd });
      }),
    );
  });

  it('a higher new price never costs less than a lower one (same cycle, same moment)', () => {
    fc.assert(
      fc.property(immediateChange, fc.integer({ min: 0, max: 1_000_000 }), (change, extra) => {
        fc.pre(change.to.price <= Number.MAX_SAFE_INTEGER - extra);
        const sameCycle = { ...change, to: { ...change.to, cycle: change.from.cycle } };
        const dearer = { ...sameCycle, to: { ...sameCycle.to, price: sameCycle.to.price + extra } };
        const [base, more] = [computeProration(sameCycle), computeProration(dearer)];
        expect(more.amountDue - more.creditBalance).toBeGreaterThanOrEqual(base.amountDue - base.creditBalance);
      }),
    );
  });
});
