/**
 * `/api/v1/stores/:id/settings`: a store's overrides of the tenant settings and its store-only settings.
 * HTTP only; the rules live in store-settings.ts.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { requestOrigin } from '../../core/audit/audit.js';
import type { OrganizationDeps } from './deps.js';
import { getStoreSettings, updateStoreSettings } from './store-settings.js';
import { bearer, StoreIdParams, storeNotFoundResponse, storeRouteErrors, UpdateStoreSettingsBody } from './stores.schemas.js';
import { storeActorOf } from './stores.service.js';

export async function storeSettingsRoutes(untyped: FastifyInstance, options: { deps: OrganizationDeps }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { deps } = options;
  const StoreSettings = (description: string) => ({ ...Type.Ref('StoreSettings'), description });

  app.get(
    '/:id/settings',
    {
      config: { permission: 'stores.view', storeParam: 'id' },
      schema: {
        tags: ['stores'],
        summary: 'Get a store’s settings',
        description:
          'What the store sets itself (`overrides`) and the values in force (`effective`: the store’s, else the tenant’s, else the default). Needs `stores.view` tenant-wide, or in this store (someone assigned to it, with `X-Store-ID` naming it).',
        security: bearer,
        params: StoreIdParams,
        response: { 200: StoreSettings('The store’s settings.'), ...storeRouteErrors, 404: storeNotFoundResponse },
      },
    },
    async (request) => getStoreSettings(deps, storeActorOf(request.actor), request.params.id),
  );

  app.patch(
    '/:id/settings',
    {
      config: { permission: 'stores.update', storeParam: 'id' },
      schema: {
        tags: ['stores'],
        summary: 'Change a store’s settings',
        description:
          'Sets each named setting; null clears it (the tenant’s value applies again). Currency, time zone and locale are checked against ISO 4217, the IANA database and BCP 47; opening hours must be in order. ' +
          'Needs `stores.update` tenant-wide, or in this store: a store manager changes their own store’s settings, with `X-Store-ID` naming it.',
        security: bearer,
        params: StoreIdParams,
        body: UpdateStoreSettingsBody,
        response: { 200: StoreSettings('The store’s settings as changed.'), ...storeRouteErrors, 404: storeNotFoundResponse },
      },
    },
    async (request) => updateStoreSettings(deps, storeActorOf(request.actor), requestOrigin(request), request.params.id, request.body),
  );
}
