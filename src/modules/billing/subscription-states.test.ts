/**
 * The subscription state machine: every one of the 25 (from, to) pairs of statuses, legal or refused.
 */
import { describe, expect, it } from 'vitest';
import { AppError } from '../../core/http/errors.js';
import { assertTransition, canTransition, INACTIVE_STATUSES, isInactive } from './subscription-states.js';
import { subscriptionStatuses, type SubscriptionStatus } from './subscriptions.table.js';

/** The machine as the issue draws it, written out independently of TRANSITIONS. */
const LEGAL: Record<SubscriptionStatus, SubscriptionStatus[]> = {
  trialing: ['active', 'past_due', 'canceled', 'expired'],
  active: ['past_due', 'canceled'],
  past_due: ['active', 'canceled', 'expired'],
  canceled: ['active'],
  expired: ['active', 'trialing'],
};

const pairs = subscriptionStatuses.flatMap((from) => subscriptionStatuses.map((to) => ({ from, to, legal: LEGAL[from].includes(to) })));

function refusal(from: SubscriptionStatus, to: SubscriptionStatus): AppError {
  try {
    assertTransition(from, to);
  } catch (error) {
    return error as AppError;
  }
  throw new Error(`${from} → ${to} was allowed`);
}

describe('assertTransition', () => {
  it('covers all 25 pairs, 12 of them legal', () => {
    expect(pairs).toHaveLength(25);
    expect(pairs.filter((pair) => pair.legal)).toHaveLength(12);
  });

  it.each(pairs.filter((pair) => pair.legal))('allows $from → $to', ({ from, to }) => {
    expect(() => assertTransition(from, to)).not.toThrow();
    expect(canTransition(from, to)).toBe(true);
  });

  it.each(pairs.filter((pair) => !pair.legal))('refuses $from → $to with 409 subscription.invalid_transition naming the allowed targets', ({ from, to }) => {
    expect(canTransition(from, to)).toBe(false);
    const error = refusal(from, to);
    expect(error).toBeInstanceOf(AppError);
    expect(error.code).toBe('subscription.invalid_transition');
    expect(error.status).toBe(409);
    expect(error.detail).toContain(`cannot become ${to}`);
    expect(error.detail).toContain(`(it can become: ${LEGAL[from].join(', ')})`);
  });

  it('treats staying in a status as no transition (refused like any other illegal pair)', () => {
    for (const status of subscriptionStatuses) expect(refusal(status, status).code).toBe('subscription.invalid_transition');
  });
});

describe('read-only statuses', () => {
  it('are exactly canceled and expired', () => {
    expect(subscriptionStatuses.filter(isInactive)).toEqual(['canceled', 'expired']);
    expect([...INACTIVE_STATUSES].sort()).toEqual(['canceled', 'expired']);
  });

  it('are left only by becoming active again (or trialing again, from expired), never for another inactive or unpaid status', () => {
    for (const from of INACTIVE_STATUSES) {
      // In the order of subscriptionStatuses.
      const exits = subscriptionStatuses.filter((to) => canTransition(from, to));
      expect(exits).toEqual(from === 'expired' ? ['trialing', 'active'] : ['active']);
      for (const to of ['past_due', 'canceled', 'expired'] as const) expect(() => assertTransition(from, to)).toThrow(AppError);
    }
  });
});
