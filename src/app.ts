/**
 * buildApp(config): the whole HTTP application on one screen — core plugins first, then the explicit
 * module list (DESIGN §3: no autoload).
 */
import cors from '@fastify/cors';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { routeGuardPlugin } from './core/auth/route-guard.js';
import { answerFrameworkError, errorHandlerPlugin } from './core/http/error-handler.js';
import { idempotencyPlugin } from './core/http/idempotency.js';
import { securityHeadersPlugin } from './core/http/security-headers.js';
import { openApiPlugin } from './core/http/openapi.js';
import { rateLimitPlugin } from './core/http/rate-limit.js';
import { AccessLogController, requestContextPlugin, requestIdFor } from './core/http/request-context.js';
import { metricsPlugin } from './core/metrics/metrics.js';
import { createLogger } from './core/logger.js';
import { openPlatform, type OpenPlatformOptions, type Platform } from './core/platform.js';
import { healthRoutes } from './modules/health/health.routes.js';
import { authorizationModule } from './modules/authorization/index.js';
import { billingModule, bindEntitlements, startBillingWorkers } from './modules/billing/index.js';
import { identityModule } from './modules/identity/index.js';
import { organizationModule, startOrganizationWorkers } from './modules/organization/index.js';
import { platformAdminModule } from './modules/platform-admin/index.js';
import { VERSION } from './version.js';

declare module 'fastify' {
  interface FastifyInstance {
    platform: Platform;
  }
}

export interface BuildAppOptions extends Partial<Pick<OpenPlatformOptions, 'pglite' | 'migrate'>> {
  logger?: Logger;
  /** Reuse an open platform (the caller closes it). */
  platform?: Platform;
  /** Registers extra routes after the core plugins, before the modules (tests, benchmarks). */
  configure?: (app: FastifyInstance) => Promise<void> | void;
  /** Sees every route as it is registered, core plugins' included (tests: the OpenAPI coverage check). */
  onRoute?: (route: RouteOptions) => void;
}

export async function buildApp(config: Config, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const logger = options.logger ?? createLogger(config);
  const platform = options.platform ?? (await openPlatform(config, { logger, pglite: options.pglite, migrate: options.migrate }));
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    genReqId: requestIdFor,
    logController: new AccessLogController(),
    trustProxy: config.http.trustProxy,
    bodyLimit: config.http.bodyLimit,
    // Draining is answered by the error handler plugin, as problem+json with a request id.
    return503OnClosing: false,
    frameworkErrors: answerFrameworkError,
    ajv: { customOptions: { allErrors: true, coerceTypes: 'array', removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  if (options.onRoute) app.addHook('onRoute', options.onRoute);
  app.decorate('platform', platform);
  if (!options.platform) app.addHook('onClose', () => platform.close());

  try {
    await registerPlugins(app, config, platform, options);
  } catch (error) {
    // A plugin that fails to start (e.g. a wrong key encryption key) must not leave the platform open.
    if (!options.platform) await platform.close();
    throw error;
  }
  return app;
}

/** Core plugins first so everything after them is covered, then the explicit module list. */
async function registerPlugins(app: FastifyInstance, config: Config, platform: Platform, options: BuildAppOptions): Promise<void> {
  await app.register(requestContextPlugin);
  await app.register(errorHandlerPlugin);
  await app.register(routeGuardPlugin);
  // Before any route: limits attach to routes as they are added (those with `config.rateLimit`).
  await app.register(rateLimitPlugin, { counter: platform.counters });
  // After the plugins that add route-level preHandlers (rate limits): the key is claimed last, just before
  // the handler, so rejected requests never store an outcome.
  await app.register(idempotencyPlugin, { ttlHours: config.idempotencyTtlHours });
  await app.register(securityHeadersPlugin, { servesHttps: config.http.publicUrl.startsWith('https:') });
  // Without configured origins the API is same-origin only, and CORS costs nothing per request.
  if (config.http.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.http.corsOrigins,
      credentials: true,
      exposedHeaders: ['X-Request-Id', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After', 'Idempotent-Replayed'],
    });
  }
  await app.register(openApiPlugin, { publicUrl: config.http.publicUrl, version: VERSION });
  await app.register(metricsPlugin, {
    token: config.metricsToken,
    sources: { poolStats: () => platform.db.poolStats(), queueSizes: () => platform.jobs.queueSizes() },
  });

  if (options.configure) await app.register(async (scope) => options.configure!(scope));

  // Modules.
  await app.register(healthRoutes, {
    checks: {
      database: () => platform.db.ping(),
      ...(platform.redis ? { redis: async () => void (await platform.redis!.ping()) } : {}),
    },
  });
  // Billing sits above identity and organization, which create tenants, members and stores: they start
  // subscriptions and check plan limits through the platform's entitlements, set here.
  const entitlements = bindEntitlements(platform);
  await app.register(identityModule, { config });
  await app.register(authorizationModule);
  await app.register(organizationModule, { config });
  await app.register(billingModule, { config, entitlements });
  await app.register(platformAdminModule, { config });

}

/**
 * Starts the background work of a worker process (`atrium worker`, or `atrium serve` with RUN_WORKER):
 * the platform's (mail, outbox relay, idempotency purge), then the modules' (tenant purge, subscription
 * clock). Here beside the module list, because a worker process runs modules' jobs without building the
 * HTTP app.
 */
export async function startWorkers(platform: Platform): Promise<void> {
  await platform.startWorker();
  await startOrganizationWorkers(platform);
  await startBillingWorkers(platform);
}
