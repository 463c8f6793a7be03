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
        description: 'The members assigned to the store, with their role there, by user id.',
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
          'Assigns active members of the tenant to the store, so they may act in it (`X-Store-ID`). Idempotent: people already assigned stay so (their role changes only when `role` is given). `roleId` is reserved for the authorization issue’s store roles and refused until then (`store.roles_unavailable`).',
        security: bearer,
        params: StoreIdParams,
        body: AssignStoreMembersBody,
        response: {
          200: Type.Object({ data: Type.Array(Type.Ref('StoreMember')) }, { description: 'The people named, as now assigned.' }),
          ...storeRouteErrors,
          400: problemResponse(
            'Invalid request; a user id that is not an active member of this tenant is named in `errors` (`request.validation_failed`); `roleId` is not available yet (`store.roles_unavailable`).',
          ),
          404: storeNotFoundResponse,
        },
      },
    },
    async (request) => ({ data: await assignStorePeople(deps, storeActorOf(request.actor), requestOrigin(request), request.params.id, request.body) }),
  );

  app.delete(
    '/:id/users/:userId',
    {
      config: { permission: 'store_people.manage', storeParam: 'id' },
      schema: {
        tags: ['stores'],
        summary: 'Unassign a person from a store',
        description: 'The person can no longer act in this store, from their next request on.',
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
      await unassignStorePerson(deps, storeActorOf(request.actor), requestOrigin(request), request.params.id, request.params.userId);
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
        description: 'Unassigns the people named; those not assigned are skipped.',
        security: bearer,
        params: StoreIdParams,
        body: UnassignStoreMembersBody,
        response: { 204: noContent('The people are unassigned.'), ...storeRouteErrors, 404: storeNotFoundResponse },
      },
    },
    async (request, reply) => {
      await unassignStorePeople(deps, storeActorOf(request.actor), requestOrigin(request), request.params.id, request.body.userIds);
      return reply.code(204).send(null);
    },
  );
}
