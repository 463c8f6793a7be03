/**
 * The feature and limit catalogs live in core (every module checks them); billing adds its cycles.
 */
export { FEATURES, FEATURE_CODES, LIMITS, LIMIT_KEYS, type Feature, type LimitKey, type PlanLimits } from '../../core/tenancy/entitlements.js';

export const billingCycles = ['monthly', 'yearly'] as const;
export type BillingCycle = (typeof billingCycles)[number];
