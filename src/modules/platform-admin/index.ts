/**
 * Platform administration (`/api/v1/admin`): tenants, people, platform roles, statistics and governed
 * impersonation, for holders of a platform role. Cross-tenant reads run as the platform read role
 * (`db.transaction({ platform: true }, …)`); changes to one tenant run in that tenant's own context; every
 * action lands in the platform audit trail with the acting administrator.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import { platformUserRoutes } from './platform-users.routes.js';
import { statsRoutes } from './stats.routes.js';
import { adminUserRoutes } from './users.admin.routes.js';
import { impersonationRoutes } from './impersonations.routes.js';
import { adminTenantRoutes } from './tenants.admin.routes.js';

export const ADMIN_PREFIX = '/api/v1/admin';

export const platformAdminModule = fp(async function platformAdmin(app: FastifyInstance, options: { config: Config }) {
  void options;
  void app;
  await app.register(impersonationRoutes, { prefix: `${ADMIN_PREFIX}/impersonations`, deps: { db: app.platform.db, accessTokens: app.accessTokens } });
  await app.register(adminUserRoutes, { prefix: `${ADMIN_PREFIX}/users` });
  await app.register(platformUserRoutes, { prefix: `${ADMIN_PREFIX}/platform-users` });
  await app.register(statsRoutes, { prefix: `${ADMIN_PREFIX}/stats` });
  await app.register(adminTenantRoutes, { prefix: `${ADMIN_PREFIX}/tenants`, deps: { config: options.config, platform: app.platform } });
});
