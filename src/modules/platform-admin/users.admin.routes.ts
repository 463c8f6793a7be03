/**
 * `/api/v1/admin/users`: the platform's people across tenants. HTTP only — schemas, permission, one
 * service call; the rules live in users.admin.service.ts. Reads need `platform.view` (administrators and
 * operators); disabling and enabling need `platform.users.manage` (administrators).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { requestOrigin } from '../../core/audit/audit.js';
import { pageSchema } from '../../core/http/pagination.js';
import { problemResponse } from '../../core/http/schemas.js';
import { adminRouteErrors, AdminUserIdParams, adminUserSchemas, bearer, DisableUserBody, ListAdminUsersQuery, userNotFoundResponse } from './users.admin.schemas.js';
import { disableUser, enableUser, getAdminUser, listAdminUsers, platformActorOf } from './users.admin.service.js';

const AdminUserRef = (description: string) => ({ ...Type.Ref('AdminUser'), description });

export async function adminUserRoutes(untyped: FastifyInstance) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = app.platform;
  for (const schema of adminUserSchemas) app.addSchema(schema);

  app.get(
    '/',
    {
      config: { permission: 'platform.view' },
      schema: {
        tags: ['admin'],
        summary: 'Search people across tenants',
        description:
          'Every person on the platform, newest first, each with all their memberships (tenant, role, status). `search` matches a substring of the email address or the name, case-insensitively; `status` and `platformRole` filter.',
        security: bearer,
        querystring: ListAdminUsersQuery,
        response: { 200: pageSchema(Type.Ref('AdminUser'), 'One page of people.'), ...adminRouteErrors },
      },
    },
    async (request) => listAdminUsers(db, request.query),
  );

  app.get(
    '/:id',
    {
      config: { permission: 'platform.view' },
      schema: {
        tags: ['admin'],
        summary: 'Get a person',
        description: 'One person with their memberships, whether they have MFA and a verified address, when they last signed in and how many live sessions they have.',
        security: bearer,
        params: AdminUserIdParams,
        response: { 200: { ...Type.Ref('AdminUserDetail'), description: 'The person.' }, ...adminRouteErrors, 404: userNotFoundResponse },
      },
    },
    async (request) => getAdminUser(db, request.params.id),
  );

  app.post(
    '/:id/disable',
    {
      config: { permission: 'platform.users.manage' },
      // The body is optional: a POST without one validates as `{}` (Fastify would refuse "undefined").
      preValidation: (request, _reply, done) => {
        request.body ??= {};
        done();
      },
      schema: {
        tags: ['admin'],
        summary: 'Disable a person platform-wide',
        description:
          'The person can no longer sign in anywhere, and every live session of theirs (and every impersonation they run) ends at once: their tokens stop working at the next request, and enabling them again does not bring those sessions back. Written to the platform audit trail with `reason`. Disabling someone already disabled changes nothing.',
        security: bearer,
        params: AdminUserIdParams,
        body: DisableUserBody,
        response: {
          200: AdminUserRef('The person, disabled.'),
          ...adminRouteErrors,
          404: userNotFoundResponse,
          409: problemResponse('Your own account (`platform.self_protected`), or the last active platform administrator (`platform.last_admin`).'),
        },
      },
    },
    async (request) => disableUser(db, platformActorOf(request.actor), requestOrigin(request), request.params.id, request.body),
  );

  app.post(
    '/:id/enable',
    {
      config: { permission: 'platform.users.manage' },
      schema: {
        tags: ['admin'],
        summary: 'Enable a disabled person',
        description: 'The person may sign in again (with new sessions: the ones ended by disabling stay ended). Enabling someone active changes nothing.',
        security: bearer,
        params: AdminUserIdParams,
        response: { 200: AdminUserRef('The person, active.'), ...adminRouteErrors, 404: userNotFoundResponse },
      },
    },
    async (request) => enableUser(db, platformActorOf(request.actor), requestOrigin(request), request.params.id),
  );
}
