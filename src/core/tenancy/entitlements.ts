/**
 * Entitlements: what a tenant's plan (and the platform's overrides) lets it use. The catalogs are code,
 * shared by every module that checks them; the billing module implements the `Entitlements` port and
 * `app.ts` wires it into the platform, because the tenancy modules that create tenants, members and
 * stores sit below billing (DESIGN §3: dependencies point one way).
 */
import type { Tx } from '../db/database.js';

/** Features a plan may include; routes declare `config.feature` with one of these codes. */
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

/** Numeric limits of a plan; `null` means unlimited. */
export const LIMITS = {
  maxUsers: 'Seats: members of the tenant (active or deactivated) plus pending invitations.',
  maxStores: 'Live stores (deleted ones do not count).',
  maxStorageMb: 'File storage, in MiB.',
  maxApiCallsPerMonth: 'API calls per calendar month.',
  maxWebhookEndpoints: 'Webhook endpoints.',
  maxApiKeys: 'API keys.',
} as const;

export type LimitKey = keyof typeof LIMITS;

export const LIMIT_KEYS = Object.keys(LIMITS) as LimitKey[];

/** A plan's limits: every key present; `null` is unlimited. */
export type PlanLimits = Record<LimitKey, number | null>;

export interface Entitlements {
  /**
   * Starts a new tenant's subscription on the signup plan (BILLING_SIGNUP_PLAN), in the transaction that
   * inserts the tenant: every tenant has exactly one subscription (a deferred constraint checks it at commit).
   */
  startSubscription(tx: Tx, tenantId: string): Promise<void>;
  /**
   * Refuses (402 `plan.limit_reached`, with `{ limit, current, max }`) adding `adding` units of `limit`
   * beyond what the tenant is entitled to. Call it in the transaction of the insert, before the insert: the
   * locks it takes until the transaction ends make concurrent creates of a limited thing count one after
   * the other (they never exceed the limit together) and make a plan change wait for them.
   */
  assertWithinLimit(tx: Tx, tenantId: string, limit: LimitKey, adding?: number): Promise<void>;
}
