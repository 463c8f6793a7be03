/**
 * The billing module's public face: plans (public catalog and platform administration), and later
 * subscriptions, entitlements, invoices and payments.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import { adminPlanRoutes } from './plans.admin.routes.js';
import { publicPlanRoutes } from './plans.routes.js';
import { planSchemas } from './plans.schemas.js';

export { FEATURES, FEATURE_CODES, LIMITS, LIMIT_KEYS, type Feature, type LimitKey, type PlanLimits, type BillingCycle } from './features.js';
export { plans } from './plans.table.js';

export const billingModule = fp(async function billing(app: FastifyInstance, options: { config: Config }) {
  void options;
  // Added here (not in one route plugin) so every billing plugin can reference `Plan`.
  for (const schema of planSchemas) app.addSchema(schema);
  const planDeps = { db: app.platform.db };
  await app.register(publicPlanRoutes, { prefix: '/api/v1/subscriptions/plans', deps: planDeps });
  await app.register(adminPlanRoutes, { prefix: '/api/v1/admin/plans', deps: planDeps });
});
