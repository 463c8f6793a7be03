/**
 * Request and response schemas of `/api/v1/admin/tenants` (types are derived from them, never written
 * twice). Names and slugs follow the tenant's own routes (`/api/v1/tenants`): the same schemas, reused.
 */
import { Type, type Static } from 'typebox';
import { paginationQuery } from '../../core/http/pagination.js';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';
import { EmailSchema } from '../identity/index.js';
import { TenantClosureSchema, TenantNameSchema, TenantSlugSchema, UpdateTenantBody } from '../organization/index.js';

const DateTime = (description: string) => Type.String({ format: 'date-time', description });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });

const TenantStatusSchema = Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('closed')]);

export const AdminTenantSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    slug: Type.String(),
    status: { ...TenantStatusSchema, description: '`active`, `suspended` (its members are refused until it is reactivated) or `closed` (restorable until purged).' },
    createdAt: DateTime('When the tenant was created.'),
    updatedAt: DateTime('When its name, slug, settings or status last changed.'),
  },
  { $id: 'AdminTenant', description: 'A tenant, as platform administration lists it.' },
);
export type AdminTenant = Static<typeof AdminTenantSchema>;

const AdminTenantOwnerSchema = Type.Object(
  { id: Type.String({ format: 'uuid' }), email: Type.String(), name: Type.String() },
  { description: 'The owner; null while the tenant has none (created by platform administration, owner invitation not yet accepted).' },
);

export const AdminTenantDetailSchema = Type.Object(
  {
    ...AdminTenantSchema.properties,
    memberCount: Type.Integer({ minimum: 0, description: 'Active members.' }),
    storeCount: Type.Integer({ minimum: 0, description: 'Live (not deleted) stores.' }),
    owner: Type.Union([AdminTenantOwnerSchema, Type.Null()]),
    settings: Type.Record(Type.String(), Type.Unknown(), { description: 'Every setting, defaults filled in (as GET /api/v1/tenants/current/settings shows them).' }),
    suspendedReason: Nullable(Type.String(), 'Why the platform suspended it; null unless suspended.'),
    closedAt: Nullable(DateTime('When it was closed.'), 'When it was closed; null unless closed.'),
    restorableUntil: Nullable(DateTime('Until when it can be restored.'), 'Until when it can be restored (then it is purged); null unless closed.'),
  },
  { $id: 'AdminTenantDetail', description: 'A tenant with its counts, owner, settings and status details.' },
);
export type AdminTenantDetail = Static<typeof AdminTenantDetailSchema>;

export const OwnerInvitationSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    email: Type.String({ description: 'The invited owner’s address.' }),
    expiresAt: DateTime('When the link stops working.'),
  },
  { description: 'The invitation mailed to the future owner; accepting it makes them the owner.' },
);

export const CreatedAdminTenantSchema = Type.Object(
  { ...AdminTenantDetailSchema.properties, ownerInvitation: OwnerInvitationSchema },
  { $id: 'CreatedAdminTenant', description: 'The new tenant (no member yet) and the owner’s invitation.' },
);
export type CreatedAdminTenant = Static<typeof CreatedAdminTenantSchema>;

/** The closure view of DELETE /tenants/current, under its own name in this module's documents. */
export const AdminTenantClosureSchema = Type.Object(TenantClosureSchema.properties, { $id: 'AdminTenantClosure', description: 'A closed tenant.' });

export const adminTenantSchemas = [AdminTenantSchema, AdminTenantDetailSchema, CreatedAdminTenantSchema, AdminTenantClosureSchema];

export const ListAdminTenantsQuery = Type.Object(
  {
    search: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Part of the name or slug (case-insensitive).' })),
    status: Type.Optional({ ...TenantStatusSchema, description: 'Only tenants in this status.' }),
    sort: Type.Optional(
      Type.Union([Type.Literal('created'), Type.Literal('-created')], { default: '-created', description: 'By creation time: `created` oldest first, `-created` (default) newest first.' }),
    ),
    ...paginationQuery,
  },
  { additionalProperties: false },
);
export type ListAdminTenantsInput = Static<typeof ListAdminTenantsQuery>;

export const AdminTenantParams = Type.Object({ id: Type.String({ format: 'uuid', description: 'Tenant id.' }) });

export const CreateAdminTenantBody = Type.Object(
  {
    name: TenantNameSchema,
    ownerEmail: { ...EmailSchema, description: 'Who is invited to own the tenant; they become its owner by accepting the mailed invitation.' },
    slug: Type.Optional({ ...TenantSlugSchema, description: `${(TenantSlugSchema as { description?: string }).description ?? ''} Derived from the name when omitted.` }),
  },
  { additionalProperties: false },
);
export type CreateAdminTenantInput = Static<typeof CreateAdminTenantBody>;

export const UpdateAdminTenantBody = UpdateTenantBody;

export const SuspendTenantBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 500, description: 'Why (kept on the tenant and in both audit trails).' }) },
  { additionalProperties: false },
);

const CloseReason = Type.String({ minLength: 1, maxLength: 500, description: 'Why (kept in both audit trails and on the `tenant.closed` event).' });
export const CloseTenantQuery = Type.Object({ reason: Type.Optional(CloseReason) }, { additionalProperties: false });
export const CloseTenantBody = Type.Union([Type.Object({ reason: Type.Optional(CloseReason) }, { additionalProperties: false }), Type.Null()], {
  description: 'Optional; the reason may also be given as `?reason=`.',
});

export const bearer = [{ bearerAuth: [] }];

/** Errors every admin tenant route can answer. */
export const adminRouteErrors = {
  ...standardErrors,
  401: problemResponse('Missing, invalid or expired access token, or the session has ended (`auth.unauthenticated`).'),
  403: problemResponse('No platform role allowing this (`auth.forbidden`): reads need `platform.view` (administrators and operators), changes `platform.tenants.manage` (administrators only).'),
};

export const tenantNotFound = problemResponse('No tenant has this id (`tenant.not_found`).');
