/**
 * The billing module's public face: plans (public catalog and platform administration), and later
 * subscriptions, entitlements, invoices and payments.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';

export { FEATURES, FEATURE_CODES, LIMITS, LIMIT_KEYS, type Feature, type LimitKey, type PlanLimits, type BillingCycle } from './features.js';
export { plans } from './plans.table.js';

export const billingModule = fp(async function billing(app: FastifyInstance, options: { config: Config }) {
  void options;
  void app;
});
