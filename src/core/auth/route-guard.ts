/**
 * Every route declares who may call it: `config.public: true`, or `config.permission: '<resource.action>'`
 * (DESIGN §6). Undeclared routes are refused when they are registered, so none can slip in unguarded,
 * and non-public routes answer 401 unless authentication established an actor.
 * The permission itself is checked by the authorization module (src/modules/authorization/enforce.ts).
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../http/errors.js';
import type { Feature } from '../tenancy/entitlements.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route needs no credential. */
    public?: boolean;
    /** The permission a caller must hold, e.g. `users.view`. */
    permission?: string;
    /**
     * The path parameter naming the store the route acts on: a permission held only through a store role
     * then counts only when that store is the request's store context (X-Store-ID).
     */
    storeParam?: string;
    /** Refused to impersonation tokens: credentials, two-factor settings, sessions, ownership. */
    notWhileImpersonating?: boolean;
    /** The plan feature the tenant must be entitled to (402 `plan.feature_unavailable`), e.g. `custom_roles`. */
    feature?: Feature;
    /**
     * A mutating tenant route that stays open while the subscription is canceled or expired (billing
     * routes, so the tenant can pay; closing the tenant). Every other one answers 402 `subscription.inactive`.
     */
    allowWhenInactive?: boolean;
  }
}

/** Why a route's access declaration is unacceptable, or null when it is fine. */
export function checkRouteDeclaration(route: Pick<RouteOptions, 'method' | 'url' | 'config'>): string | null {
  const config = (route.config ?? {}) as { public?: boolean; permission?: string };
  const methods = Array.isArray(route.method) ? route.method.join(',') : route.method;
  if (config.public === true && config.permission) return `${methods} ${route.url} declares both public and a permission`;
  if (config.public !== true && !config.permission) return `${methods} ${route.url} declares neither \`public: true\` nor a \`permission\``;
  return null;
}

/** Marks every route registered inside the calling plugin as public (third-party plugin routes). */
export function markRoutesPublic(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config ?? {}), public: true };
  });
}

/** The answer to a request that needs a credential and carries none that is valid. */
export function unauthenticated(): AppError {
  return new AppError('auth.unauthenticated', 'A valid credential is required.', { headers: { 'www-authenticate': 'Bearer' } });
}

export const routeGuardPlugin = fp(async function routeGuard(app: FastifyInstance) {
  // Checked when the app is ready rather than in onRoute: hooks of nested scopes (markRoutesPublic) run
  // after this one and may still complete a route's declaration.
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    // @fastify/cors answers preflight requests for every path; it carries no data.
    if (route.method === 'OPTIONS' && route.url === '*') route.config = { ...(route.config ?? {}), public: true };
    routes.push(route);
  });
  app.addHook('onReady', async () => {
    const problems = routes.map(checkRouteDeclaration).filter((problem): problem is string => problem !== null);
    if (problems.length > 0) throw new Error(`Route access not declared: ${problems.join('; ')}`);
  });

  app.addHook('preHandler', (request, _reply, done) => {
    // Unknown routes and wrong methods answer 404/405 to everyone: the route list is public (OpenAPI).
    if (request.is404 || request.routeOptions.config.public || request.actor) return done();
    done(unauthenticated());
  });
});
