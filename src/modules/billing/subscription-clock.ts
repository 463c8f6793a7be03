/**
 * The subscription clock: trial end, period end, cancellation at period end, grace period and expiry.
 *
 * A pg-boss job runs every minute (`billing.subscription_clock`) and advances every subscription that is
 * due at that moment:
 * - trialing, trial over: canceled if the customer asked to (ended at the trial end); otherwise it converts
 *   (a pending change applied first): active for its first cycle when the plan is free for the cycle or a
 *   payment method is on file, else past_due for that cycle with a grace period of `billing.graceDays`.
 * - active, period over: canceled if asked to (ended at the period end); otherwise a pending downgrade is
 *   applied, then it renews (active, next period) or goes past_due (the next period is the one owed).
 * - past_due, grace over: expired (ended at the grace end): the tenant is read-only.
 * A subscription many periods behind (the worker was down) catches up in one run, one change at a time,
 * each with its audit row and event, exactly as if the clock had never stopped.
 *
 * Finding due subscriptions is a read across tenants: it takes the platform read role (read-only, like
 * platform administration), in short keyset batches served by the partial indexes of migration 0016. Each
 * subscription then advances in its own tenant's transaction, after locking its row and checking it is
 * still due, so overlapping runs (two workers, a retry, a rerun at the same moment) never advance one twice.
 */
import { and, lte, sql } from 'drizzle-orm';
import type { Config } from '../../config.js';
import type { Database, Tx } from '../../core/db/database.js';
import type { JobQueue } from '../../core/jobs/jobs.js';
import type { Platform } from '../../core/platform.js';
import { addCycle, addDays } from './periods.js';
import { findPlan, planPrice, type PlanRow } from './plans.repository.js';
import { recordSubscriptionChange, type SubscriptionChange } from './subscription-changes.js';
import { assertTransition } from './subscription-states.js';
import { findSubscription, updateSubscription, type SubscriptionChanges, type SubscriptionWithPlan } from './subscriptions.repository.js';
import { subscriptions, type SubscriptionRow } from './subscriptions.table.js';

export const SUBSCRIPTION_CLOCK_QUEUE = 'billing.subscription_clock';
export const SUBSCRIPTION_CLOCK_CRON = '* * * * *';

const BATCH_SIZE = 200;
const SYSTEM = { type: 'system' } as const;

export interface SubscriptionClockDeps {
  db: Database;
  config: Pick<Config, 'billing'>;
}

/** A run in which some subscriptions could not be advanced (the others were). */
export class SubscriptionClockError extends Error {
  constructor(
    readonly advanced: number,
    readonly failures: Array<{ tenantId: string; error: unknown }>,
  ) {
    const ids = failures.slice(0, 10).map((failure) => failure.tenantId);
    super(`${failures.length} subscription(s) could not be advanced (tenants ${ids.join(', ')}${failures.length > ids.length ? ', …' : ''}); ${advanced} advanced.`);
    this.name = 'SubscriptionClockError';
  }
}

/** When the subscription next needs the clock (null: never, it has ended). */
function dueAt(subscription: SubscriptionRow): Date | null {
  if (subscription.status === 'trialing' || subscription.status === 'active') return subscription.currentPeriodEnd;
  if (subscription.status === 'past_due') return subscription.graceEndsAt;
  return null;
}

const isDue = (subscription: SubscriptionRow, now: Date) => (dueAt(subscription)?.getTime() ?? Infinity) <= now.getTime();

/** Free: the plan's price for the cycle is 0 (null: the cycle is no longer offered, so not free). */
const isFree = (plan: PlanRow, cycle: SubscriptionRow['billingCycle']) => planPrice(plan, cycle) === 0;

/** Until payments land (a later issue), a conversion or renewal succeeds when nothing is owed or a payment method is on file. */
const canRenew = ({ subscription, plan }: SubscriptionWithPlan) => isFree(plan, subscription.billingCycle) || subscription.paymentProvider !== null;

interface DueRow {
  tenantId: string;
  /** The due time as the database prints it: exact to the microsecond (a Date keeps milliseconds). */
  dueAt: string;
}

/** One keyset batch of due subscriptions of one kind, read across tenants as the platform read role. */
async function findDueBatch(db: Database, kind: 'period' | 'grace', now: Date, after: DueRow | null): Promise<DueRow[]> {
  const column = kind === 'period' ? subscriptions.currentPeriodEnd : subscriptions.graceEndsAt;
  // Literal statuses, so the planner matches the partial indexes' predicates.
  const status = kind === 'period' ? sql`${subscriptions.status} in ('trialing', 'active')` : sql`${subscriptions.status} = 'past_due'`;
  const keyset = after ? sql`(${column}, ${subscriptions.tenantId}) > (${after.dueAt}::timestamptz, ${after.tenantId}::uuid)` : undefined;
  return db.transaction({ platform: true }, (tx) =>
    tx
      .select({ tenantId: subscriptions.tenantId, dueAt: sql<string>`${column}::text` })
      .from(subscriptions)
      .where(and(status, lte(column, now), keyset))
      .orderBy(column, subscriptions.tenantId)
      .limit(BATCH_SIZE),
  );
}

/**
 * Advances every subscription due at `now` (trial end, period end, grace end), each in its own tenant's
 * transaction; returns how many changed. One tenant's failure does not stop the others: they are all tried,
 * then the run throws a `SubscriptionClockError` naming the failed tenants (so the job fails and is retried).
 */
export async function advanceSubscriptions(deps: SubscriptionClockDeps, now: Date): Promise<{ advanced: number }> {
  let advanced = 0;
  const failures: SubscriptionClockError['failures'] = [];
  for (const kind of ['period', 'grace'] as const) {
    let after: DueRow | null = null;
    for (;;) {
      const batch = await findDueBatch(deps.db, kind, now, after);
      for (const due of batch) {
        try {
          if (await advanceSubscription(deps, due.tenantId, now)) advanced += 1;
        } catch (error) {
          failures.push({ tenantId: due.tenantId, error });
        }
      }
      if (batch.length < BATCH_SIZE) break;
      after = batch[batch.length - 1]!;
    }
  }
  if (failures.length > 0) throw new SubscriptionClockError(advanced, failures);
  return { advanced };
}

/**
 * Advances one tenant's subscription up to `now`, under its row lock: nothing happens when it is no longer
 * due (another run got there first). Returns whether it changed.
 */
export async function advanceSubscription(deps: SubscriptionClockDeps, tenantId: string, now: Date): Promise<boolean> {
  return deps.db.withTenant(tenantId, async (tx) => {
    let current = await findSubscription(tx, tenantId, { lock: true });
    if (!current || !isDue(current.subscription, now)) return false;
    while (isDue(current.subscription, now)) current = await advanceOnce(tx, current, deps.config.billing.graceDays);
    return true;
  });
}

/** The one change due next: an ended trial or period, or an ended grace period. */
async function advanceOnce(tx: Tx, current: SubscriptionWithPlan, graceDays: number): Promise<SubscriptionWithPlan> {
  const { subscription } = current;
  if (subscription.status === 'past_due') {
    const end = subscription.graceEndsAt!;
    return change(tx, current, 'subscription.expired', end, { status: 'expired', endedAt: end, pendingPlanId: null, pendingBillingCycle: null });
  }

  const end = subscription.currentPeriodEnd;
  if (subscription.cancelAtPeriodEnd) {
    return change(tx, current, 'subscription.canceled', end, { status: 'canceled', endedAt: end, pendingPlanId: null, pendingBillingCycle: null });
  }
  let renewing = current;
  if (subscription.pendingPlanId) {
    renewing = await change(tx, current, 'subscription.changed', end, {
      planId: subscription.pendingPlanId,
      billingCycle: subscription.pendingBillingCycle!,
      pendingPlanId: null,
      pendingBillingCycle: null,
    });
  }
  // The next period (the first paid one after a trial) is served when paid, else owed during the grace period.
  const cycle = renewing.subscription.billingCycle;
  const period = { currentPeriodStart: end, currentPeriodEnd: addCycle(end, cycle) };
  if (canRenew(renewing)) return change(tx, renewing, 'subscription.renewed', end, { status: 'active', ...period });
  return change(tx, renewing, 'subscription.past_due', end, { status: 'past_due', ...period, graceEndsAt: addDays(end, graceDays) });
}

/** Writes one change with its audit row and event (actor: the system), the status through the state machine. */
async function change(tx: Tx, current: SubscriptionWithPlan, kind: SubscriptionChange, dueAt: Date, changes: SubscriptionChanges): Promise<SubscriptionWithPlan> {
  const before = current.subscription;
  if (changes.status && changes.status !== before.status) assertTransition(before.status, changes.status);
  const after = await updateSubscription(tx, before.tenantId, changes);
  await recordSubscriptionChange(tx, { change: kind, actor: SYSTEM, before, after, details: { dueAt: dueAt.toISOString() } });
  const plan = after.planId === current.plan.id ? current.plan : await findPlan(tx, after.planId);
  if (!plan) throw new Error(`subscription ${after.id} names a missing plan ${after.planId}`);
  return { subscription: after, plan };
}

/** The clock's queue: a failed run is retried, and the next minute's run covers whatever is still due. */
export async function defineSubscriptionClockQueue(jobs: JobQueue): Promise<void> {
  await jobs.define({ name: SUBSCRIPTION_CLOCK_QUEUE, retryLimit: 2, retryDelaySeconds: 15, expireInSeconds: 15 * 60 });
}

/**
 * Starts the billing module's background work in a worker process: the subscription clock, every minute
 * (the schedule is stored once, whichever worker registers it; pg-boss's cron fires it on one of them).
 */
export async function startBillingWorkers(platform: Platform): Promise<void> {
  await defineSubscriptionClockQueue(platform.jobs);
  await platform.jobs.work(SUBSCRIPTION_CLOCK_QUEUE, async () => {
    try {
      const { advanced } = await advanceSubscriptions(platform, new Date());
      if (advanced > 0) platform.logger.info({ advanced }, 'subscriptions advanced');
    } catch (error) {
      if (error instanceof SubscriptionClockError) {
        for (const failure of error.failures) platform.logger.error({ err: failure.error, tenantId: failure.tenantId }, 'subscription could not be advanced');
      }
      throw error;
    }
  });
  await platform.jobs.schedule(SUBSCRIPTION_CLOCK_QUEUE, SUBSCRIPTION_CLOCK_CRON);
}
