/**
 * Subscriptions: one per tenant (created with it), on one plan. Payments, invoices and coupons (a later
 * issue) attach to a subscription by `(tenant_id, id)` without reshaping it.
 *
 * `revision` takes a new value of `entitlements_revision_seq` whenever the row changes (trigger), as a
 * plan's does: authentication reads the greater of the two with every request, and that is the key of the
 * cached entitlements, so a change is seen by every process at its next request.
 */
import { sql } from 'drizzle-orm';
import { bigint, boolean, check, foreignKey, jsonb, pgSequence, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, idColumn, tenantIdColumn, updatedAt } from '../../core/db/columns.js';
import type { Feature, LimitKey } from '../../core/tenancy/entitlements.js';
import { tenants } from '../../core/tenancy/tenancy.table.js';
import { plans } from './plans.table.js';

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const entitlementsRevisionSeq = pgSequence('entitlements_revision_seq');

export const subscriptionStatuses = ['trialing', 'active', 'past_due', 'canceled', 'expired'] as const;
export type SubscriptionStatus = (typeof subscriptionStatuses)[number];

/** Per-tenant overrides set by the platform: a feature forced on or off, a limit replaced (null: unlimited). */
export type FeatureOverrides = Partial<Record<Feature, boolean>>;
export type LimitOverrides = Partial<Record<LimitKey, number | null>>;

export const subscriptions = pgTable(
  'subscriptions',
  {
    tenantId: tenantIdColumn(),
    id: idColumn(),
    planId: uuid('plan_id').notNull(),
    status: text('status', { enum: subscriptionStatuses }).notNull(),
    billingCycle: text('billing_cycle', { enum: ['monthly', 'yearly'] }).notNull().default('monthly'),
    /** The period being served: the trial while trialing, else the paid cycle. */
    currentPeriodStart: timestamptz('current_period_start').notNull(),
    currentPeriodEnd: timestamptz('current_period_end').notNull(),
    trialEndsAt: timestamptz('trial_ends_at'),
    /** While past_due: when the subscription expires if still unpaid. */
    graceEndsAt: timestamptz('grace_ends_at'),
    cancelAtPeriodEnd: boolean('cancel_at_period_end').notNull().default(false),
    canceledAt: timestamptz('canceled_at'),
    cancelReason: text('cancel_reason'),
    /** When the subscription stopped being served (canceled or expired). */
    endedAt: timestamptz('ended_at'),
    /** A downgrade waiting for the end of the period. */
    pendingPlanId: uuid('pending_plan_id'),
    pendingBillingCycle: text('pending_billing_cycle', { enum: ['monthly', 'yearly'] }),
    /** The payment method on file: the provider's name and its reference (no card data, ever). */
    paymentProvider: text('payment_provider'),
    paymentReference: text('payment_reference'),
    paymentMethodUpdatedAt: timestamptz('payment_method_updated_at'),
    featureOverrides: jsonb('feature_overrides').$type<FeatureOverrides>().notNull().default({}),
    limitOverrides: jsonb('limit_overrides').$type<LimitOverrides>().notNull().default({}),
    revision: bigint('revision', { mode: 'number' }).notNull().default(sql`nextval('entitlements_revision_seq')`),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ name: 'subscriptions_pkey', columns: [t.tenantId, t.id] }),
    uniqueIndex('subscriptions_tenant_key').on(t.tenantId),
    foreignKey({ name: 'subscriptions_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
    foreignKey({ name: 'subscriptions_plan_fk', columns: [t.planId], foreignColumns: [plans.id] }),
    foreignKey({ name: 'subscriptions_pending_plan_fk', columns: [t.pendingPlanId], foreignColumns: [plans.id] }),
    check('subscriptions_status_check', sql`${t.status} in ('trialing', 'active', 'past_due', 'canceled', 'expired')`),
    check('subscriptions_cycle_check', sql`${t.billingCycle} in ('monthly', 'yearly') and coalesce(${t.pendingBillingCycle}, 'monthly') in ('monthly', 'yearly')`),
    check('subscriptions_period_check', sql`${t.currentPeriodEnd} > ${t.currentPeriodStart}`),
    check('subscriptions_trial_check', sql`${t.status} <> 'trialing' or ${t.trialEndsAt} is not null`),
    check('subscriptions_grace_check', sql`${t.status} <> 'past_due' or ${t.graceEndsAt} is not null`),
    check('subscriptions_ended_check', sql`(${t.status} in ('canceled', 'expired')) = (${t.endedAt} is not null)`),
    check('subscriptions_pending_check', sql`(${t.pendingPlanId} is null) = (${t.pendingBillingCycle} is null)`),
    check('subscriptions_payment_check', sql`(${t.paymentProvider} is null) = (${t.paymentReference} is null)`),
    check('subscriptions_cancel_reason_length', sql`char_length(${t.cancelReason}) <= 500`),
  ],
);

export type SubscriptionRow = typeof subscriptions.$inferSelect;
