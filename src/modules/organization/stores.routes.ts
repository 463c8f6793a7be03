/**
 * `/api/v1/stores`: the tenant's stores (branches, locations). HTTP only — schemas, permission, one
 * service call; the rules live in stores.service.ts. The store's people and settings are served by the
 * two plugins registered at the end, under the same prefix.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { requestOrigin } from '../../core/audit/audit.js';
import { pageSchema } from '../../core/http/pagination.js';
import { problemResponse } from '../../core/http/schemas.js';
import { limitReachedResponse } from '../../core/tenancy/route-entitlements.js';
import { holdsTenantWide } from '../authorization/index.js';
import type { OrganizationDeps } from './deps.js';
import { storePeopleRoutes } from './store-people.routes.js';
import { storeSettingsRoutes } from './store-settings.routes.js';
import { bearer, CreateStoreBody, GetStoreQuery, ListStoresQuery, StoreIdParams, storeNotFoundResponse, storeRouteErrors, storeSchemas, UpdateStoreBody } from './stores.schemas.js';
import { createStore, deleteStore, getStore, listTenantStores, restoreStore, storeActorOf, updateStoreDetails } from './stores.service.js';

const StoreRef = (description: string) => ({ ...Type.Ref('Store'), description });
const noContent = (description: string) => Type.Null({ description });

export async function storeRoutes(untyped: FastifyInstance, options: { deps: OrganizationDeps }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { deps } = options;
  for (const schema of storeSchemas) app.addSchema(schema);

  app.get(
    '/',
    {
      config: { permission: 'stores.view' },
      schema: {
        tags: ['stores'],
        summary: 'List stores',
        description: 'The tenant’s stores by name (case-insensitive), searchable by name or code; deleted ones only with `includeDeleted=true`.',
        security: bearer,
        querystring: ListStoresQuery,
        response: { 200: pageSchema(Type.Ref('Store'), 'One page of stores.'), ...storeRouteErrors },
      },
    },
    async (request) => listTenantStores(deps, storeActorOf(request.actor), request.query),
  );

  app.get(
    '/:id',
    {
      config: { permission: 'stores.view', storeParam: 'id' },
      schema: {
        tags: ['stores'],
        summary: 'Get a store',
        description:
          'One store of the tenant. A deleted store answers 404 unless `includeDeleted=true`. Needs `stores.view` tenant-wide, or in this store (someone assigned to it, with `X-Store-ID` naming it).',
        security: bearer,
        params: StoreIdParams,
        querystring: GetStoreQuery,
        response: { 200: StoreRef('The store.'), ...storeRouteErrors, 404: storeNotFoundResponse },
      },
    },
    async (request) => getStore(deps, storeActorOf(request.actor), request.params.id, request.query.includeDeleted === true),
  );

  app.post(
    '/',
    {
      config: { permission: 'stores.manage' },
      schema: {
        tags: ['stores'],
        summary: 'Create a store',
        description:
          'Creates a store. The tenant’s first store becomes its headquarters; `isHeadquarters: true` on a later one moves the headquarters to it. `code` must be unique among the live stores (case-insensitive). ' +
          'Counts against the plan’s `maxStores`.',
        security: bearer,
        body: CreateStoreBody,
        response: {
          201: StoreRef('The new store.'),
          ...storeRouteErrors,
          402: limitReachedResponse('maxStores'),
          409: problemResponse('A live store already uses this code (`store.code_taken`).'),
        },
      },
    },
    async (request, reply) => reply.code(201).send(await createStore(deps, storeActorOf(request.actor), requestOrigin(request), request.body)),
  );

  app.patch(
    '/:id',
    {
      config: { permission: 'stores.update', storeParam: 'id' },
      schema: {
        tags: ['stores'],
        summary: 'Change a store',
        description:
          'Changes the fields given (the address is replaced as a whole; null clears phone, email or timezone). `isHeadquarters: true` moves the headquarters here; `false` on the headquarters is refused. ' +
          'Needs `stores.update` tenant-wide, or in this store: a store manager changes their own store, with `X-Store-ID` naming it. Moving the headquarters also needs `stores.manage` tenant-wide (403 `auth.forbidden`).',
        security: bearer,
        params: StoreIdParams,
        body: UpdateStoreBody,
        response: {
          200: StoreRef('The store as changed.'),
          ...storeRouteErrors,
          404: storeNotFoundResponse,
          409: problemResponse('The code is used by another live store (`store.code_taken`), or the headquarters flag would be left on no store (`store.headquarters_required`).'),
        },
      },
    },
    async (request) =>
      updateStoreDetails(deps, storeActorOf(request.actor), requestOrigin(request), request.params.id, request.body, {
        mayMoveHeadquarters: holdsTenantWide(request, 'stores.manage'),
      }),
  );

  app.delete(
    '/:id',
    {
      config: { permission: 'stores.manage' },
      schema: {
        tags: ['stores'],
        summary: 'Delete a store',
        description:
          'Soft delete: the store leaves lists and its people can no longer act in it (their assignments are kept for a restore). The headquarters cannot be deleted: make another store the headquarters first.',
        security: bearer,
        params: StoreIdParams,
        response: {
          204: noContent('The store is deleted (restorable).'),
          ...storeRouteErrors,
          404: storeNotFoundResponse,
          409: problemResponse('The store is the headquarters (`store.last_headquarters`).'),
        },
      },
    },
    async (request, reply) => {
      await deleteStore(deps, storeActorOf(request.actor), requestOrigin(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/:id/restore',
    {
      config: { permission: 'stores.manage' },
      schema: {
        tags: ['stores'],
        summary: 'Restore a deleted store',
        description:
          'Brings a deleted store back with its people’s assignments. Refused while a live store uses its code. It becomes the headquarters only if the tenant has none; restoring a live store changes nothing. ' +
          'Restoring counts against the plan’s `maxStores`.',
        security: bearer,
        params: StoreIdParams,
        response: {
          200: StoreRef('The restored store.'),
          ...storeRouteErrors,
          402: limitReachedResponse('maxStores'),
          404: problemResponse('No store of this tenant, live or deleted, has this id (`store.not_found`).'),
          409: problemResponse('A live store uses this store’s code now (`store.code_taken`): change that one’s code first.'),
        },
      },
    },
    async (request) => restoreStore(deps, storeActorOf(request.actor), requestOrigin(request), request.params.id),
  );

  await app.register(storePeopleRoutes, { deps });
  await app.register(storeSettingsRoutes, { deps });
}
