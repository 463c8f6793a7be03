/**
 * The subscription as the API shows it (tenant routes and platform administration), and its presenter.
 * Route-specific request and response schemas live beside their routes' schemas files.
 */
import { Type, type Static, type TSchema } from 'typebox';
import type { PlanRow } from './plans.repository.js';
import { subscriptionStatuses, type SubscriptionRow, type SubscriptionStatus } from './subscriptions.table.js';

const DateTime = (description: string) => Type.String({ format: 'date-time', description });
const Nullable = <T extends TSchema>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });

export const BillingCycleSchema = Type.Union([Type.Literal('monthly'), Type.Literal('yearly')], { description: 'Billing cycle: `monthly` or `yearly`.' });

export const PlanRefSchema = Type.Object({ id: Type.String({ format: 'uuid' }), code: Type.String(), name: Type.String() }, { description: 'A plan, by id, code and name.' });

export const SubscriptionSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    tenantId: Type.String({ format: 'uuid' }),
    status: Type.Unsafe<SubscriptionStatus>({
      type: 'string',
      enum: [...subscriptionStatuses],
      description: '`trialing`, `active`, `past_due` (unpaid, in its grace period), `canceled` or `expired`. Canceled and expired tenants are read-only (402 `subscription.inactive`) except billing routes.',
    }),
    plan: PlanRefSchema,
    billingCycle: BillingCycleSchema,
    currentPeriodStart: DateTime('Start of the period being served (the trial, while trialing).'),
    currentPeriodEnd: DateTime('End of that period: the trial ends, the subscription renews, or a scheduled cancellation or downgrade takes effect.'),
    trialEndsAt: Nullable(DateTime('When the trial ends (or ended).'), 'When the trial ends; null without a trial.'),
    graceEndsAt: Nullable(DateTime('When a past_due subscription expires if still unpaid.'), 'Set while past_due.'),
    cancelAtPeriodEnd: Type.Boolean({ description: 'Cancels at `currentPeriodEnd` (POST /current/reactivate undoes it before then).' }),
    canceledAt: Nullable(DateTime('When cancellation was asked for.'), 'When cancellation was asked for; null otherwise.'),
    cancelReason: Nullable(Type.String(), 'The reason given when canceling, if any.'),
    endedAt: Nullable(DateTime('When the subscription stopped being served.'), 'Set once canceled or expired.'),
    pendingChange: Nullable(
      Type.Object({ plan: PlanRefSchema, billingCycle: BillingCycleSchema, effectiveAt: DateTime('When it takes effect (the end of the period).') }),
      'A downgrade scheduled for the end of the period; null when none.',
    ),
    paymentMethod: Nullable(
      Type.Object({
        provider: Type.String({ description: 'Payment provider, e.g. `stripe`, `mpesa`, `manual`.' }),
        reference: Type.String({ description: "The provider's reference of the method (never card data)." }),
        updatedAt: DateTime('When it was recorded.'),
      }),
      'The payment method on file; null when none.',
    ),
    createdAt: DateTime('When the subscription started.'),
    updatedAt: DateTime('When it last changed.'),
  },
  { $id: 'Subscription', description: "A tenant's subscription (exactly one per tenant)." },
);
export type SubscriptionView = Static<typeof SubscriptionSchema>;

export const subscriptionSchemas = [SubscriptionSchema];

const iso = (date: Date | null) => (date ? date.toISOString() : null);
const planRef = (plan: Pick<PlanRow, 'id' | 'code' | 'name'>) => ({ id: plan.id, code: plan.code, name: plan.name });

/** The API view of a subscription; `pendingPlan` is the plan of a scheduled change, when there is one. */
export function presentSubscription(row: SubscriptionRow, plan: Pick<PlanRow, 'id' | 'code' | 'name'>, pendingPlan?: Pick<PlanRow, 'id' | 'code' | 'name'> | null): SubscriptionView {
  return {
    id: row.id,
    tenantId: row.tenantId,
    status: row.status,
    plan: planRef(plan),
    billingCycle: row.billingCycle,
    currentPeriodStart: row.currentPeriodStart.toISOString(),
    currentPeriodEnd: row.currentPeriodEnd.toISOString(),
    trialEndsAt: iso(row.trialEndsAt),
    graceEndsAt: iso(row.graceEndsAt),
    cancelAtPeriodEnd: row.cancelAtPeriodEnd,
    canceledAt: iso(row.canceledAt),
    cancelReason: row.cancelReason,
    endedAt: iso(row.endedAt),
    pendingChange:
      row.pendingPlanId && pendingPlan && row.pendingBillingCycle
        ? { plan: planRef(pendingPlan), billingCycle: row.pendingBillingCycle, effectiveAt: row.currentPeriodEnd.toISOString() }
        : null,
    paymentMethod:
      row.paymentProvider && row.paymentReference
        ? { provider: row.paymentProvider, reference: row.paymentReference, updatedAt: (row.paymentMethodUpdatedAt ?? row.updatedAt).toISOString() }
        : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
