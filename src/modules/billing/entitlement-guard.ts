/**
 * The plan's part of every tenant request (DESIGN §4), right after the permission check:
 * - a canceled or expired tenant is read-only: a mutating tenant route answers 402 `subscription.inactive`
 *   unless it declares `allowWhenInactive` (billing routes, so the tenant can pay; closing the tenant);
 * - a route declaring `config.feature` answers 402 `plan.feature_unavailable` without it.
 * Reads the status and the entitlements revision authentication already has; synchronous on a cache hit.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../../core/http/errors.js';
import { FEATURES } from '../../core/tenancy/entitlements.js';
import { isRefusedWhenInactive, isTenantRoute } from '../../core/tenancy/route-entitlements.js';
import type { EntitlementsService } from './entitlements.js';
import { isInactive } from './subscription-states.js';
import type { SubscriptionStatus } from './subscriptions.table.js';

export const entitlementGuardPlugin = fp(async function entitlementGuard(app: FastifyInstance, options: { entitlements: EntitlementsService }) {
  app.addHook('preValidation', (request, _reply, done) => {
    const { actor } = request;
    const { config } = request.routeOptions;
    // Only tenant routes: the permission check has let through an actor acting in its tenant.
    if (!actor?.tenantId || request.is404 || !isTenantRoute(config)) return done();
    const status = actor.subscriptionStatus as SubscriptionStatus | undefined;
    if (status && isInactive(status) && isRefusedWhenInactive(request.method, config)) {
      return done(
        new AppError('subscription.inactive', `The subscription is ${status}: the tenant is read-only until it subscribes again (POST /api/v1/subscriptions/current/change-plan).`, {
          status,
        }),
      );
    }
    const { feature } = config;
    if (!feature) return done();
    const refuse = () => new AppError('plan.feature_unavailable', `The tenant's plan does not include ${feature} (${FEATURES[feature]}). Upgrade the plan to use it.`, { feature });
    const entitled = options.entitlements.hasFeature(actor.tenantId, feature, actor.entitlementsRevision ?? 0);
    if (typeof entitled === 'boolean') return done(entitled ? undefined : refuse());
    entitled.then(
      (has) => done(has ? undefined : refuse()),
      (error: unknown) => done(error as Error),
    );
  });
});
