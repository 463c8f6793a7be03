/**
 * Platform administration (`/api/v1/admin`): tenants, people, platform roles, statistics and governed
 * impersonation, for holders of a platform role. Cross-tenant reads run as the platform read role
 * (`db.transaction({ platform: true }, …)`); changes to one tenant run in that tenant's own context; every
 * action lands in the platform audit trail with the acting administrator.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';

export const ADMIN_PREFIX = '/api/v1/admin';

export const platformAdminModule = fp(async function platformAdmin(app: FastifyInstance, options: { config: Config }) {
  void options;
  void app;
});
