/**
 * The feature and limit catalogs (code, not data): plans name these features, and routes and services
 * check them by code. A plan's `limits` has exactly these keys; `null` means unlimited.
 */
export const FEATURES = {
  audit_export: 'Export the audit log (CSV, JSON).',
  webhooks: 'Webhook endpoints that receive the tenant’s events.',
  api_keys: 'API keys for machine access.',
  custom_roles: 'Custom roles beyond the built-in ones.',
  sso: 'Single sign-on (OIDC, SAML) for the tenant’s members.',
  priority_support: 'Priority support.',
} as const;

export type Feature = keyof typeof FEATURES;

export const FEATURE_CODES = Object.keys(FEATURES) as Feature[];

export const LIMITS = {
  maxUsers: 'Members of the tenant (active or deactivated).',
  maxStores: 'Live stores.',
  maxStorageMb: 'File storage, in MiB.',
  maxApiCallsPerMonth: 'API calls per calendar month.',
  maxWebhookEndpoints: 'Webhook endpoints.',
  maxApiKeys: 'API keys.',
} as const;

export type LimitKey = keyof typeof LIMITS;

export const LIMIT_KEYS = Object.keys(LIMITS) as LimitKey[];

/** A plan's limits: every key present; `null` is unlimited. */
export type PlanLimits = Record<LimitKey, number | null>;

export const billingCycles = ['monthly', 'yearly'] as const;
export type BillingCycle = (typeof billingCycles)[number];
