/**
 * Request and response schemas of the platform administration of one tenant's subscription and
 * entitlements (`/api/v1/admin/tenants/:id/subscription`, `/entitlements`) and of the console's
 * `GET /api/v1/features`; types are derived from them, never written twice.
 */
import { Type, type Static } from 'typebox';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';
import { FEATURE_CODES, FEATURES, LIMIT_KEYS, LIMITS, type Feature, type LimitKey } from './features.js';
import { LimitsSchema } from './plans.schemas.js';
import { BillingCycleSchema, PlanRefSchema, type SubscriptionView } from './subscriptions.schemas.js';
import { subscriptionStatuses, type SubscriptionStatus } from './subscriptions.table.js';

export const bearer = [{ bearerAuth: [] }];

export const AdminTenantSubscriptionParams = Type.Object({ id: Type.String({ format: 'uuid', description: 'Tenant id.' }) });

const StatusSchema = (description: string) => Type.Unsafe<SubscriptionStatus>({ type: 'string', enum: [...subscriptionStatuses], description });

const featureProperties = Object.fromEntries(FEATURE_CODES.map((code) => [code, Type.Optional(Type.Boolean({ description: `${FEATURES[code]} true: on whatever the plan says; false: off.` }))]));
const FeatureOverridesSchema = Type.Unsafe<Partial<Record<Feature, boolean>>>(
  Type.Object(featureProperties, { additionalProperties: false, description: 'Features forced on (true) or off (false) for this tenant, whatever its plan includes. A code absent follows the plan.' }),
);
const LimitOverridesSchema = Type.Unsafe<Partial<Record<LimitKey, number | null>>>(
  Type.Partial(LimitsSchema, { additionalProperties: false, description: "Limits replaced for this tenant (an integer ≥ 0, or null: unlimited). A key absent follows the plan." }),
);

export const OverridesSchema = Type.Object(
  { features: FeatureOverridesSchema, limits: LimitOverridesSchema },
  { description: "The platform's overrides of the plan for this tenant (empty objects: none)." },
);

const EffectiveEntitlements = {
  features: Type.Array(Type.String(), { description: 'The features the tenant has (the plan’s, with the overrides applied), in catalog order.' }),
  limits: { ...LimitsSchema, description: 'Every limit the tenant has (the plan’s, with the overrides applied); null: unlimited.' },
};

export const AdminEntitlementsSchema = Type.Object(
  { ...EffectiveEntitlements, overrides: OverridesSchema },
  { description: "The tenant's effective features and limits, and the platform's overrides they include." },
);
export type AdminEntitlementsView = Static<typeof AdminEntitlementsSchema>;

const UsageSchema = Type.Object(
  Object.fromEntries(LIMIT_KEYS.map((key) => [key, Type.Integer({ minimum: 0, description: LIMITS[key] })])) as Record<LimitKey, ReturnType<typeof Type.Integer>>,
  { description: 'Current usage of every limit (0 for what nothing counts yet: storage, API calls, webhook endpoints, API keys).' },
);

export const ExceededSchema = Type.Array(
  Type.Object({ limit: Type.String({ description: 'The limit, e.g. `maxUsers`.' }), current: Type.Integer({ minimum: 0 }), max: Type.Integer({ minimum: 0 }) }),
  { description: 'Every limit the current usage is above (the platform may put a tenant on a plan it does not fit; nothing is removed, new things are refused).' },
);
export type ExceededLimit = Static<typeof ExceededSchema>[number];

export const AdminSubscriptionSchema = Type.Object(
  {
    subscription: { ...Type.Ref('Subscription'), description: 'The subscription.' },
    entitlements: Type.Object(EffectiveEntitlements, { description: 'The effective features and limits (plan with overrides).' }),
    overrides: OverridesSchema,
    usage: UsageSchema,
    exceeded: ExceededSchema,
  },
  { description: "A tenant's subscription as platform administration sees it: with its entitlements, overrides, usage and the limits exceeded." },
);
export type AdminSubscriptionView = Omit<Static<typeof AdminSubscriptionSchema>, 'subscription'> & { subscription: SubscriptionView };

export const UpdateAdminSubscriptionBody = Type.Object(
  {
    planId: Type.Optional(Type.String({ format: 'uuid', description: 'Any plan, private or archived included; applied at once, without proration or usage check.' })),
    billingCycle: Type.Optional(BillingCycleSchema),
    status: Type.Optional(StatusSchema('The new status, through the state machine (409 `subscription.invalid_transition` otherwise).')),
    trialEndsAt: Type.Optional(
      Type.String({ format: 'date-time', description: 'Sets or extends the trial (in the future, at most 365 days ahead): while trialing, or with `status: trialing` (from expired).' }),
    ),
    extendTrialDays: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 365, description: 'Extends the running trial by this many days (from now when none is running); instead of `trialEndsAt`, with the same rules.' }),
    ),
    reason: Type.Optional(Type.String({ maxLength: 500, description: 'Why (kept in the platform audit trail and on the event; up to 500 characters).' })),
  },
  { additionalProperties: false, description: 'At least one of `planId`, `billingCycle`, `status`, `trialEndsAt`, `extendTrialDays`; `reason` is optional.' },
);
export type UpdateAdminSubscriptionInput = Static<typeof UpdateAdminSubscriptionBody>;

export const UpdateEntitlementsBody = Type.Object(
  {
    features: Type.Optional({ ...FeatureOverridesSchema, description: 'Feature overrides, by feature code: true forces it on, false off.' }),
    limits: Type.Optional({ ...LimitOverridesSchema, description: 'Limit overrides, by limit key: an integer ≥ 0, or null (unlimited).' }),
  },
  { additionalProperties: false, description: 'The new overrides, replacing the old ones as a whole: a code or key omitted has no override; `{}` clears them all.' },
);
export type UpdateEntitlementsInput = Static<typeof UpdateEntitlementsBody>;

export const TenantFeaturesSchema = Type.Object(
  {
    plan: PlanRefSchema,
    status: StatusSchema('The subscription status.'),
    features: Type.Array(
      Type.Object({ code: Type.String(), description: Type.String(), enabled: Type.Boolean({ description: 'Whether the tenant may use it (plan with overrides).' }) }),
      { description: 'Every feature of the catalog, in catalog order.' },
    ),
    limits: Type.Array(
      Type.Object({ limit: Type.String(), description: Type.String(), max: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'The most allowed; null: unlimited.' }) }),
      { description: 'Every limit of the catalog, in catalog order.' },
    ),
  },
  { description: "What the tenant may use: its plan's features and limits with the platform's overrides." },
);
export type TenantFeaturesView = Static<typeof TenantFeaturesSchema>;

export const tenantNotFound = problemResponse('No tenant has this id (`tenant.not_found`).');

/** Errors every admin route of a tenant's subscription can answer. */
export const adminSubscriptionRouteErrors = {
  ...standardErrors,
  401: problemResponse('Missing, invalid or expired access token, or the session has ended (`auth.unauthenticated`).'),
  403: problemResponse('No platform role allowing this (`auth.forbidden`): reads need `platform.view` (administrators and operators), changes `platform.tenants.manage` (administrators only).'),
};

export const featuresRouteErrors = {
  ...standardErrors,
  401: problemResponse('Missing, invalid or expired access token, or the session has ended (`auth.unauthenticated`).'),
  403: problemResponse('The role does not allow this (`auth.forbidden`); the membership is deactivated or the tenant suspended or closed (`auth.tenant_access_revoked`).'),
};
