/**
 * The organization module's public face: the tenant itself (profile, settings, ownership, closure), its
 * members and invitations, and its stores with the store context. Builds on identity (sessions, the
 * signed-in person, sign-in) through identity's index only.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import type { OrganizationDeps } from './deps.js';
import { invitationRoutes } from './invitations.routes.js';
import { memberRoutes } from './members.routes.js';
import { storeRoutes } from './stores.routes.js';
import { defineTenantPurgeQueue } from './tenant-closure.js';
import { tenantRoutes } from './tenants.routes.js';

export type { OrganizationDeps } from './deps.js';
// Background work (started by `atrium serve` / `atrium worker`), and the closure use-cases the platform
// administration builds on (restoring within the window; closing from elsewhere schedules the purge too).
export { restoreTenant, scheduleTenantPurge, startOrganizationWorkers, type RestoreActor } from './tenant-closure.js';
// A tenant's settings with the defaults filled in, for other modules.
export { resolveTenantSettings, type TenantSettings } from './tenant-settings.js';
// ISO 4217 check of the settings, for other modules' money fields (plan prices).
export { isKnownCurrency } from './tenant-settings.js';
// Platform administration of tenants: the same validation, slug choice, closure and invitation mail as
// the tenant's own routes.
export { closeTenantByPlatform, restorableUntil, type PlatformClosure } from './tenant-closure.js';
export { assertSlugUsable, normalizeTenantName, requestedTenantProfile, slugTakenOr, tenantProfileDiff } from './tenants.service.js';
export { insertTenantWithFreeSlug, lockTenant, updateTenantProfile } from './tenants.repository.js';
export { TenantClosureSchema, TenantNameSchema, TenantSlugSchema, UpdateTenantBody, type TenantClosure, type UpdateTenantInput } from './tenants.schemas.js';
export { INVITATION_TTL_MS, newInvitationToken } from './invitations.service.js';
export { insertInvitation } from './invitations.repository.js';
export { invitationLink, queueInvitationMail } from './invitation-mails.js';
export { stores } from './organization.table.js';

export const organizationModule = fp(async function organization(app: FastifyInstance, options: { config: Config }) {
  const deps: OrganizationDeps = { config: options.config, platform: app.platform, identity: app.identity };
  // Closing a tenant schedules its purge on this queue, so it must exist in every API process.
  await defineTenantPurgeQueue(app.platform.jobs);
  await app.register(tenantRoutes, { prefix: '/api/v1/tenants', deps });
  await app.register(memberRoutes, { prefix: '/api/v1/users', deps });
  await app.register(invitationRoutes, { prefix: '/api/v1', deps });
  await app.register(storeRoutes, { prefix: '/api/v1/stores', deps });
});
