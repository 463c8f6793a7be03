/**
 * Request and response schemas of the tenant's subscription routes (`/api/v1/subscriptions/current`);
 * types are derived from them. The subscription itself is the shared `Subscription` schema
 * (subscriptions.schemas.ts), the plan the shared `Plan` schema (plans.schemas.ts).
 */
import { Type, type Static } from 'typebox';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';
import { FEATURE_CODES, LIMIT_KEYS, LIMITS, type Feature, type LimitKey } from './features.js';
import { LimitsSchema } from './plans.schemas.js';
import { BillingCycleSchema, PlanRefSchema } from './subscriptions.schemas.js';

const DateTime = (description: string) => Type.String({ format: 'date-time', description });
const Amount = (description: string) => Type.Integer({ minimum: 0, description: `${description} In minor units of \`currency\`.` });
/** See LimitsSchema: one schema with a type list, so Ajv's coercion cannot turn a null into 0. */
const LimitOrNull = (description: string) => Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 0, description });

export const bearer = [{ bearerAuth: [] }];

export const SubscriptionRef = (description: string) => ({ ...Type.Ref('Subscription'), description });

export const ChangePlanBody = Type.Object(
  {
    planId: Type.String({ format: 'uuid', description: 'The plan to move to: a public, unarchived plan (or the current one).' }),
    billingCycle: BillingCycleSchema,
    immediate: Type.Optional(
      Type.Boolean({ default: false, description: 'A downgrade of an active or past-due subscription applies at once instead of at the period end (only when current usage fits the new limits).' }),
    ),
  },
  { additionalProperties: false },
);
export type ChangePlanInput = Static<typeof ChangePlanBody>;

export const ProrationSchema = Type.Object(
  {
    plan: PlanRefSchema,
    billingCycle: BillingCycleSchema,
    currency: Type.String({ description: 'ISO 4217 currency of the amounts (the new plan’s).' }),
    change: Type.Union([Type.Literal('upgrade'), Type.Literal('downgrade')], {
      description: '`upgrade`: the new plan and cycle cost at least as much per year (monthly × 12, or yearly) as the current ones; `downgrade`: strictly less.',
    }),
    effective: Type.Union([Type.Literal('immediately'), Type.Literal('period_end')], {
      description: '`immediately`, or `period_end`: a downgrade scheduled for the end of the current period (`pendingChange`).',
    }),
    credit: Amount('Unused time of the current period on the current plan: price × secondsRemaining / secondsInPeriod, rounded once (half up).'),
    charge: Amount('The new plan: price × secondsRemaining / secondsInPeriod in the same cycle; the full price when the cycle changes or a canceled/expired subscription starts again.'),
    amountDue: Amount('max(0, charge − credit).'),
    creditBalance: Amount('max(0, credit − charge): credit kept for later invoices.'),
    periodStart: DateTime('Start of the period after the change.'),
    periodEnd: DateTime('End of the period after the change.'),
    secondsRemaining: Type.Integer({ minimum: 0, description: 'Whole seconds left of the current period (0 when nothing of it is prorated: canceled or expired).' }),
    secondsInPeriod: Type.Integer({ minimum: 1, description: 'Whole seconds of the current period.' }),
  },
  { description: 'The proration of the change, computed to the second. Trialing: all zero (the trial continues). Scheduled for the period end: all zero.' },
);
export type ProrationView = Static<typeof ProrationSchema>;

export const ChangePlanResponse = Type.Object(
  { subscription: SubscriptionRef('The subscription after the change.'), proration: ProrationSchema },
  { description: 'The subscription as changed, and the proration applied.' },
);

export const CancelBody = Type.Object(
  {
    atPeriodEnd: Type.Optional(
      Type.Boolean({ default: true, description: '`true` (default): served until the period (or trial) ends, then canceled. `false`: canceled now. A past-due subscription is always canceled now.' }),
    ),
    reason: Type.Optional(Type.String({ maxLength: 500, description: 'Why (up to 500 characters).' })),
  },
  { additionalProperties: false },
);
export type CancelInput = Static<typeof CancelBody>;

export const PaymentMethodBody = Type.Object(
  {
    provider: Type.String({ pattern: '^[a-z][a-z0-9_]{1,31}$', description: 'The payment provider, e.g. `stripe`, `mpesa`, `manual` (lowercase letters, digits, `_`; 2–32 characters).' }),
    reference: Type.String({ minLength: 1, maxLength: 200, description: 'The provider’s reference of the method (a Stripe payment method id, a phone number…); never card data.' }),
  },
  { additionalProperties: false },
);
export type PaymentMethodInput = Static<typeof PaymentMethodBody>;

const FeatureOverride = () => Type.Optional(Type.Boolean());
const LimitOverride = (key: LimitKey) => Type.Optional(LimitOrNull(`${LIMITS[key]} Null: unlimited.`));
const featureOverrides = Object.fromEntries(FEATURE_CODES.map((code) => [code, FeatureOverride()])) as Record<Feature, ReturnType<typeof FeatureOverride>>;
const limitOverrides = Object.fromEntries(LIMIT_KEYS.map((key) => [key, LimitOverride(key)])) as Record<LimitKey, ReturnType<typeof LimitOverride>>;

export const DetailsSchema = Type.Object(
  {
    subscription: SubscriptionRef('The subscription.'),
    plan: { ...Type.Ref('Plan'), description: 'The plan, as the catalog shows it (without the tenant’s overrides).' },
    features: Type.Array(Type.String(), { description: 'The features the tenant has (the plan’s, with the overrides), in catalog order.' }),
    limits: { ...LimitsSchema, description: 'The limits the tenant has (the plan’s, with the overrides); null: unlimited.' },
    overrides: Type.Object(
      {
        features: Type.Object(featureOverrides, { additionalProperties: false, description: 'Features the platform turned on (true) or off (false) for this tenant.' }),
        limits: Type.Object(limitOverrides, { additionalProperties: false, description: 'Limits the platform set for this tenant, replacing the plan’s.' }),
      },
      { description: 'The platform’s per-tenant overrides (PUT /api/v1/admin/tenants/:id/entitlements).' },
    ),
  },
  { description: 'The subscription, its plan, and what the tenant is entitled to.' },
);
export type DetailsView = Static<typeof DetailsSchema>;

export const UsageSchema = Type.Object(
  {
    limits: Type.Array(
      Type.Object({
        limit: Type.Unsafe<LimitKey>({ type: 'string', enum: [...LIMIT_KEYS], description: 'The limit.' }),
        description: Type.String({ description: 'What it counts.' }),
        current: Type.Integer({ minimum: 0, description: 'Current usage.' }),
        max: LimitOrNull('The limit (the plan’s, with the overrides); null: unlimited.'),
        percentage: Type.Unsafe<number | null>({
          type: ['number', 'null'],
          description: '100 × current / max with one decimal; may exceed 100 (a plan changed under the usage). Null when unlimited; with a max of 0: 0 when nothing is used, else 100.',
        }),
      }),
      { description: 'Every limit, in catalog order.' },
    ),
  },
  { description: 'Usage of every limit of the plan.' },
);
export type UsageView = Static<typeof UsageSchema>;

export const TrialSchema = Type.Object(
  {
    trialing: Type.Boolean({ description: 'Whether the subscription is in its trial.' }),
    trialEndsAt: Type.Union([DateTime('When the trial ends (or ended).'), Type.Null()], { description: 'When the trial ends (or ended); null without a trial.' }),
    daysLeft: Type.Integer({ minimum: 0, description: 'Whole days left of the trial, rounded up (3 hours left is 1 day); 0 when not trialing.' }),
  },
  { description: 'The trial.' },
);
export type TrialView = Static<typeof TrialSchema>;

/** Errors every route of the tenant's subscription can answer. */
export const subscriptionRouteErrors = {
  ...standardErrors,
  401: problemResponse('Missing, invalid or expired access token, or the session has ended (`auth.unauthenticated`).'),
  403: problemResponse(
    'The role does not allow this (`auth.forbidden`: reads need `billing.view`, changes `billing.manage`, held by the owner); the membership is deactivated or the tenant suspended or closed (`auth.tenant_access_revoked`); the tenant requires MFA (`auth.mfa_enrollment_required`); or `X-Store-ID` names a store the caller may not act in (`store.access_denied`).',
  ),
};

export const invalidTransition = (what: string) => problemResponse(`\`subscription.invalid_transition\`: ${what}`);
