/**
 * The billing module's public face: plans (public catalog and platform administration), subscriptions
 * (one per tenant, its state machine and clock) and entitlements (features and limits, enforced on every
 * tenant route and in the transactions that create limited things). Invoices and payments come later and
 * attach to the subscription.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import type { Platform } from '../../core/platform.js';
import { currentSubscriptionRoutes } from './current-subscription.routes.js';
import { createEntitlements, type EntitlementsService } from './entitlements.js';
import { entitlementGuardPlugin } from './entitlement-guard.js';
import { featureRoutes } from './features.routes.js';
import { adminPlanRoutes } from './plans.admin.routes.js';
import { findPlanByCode } from './plans.repository.js';
import { publicPlanRoutes } from './plans.routes.js';
import { planSchemas } from './plans.schemas.js';
import { adminSubscriptionRoutes } from './subscriptions.admin.routes.js';
import { subscriptionSchemas } from './subscriptions.schemas.js';

export { FEATURES, FEATURE_CODES, LIMITS, LIMIT_KEYS, type Feature, type LimitKey, type PlanLimits, type BillingCycle } from './features.js';
export { plans } from './plans.table.js';
export { subscriptions } from './subscriptions.table.js';
export type { EntitlementsService } from './entitlements.js';
export { startBillingWorkers } from './subscription-clock.js';

/**
 * Creates the entitlements service and sets it as the platform's (buildApp calls this before registering
 * the modules: identity and organization start subscriptions and check limits through the platform).
 */
export function bindEntitlements(platform: Platform): EntitlementsService {
  const service = createEntitlements({ db: platform.db, config: platform.config });
  platform.entitlements = service;
  return service;
}

export const billingModule = fp(async function billing(app: FastifyInstance, options: { config: Config; entitlements: EntitlementsService }) {
  // Every new tenant starts on this plan: a wrong code fails at boot, not at the first signup.
  const { signupPlan } = options.config.billing;
  if (!(await app.platform.db.transaction({}, (tx) => findPlanByCode(tx, signupPlan)))) {
    throw new Error(`BILLING_SIGNUP_PLAN names no plan: "${signupPlan}" (see GET /api/v1/admin/plans).`);
  }
  // Added here (not in one route plugin) so every billing plugin can reference `Plan` and `Subscription`.
  for (const schema of [...planSchemas, ...subscriptionSchemas]) app.addSchema(schema);
  await app.register(entitlementGuardPlugin, { entitlements: options.entitlements });
  const planDeps = { db: app.platform.db };
  await app.register(publicPlanRoutes, { prefix: '/api/v1/subscriptions/plans', deps: planDeps });
  await app.register(adminPlanRoutes, { prefix: '/api/v1/admin/plans', deps: planDeps });
  await app.register(currentSubscriptionRoutes, { prefix: '/api/v1/subscriptions/current', deps: { db: app.platform.db } });
  await app.register(adminSubscriptionRoutes, { prefix: '/api/v1/admin/tenants', deps: { db: app.platform.db, config: options.config } });
  await app.register(featureRoutes, { prefix: '/api/v1/features', entitlements: options.entitlements });
});
