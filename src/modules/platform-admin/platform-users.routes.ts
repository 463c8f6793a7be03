/**
 * `/api/v1/admin/platform-users`: who holds a platform role, and granting, changing and revoking it.
 * HTTP only; the rules live in platform-users.service.ts. Reading needs `platform.view`; changes need
 * `platform.staff.manage` (administrators).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { requestOrigin } from '../../core/audit/audit.js';
import { pageSchema } from '../../core/http/pagination.js';
import { problemResponse } from '../../core/http/schemas.js';
import { grantPlatformRole, listPlatformUsers, revokePlatformRole } from './platform-users.service.js';
import { adminRouteErrors, bearer, GrantPlatformRoleBody, ListPlatformUsersQuery, PlatformUserIdParams, PlatformUserSchema } from './users.admin.schemas.js';
import { platformActorOf } from './users.admin.service.js';

const PlatformUserRef = (description: string) => ({ ...Type.Ref('PlatformUser'), description });
const protections = problemResponse(
  'Your own platform role (`platform.self_protected`), or the last active platform administrator would be lost (`platform.last_admin`).',
);

export async function platformUserRoutes(untyped: FastifyInstance) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = app.platform;
  app.addSchema(PlatformUserSchema);

  app.get(
    '/',
    {
      config: { permission: 'platform.view' },
      schema: {
        tags: ['admin'],
        summary: 'List platform staff',
        description: 'The people holding a platform role (`platform_admin` or `platform_operator`), newest first.',
        security: bearer,
        querystring: ListPlatformUsersQuery,
        response: { 200: pageSchema(Type.Ref('PlatformUser'), 'One page of platform staff.'), ...adminRouteErrors },
      },
    },
    async (request) => listPlatformUsers(db, request.query),
  );

  app.post(
    '/',
    {
      config: { permission: 'platform.staff.manage' },
      schema: {
        tags: ['admin'],
        summary: 'Grant or change a platform role',
        description:
          'Gives an existing person (named by `email` or `userId`, exactly one) a platform role: 201 when they held none, 200 when their role changes (or already is `role`). Demoting an administrator to operator ends the impersonations they run. Written to the platform audit trail. Honours Idempotency-Key.',
        security: bearer,
        body: GrantPlatformRoleBody,
        response: {
          200: PlatformUserRef('The person’s platform role changed (or was already this one).'),
          201: PlatformUserRef('The person now holds a platform role.'),
          ...adminRouteErrors,
          404: problemResponse('Nobody has this email address or id (`platform.user_not_found`).'),
          409: protections,
        },
      },
    },
    async (request, reply) => {
      const { user, created } = await grantPlatformRole(db, platformActorOf(request.actor), requestOrigin(request), request.body);
      return reply.code(created ? 201 : 200).send(user);
    },
  );

  app.delete(
    '/:userId',
    {
      config: { permission: 'platform.staff.manage' },
      schema: {
        tags: ['admin'],
        summary: 'Revoke a platform role',
        description: 'The person keeps their account and memberships but holds no platform role; the impersonations they run end. Written to the platform audit trail.',
        security: bearer,
        params: PlatformUserIdParams,
        response: {
          204: Type.Null({ description: 'The person holds no platform role any more.' }),
          ...adminRouteErrors,
          404: problemResponse('Nobody with this id holds a platform role (`platform.user_not_found`).'),
          409: protections,
        },
      },
    },
    async (request, reply) => {
      await revokePlatformRole(db, platformActorOf(request.actor), requestOrigin(request), request.params.userId);
      return reply.code(204).send(null);
    },
  );
}
