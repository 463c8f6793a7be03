/**
 * `/api/v1/stores/:id/users`: who works in a store. HTTP only; the rules live in store-members.service.ts.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { requestOrigin } from '../../core/audit/audit.js';
import { pageSchema } from '../../core/http/pagination.js';
import { problemResponse } from '../../core/http/schemas.js';
import type { OrganizationDeps } from './deps.js';
import { assignStorePeople, listStorePeople, unassignStorePeople, unassignStorePerson } from './store-members.service.js';
import {
  AssignStoreMembersBody,
  bearer,
  ListStoreMembersQuery,
  StoreIdParams,
  StoreMemberParams,
  storeNotFoundResponse,
  storeRouteErrors,
  UnassignStoreMembersBody,
} from './stores.schemas.js';
import { storeActorOf } from './stores.service.js';
import { granterOf } from './member-roles.js';

const noContent = (description: string) => Type.Null({ description });

export async function storePeopleRoutes(untyped: FastifyInstance, options: { deps: OrganizationDeps }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { deps } = options;

  app.get(
    '/:id/users',
    {
      config: { permission: 'stores.view', storeParam: 'id' },
      schema: {
        tags: ['stores'],
        summary: 'List a store’s people',
        description:
          'The members assigned to the store, with their built-in role there, by user id. Needs `stores.view` tenant-wide, or in this store: someone assigned to it acts with `X-Store-ID` naming it.',
        security: bearer,
        params: StoreIdParams,
        querystring: ListStoreMembersQuery,
        response: { 200: pageSchema(Type.Ref('StoreMember'), 'One page of the store’s people.'), ...storeRouteErrors, 404: storeNotFoundResponse },
      },
    },
    async (request) => listStorePeople(deps, storeActorOf(request.actor), request.params.id, request.query),
  );

  app.post(
    '/:id/users',
    {
      config: { permission: 'store_people.manage', storeParam: 'id' },
      schema: {
        tags: ['stores'],
        summary: 'Assign people to a store',
        description:
          'Assigns active members of the tenant to the store, so they may act in it (`X-Store-ID`). Idempotent: people already assigned stay so (their built-in role changes only when `role` or a built-in `roleId` is given). ' +
          '`roleId` is a store role of this tenant: built-in (`store_manager`, `store_staff`) like `role`, or custom, given to the people here (those not yet assigned join as `store_staff`). A tenant-wide role answers 400 `role.scope_mismatch`, an unknown id 404 `role.not_found`. ' +
          'Needs `store_people.manage` tenant-wide, or in this store (a store manager, with `X-Store-ID` naming it). Nobody grants — or takes, by changing a store role — a permission they do not hold in this store (403 `role.privilege_escalation`): a store manager may assign staff and managers, not a custom role holding more than they do. ' +
          'Nobody names a role for themselves (403 `role.self_assignment`); assigning yourself without a role is fine.',
        security: bearer,
        params: StoreIdParams,
        body: AssignStoreMembersBody,
        response: {
          200: Type.Object({ data: Type.Array(Type.Ref('StoreMember')) }, { description: 'The people named, as now assigned.' }),
          ...storeRouteErrors,
          400: problemResponse(
            'Invalid request; a user id that is not an active member of this tenant is named in `errors` (`request.validation_failed`); `role` disagrees with `roleId`; or `roleId` is a tenant-wide role (`role.scope_mismatch`).',
          ),
          403: problemResponse(
            `${storeRouteErrors[403].description} Also \`role.privilege_escalation\` (a permission the caller does not hold in this store) and \`role.self_assignment\` (a role for the caller themselves).`,
          ),
          404: problemResponse('No live store of this tenant has this id (`store.not_found`), or `roleId` is no role of this tenant (`role.not_found`).'),
        },
      },
    },
    async (request) => ({ data: await assignStorePeople(deps, storeActorOf(request.actor), granterOf(request), requestOrigin(request), request.params.id, request.body) }),
  );

  app.delete(
    '/:id/users/:userId',
    {
      config: { permission: 'store_people.manage', storeParam: 'id' },
      schema: {
        tags: ['stores'],
        summary: 'Unassign a person from a store',
        description:
          'The person can no longer act in this store, from their next request on; their custom roles here go with the assignment. Needs `store_people.manage` tenant-wide or in this store (`X-Store-ID`); ' +
          'unassigning someone who holds here a permission the caller does not answers 403 `role.privilege_escalation`.',
        security: bearer,
        params: StoreMemberParams,
        response: {
          204: noContent('The person is unassigned.'),
          ...storeRouteErrors,
          404: problemResponse('No live store of this tenant has this id (`store.not_found`), or the person is not assigned to it (`store.member_not_found`).'),
        },
      },
    },
    async (request, reply) => {
      await unassignStorePerson(deps, storeActorOf(request.actor), granterOf(request), requestOrigin(request), request.params.id, request.params.userId);
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/:id/users',
    {
      config: { permission: 'store_people.manage', storeParam: 'id' },
      schema: {
        tags: ['stores'],
        summary: 'Unassign people from a store',
        description:
          'Unassigns the people named, with their custom roles here; those not assigned are skipped. Needs `store_people.manage` tenant-wide or in this store (`X-Store-ID`); ' +
          'if any of them holds here a permission the caller does not, nobody is unassigned (403 `role.privilege_escalation`).',
        security: bearer,
        params: StoreIdParams,
        body: UnassignStoreMembersBody,
        response: { 204: noContent('The people are unassigned.'), ...storeRouteErrors, 404: storeNotFoundResponse },
      },
    },
    async (request, reply) => {
      await unassignStorePeople(deps, storeActorOf(request.actor), granterOf(request), requestOrigin(request), request.params.id, request.body.userIds);
      return reply.code(204).send(null);
    },
  );
}
