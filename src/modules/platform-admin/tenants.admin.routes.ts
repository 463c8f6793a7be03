/**
 * `/api/v1/admin/tenants`: every tenant of the platform, for platform staff. HTTP only — schemas,
 * permission, one service call; the rules live in tenants.admin.service.ts. Reads need `platform.view`
 * (administrators and operators); every change needs `platform.tenants.manage` (administrators).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { requestOrigin } from '../../core/audit/audit.js';
import { pageSchema } from '../../core/http/pagination.js';
import { problemResponse } from '../../core/http/schemas.js';
import { signedInPerson } from '../identity/index.js';
import {
  adminRouteErrors,
  adminTenantSchemas,
  AdminTenantParams,
  bearer,
  CloseTenantBody,
  CloseTenantQuery,
  CreateAdminTenantBody,
  ListAdminTenantsQuery,
  SuspendTenantBody,
  tenantNotFound,
  UpdateAdminTenantBody,
} from './admin.schemas.js';
import {
  closeAdminTenant,
  createAdminTenant,
  getAdminTenant,
  listAdminTenants,
  reactivateTenant,
  restoreAdminTenant,
  suspendTenant,
  updateAdminTenant,
  type PlatformStaff,
  type TenantAdminDeps,
} from './tenants.admin.service.js';

const DetailRef = (description: string) => ({ ...Type.Ref('AdminTenantDetail'), description });
const READ = 'platform.view';
const MANAGE = 'platform.tenants.manage';

/** The platform staff member behind the request (the platform permission check has passed). */
const staffOf = (request: FastifyRequest): PlatformStaff => ({ userId: signedInPerson(request.actor).userId });

export async function adminTenantRoutes(untyped: FastifyInstance, options: { deps: TenantAdminDeps }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { deps } = options;
  for (const schema of adminTenantSchemas) app.addSchema(schema);

  app.get(
    '/',
    {
      config: { permission: READ },
      schema: {
        tags: ['admin'],
        summary: 'List tenants',
        description: 'Every tenant of the platform, by creation time (`sort=-created`, the default: newest first). `search` matches part of the name or slug, case-insensitively; `status` filters.',
        security: bearer,
        querystring: ListAdminTenantsQuery,
        response: { 200: pageSchema(Type.Ref('AdminTenant'), 'One page of tenants.'), ...adminRouteErrors },
      },
    },
    async (request) => listAdminTenants(deps, staffOf(request), request.query),
  );

  app.get(
    '/:id',
    {
      config: { permission: READ },
      schema: {
        tags: ['admin'],
        summary: 'Get a tenant',
        description: 'One tenant with its active members and live stores counted, its owner, settings, and why it is suspended or until when it can be restored.',
        security: bearer,
        params: AdminTenantParams,
        response: { 200: DetailRef('The tenant.'), ...adminRouteErrors, 404: tenantNotFound },
      },
    },
    async (request) => getAdminTenant(deps, staffOf(request), request.params.id),
  );

  app.post(
    '/',
    {
      config: { permission: MANAGE },
      schema: {
        tags: ['admin'],
        summary: 'Create a tenant and invite its owner',
        description:
          'Creates a tenant with no member yet, under `slug` or one derived from the name (as POST /api/v1/tenants does), and mails `ownerEmail` an invitation with the `owner` role (valid 7 days): accepting it (POST /api/v1/auth/accept-invite) makes that person the owner. Writes the `tenant.created` and `member.invited` audit rows and events, and the platform audit row. Honours Idempotency-Key.',
        security: bearer,
        body: CreateAdminTenantBody,
        response: {
          201: { ...Type.Ref('CreatedAdminTenant'), description: 'The new tenant and the owner’s invitation.' },
          ...adminRouteErrors,
          400: problemResponse('Invalid body (`request.validation_failed`): e.g. `/slug` badly formed or reserved, `/name` blank, `/ownerEmail` not an address.'),
          409: problemResponse('`tenant.slug_taken`: another tenant uses the slug given; `resource.conflict`: no free slug could be derived from the name.'),
        },
      },
    },
    async (request, reply) => reply.code(201).send(await createAdminTenant(deps, staffOf(request), request.body, requestOrigin(request))),
  );

  app.patch(
    '/:id',
    {
      config: { permission: MANAGE },
      schema: {
        tags: ['admin'],
        summary: 'Rename a tenant or change its slug',
        description: 'Changes the name and/or the slug, validated as PATCH /api/v1/tenants/current validates them. Writes the `tenant.updated` audit row and event, and the platform audit row.',
        security: bearer,
        params: AdminTenantParams,
        body: UpdateAdminTenantBody,
        response: {
          200: DetailRef('The tenant as changed.'),
          ...adminRouteErrors,
          400: problemResponse('Invalid body (`request.validation_failed`): e.g. `/slug` badly formed or reserved, `/name` blank.'),
          404: tenantNotFound,
          409: problemResponse('`tenant.slug_taken`: another tenant uses this slug.'),
        },
      },
    },
    async (request) => updateAdminTenant(deps, staffOf(request), request.params.id, request.body, requestOrigin(request)),
  );

  app.post(
    '/:id/suspend',
    {
      config: { permission: MANAGE },
      schema: {
        tags: ['admin'],
        summary: 'Suspend a tenant',
        description:
          'Suspends an active tenant for `reason`: from their next request on, its members are refused (403 `auth.tenant_access_revoked`) until it is reactivated; nothing is deleted. Writes the `tenant.suspended` audit row and event, and the platform audit row.',
        security: bearer,
        params: AdminTenantParams,
        body: SuspendTenantBody,
        response: { 200: DetailRef('The suspended tenant.'), ...adminRouteErrors, 404: tenantNotFound, 409: problemResponse('`tenant.not_active`: the tenant is suspended or closed already.') },
      },
    },
    async (request) => suspendTenant(deps, staffOf(request), request.params.id, request.body.reason, requestOrigin(request)),
  );

  app.post(
    '/:id/reactivate',
    {
      config: { permission: MANAGE },
      schema: {
        tags: ['admin'],
        summary: 'Reactivate a suspended tenant',
        description: 'Ends a suspension: the members’ access is back at once. Writes the `tenant.reactivated` audit row and event, and the platform audit row.',
        security: bearer,
        params: AdminTenantParams,
        response: { 200: DetailRef('The active tenant.'), ...adminRouteErrors, 404: tenantNotFound, 409: problemResponse('`tenant.not_suspended`: the tenant is not suspended.') },
      },
    },
    async (request) => reactivateTenant(deps, staffOf(request), request.params.id, requestOrigin(request)),
  );

  app.delete(
    '/:id',
    {
      config: { permission: MANAGE },
      schema: {
        tags: ['admin'],
        summary: 'Close a tenant',
        description:
          'Closes an active or suspended tenant exactly as its owner’s DELETE /api/v1/tenants/current does: every member loses access at once, and it is purged with all its data after `restorableUntil` (TENANT_RESTORE_DAYS) unless restored. An optional `reason` (body or query) is kept in both audit trails and on the `tenant.closed` event. A closed tenant answers 200 with its closure, unchanged.',
        security: bearer,
        params: AdminTenantParams,
        querystring: CloseTenantQuery,
        body: CloseTenantBody,
        response: {
          200: { ...Type.Ref('AdminTenantClosure'), description: 'The tenant was closed already; nothing changed.' },
          202: { ...Type.Ref('AdminTenantClosure'), description: 'The tenant is closed and scheduled for purging.' },
          ...adminRouteErrors,
          404: tenantNotFound,
        },
      },
    },
    async (request, reply) => {
      const reason = request.body?.reason ?? request.query.reason ?? null;
      const { closure, closedNow } = await closeAdminTenant(deps, staffOf(request), request.params.id, reason, requestOrigin(request));
      return reply.code(closedNow ? 202 : 200).send(closure);
    },
  );

  app.post(
    '/:id/restore',
    {
      config: { permission: MANAGE },
      schema: {
        tags: ['admin'],
        summary: 'Restore a closed tenant',
        description:
          'Reopens a closed tenant within its restore window: status active, the members’ access back at once, the scheduled purge then leaves it alone. Writes the `tenant.restored` audit row and event, and the platform audit row.',
        security: bearer,
        params: AdminTenantParams,
        response: {
          200: DetailRef('The restored tenant.'),
          ...adminRouteErrors,
          404: tenantNotFound,
          409: problemResponse('`tenant.not_closed`: the tenant is not closed; `tenant.restore_window_expired`: it is past `restorableUntil` and due to be purged.'),
        },
      },
    },
    async (request) => restoreAdminTenant(deps, staffOf(request), request.params.id, requestOrigin(request)),
  );
}
