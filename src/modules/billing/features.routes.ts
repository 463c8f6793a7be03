/**
 * `GET /api/v1/features`: what the signed-in tenant may use, for the console to show or hide what its
 * plan does not include. Served from the entitlements cache, keyed by the revision authentication read
 * with this very request: no query on a hit, and a change made anywhere is seen at the next request.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../core/http/errors.js';
import type { EntitlementsService, TenantEntitlements } from './entitlements.js';
import { FEATURE_CODES, FEATURES, LIMIT_KEYS, LIMITS } from './features.js';
import { bearer, featuresRouteErrors, TenantFeaturesSchema, type TenantFeaturesView } from './subscriptions.admin.schemas.js';

/** Every feature and limit of the catalog, in catalog order, with what the tenant has of each. */
export function presentTenantFeatures(entitlements: TenantEntitlements): TenantFeaturesView {
  return {
    plan: entitlements.plan,
    status: entitlements.status,
    features: FEATURE_CODES.map((code) => ({ code, description: FEATURES[code], enabled: entitlements.features.includes(code) })),
    limits: LIMIT_KEYS.map((limit) => ({ limit, description: LIMITS[limit], max: entitlements.limits[limit] ?? null })),
  };
}

export async function featureRoutes(untyped: FastifyInstance, options: { entitlements: EntitlementsService }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { entitlements } = options;

  app.get(
    '/',
    {
      config: { permission: 'tenant.view' },
      schema: {
        tags: ['entitlements'],
        summary: "The tenant's features and limits",
        description:
          'Every feature of the catalog (enabled or not) and every limit (null: unlimited) of the tenant — its plan’s, with the platform’s overrides applied — with the plan and the subscription status. Reflects any change (plan, overrides, the plan’s own terms) from the next request on.',
        security: bearer,
        response: { 200: { ...TenantFeaturesSchema, description: 'The features and limits.' }, ...featuresRouteErrors },
      },
    },
    // Not async: a cache hit answers without a promise.
    (request) => {
      const { actor } = request;
      if (!actor?.tenantId) throw new AppError('auth.tenant_access_revoked', 'This route acts in a tenant, and the credential names none.');
      const found = entitlements.get(actor.tenantId, actor.entitlementsRevision ?? 0);
      return found instanceof Promise ? found.then(presentTenantFeatures) : presentTenantFeatures(found);
    },
  );
}
