/**
 * The authorization module's public face: the permission catalog, built-in and custom roles, role
 * assignments at tenant or store scope, and the central permission check every route goes through.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Platform } from '../../core/platform.js';
import { assignmentRoutes } from './assignments.routes.js';
import { enforcePermissionsPlugin } from './enforce.js';
import { createGrantsCache, type GrantsCache } from './grants.js';
import { roleRoutes } from './roles.routes.js';

export { PERMISSIONS, BUILTIN_ROLE_PERMISSIONS, isPermission, isPlatformPermission, type Permission } from './permissions.js';
export { holdsTenantWide } from './enforce.js';
export { effectivePermissions, grantScope, type CustomGrants, type GrantsCache } from './grants.js';
export { assertCanGrant, assertHoldsEverythingOf, findRoles, getBuiltinRole, rolePermissions, type RoleRow } from './role-grants.js';
export { roles, roleAssignments, type BuiltinRoleKey, type RoleScope } from './authorization.table.js';

/** What the authorization module shares with the modules after it. */
export interface AuthorizationDeps {
  platform: Platform;
  grants: GrantsCache;
}

declare module 'fastify' {
  interface FastifyInstance {
    authorization: AuthorizationDeps;
  }
}

export const authorizationModule = fp(async function authorization(app: FastifyInstance) {
  const deps: AuthorizationDeps = { platform: app.platform, grants: createGrantsCache({ db: app.platform.db }) };
  app.decorate('authorization', deps);
  await app.register(enforcePermissionsPlugin, { grants: deps.grants });
  await app.register(roleRoutes, { prefix: '/api/v1', db: app.platform.db });
  await app.register(assignmentRoutes, { prefix: '/api/v1/users', deps });
});
