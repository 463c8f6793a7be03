/**
 * Request and response schemas of `/api/v1/permissions` and `/api/v1/roles` (types are derived from
 * them, never written twice). What a schema cannot say — that a permission key is in the catalog, appears
 * once and fits the role's scope — is checked by the service and answered as 400
 * `role.invalid_permissions` naming each bad entry.
 */
import { Type, type Static } from 'typebox';
import { paginationQuery } from '../../core/http/pagination.js';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';

const DateTime = (description: string) => Type.String({ format: 'date-time', description });
const Scope = (description: string) => Type.Union([Type.Literal('tenant'), Type.Literal('store')], { description });

/** The most custom roles a tenant may have (409 `role.limit_reached` beyond it). */
export const MAX_CUSTOM_ROLES = 100;

export const PermissionSchema = Type.Object(
  {
    key: Type.String({ description: '`resource.action`, e.g. `users.manage`: what routes and roles name.' }),
    description: Type.String({ description: 'What the permission allows.' }),
    group: Type.String({ description: 'Heading the console lists it under, e.g. `Members`.' }),
    scope: Scope('`tenant`: grantable only tenant-wide; `store`: also through a store role, holding only in that store.'),
  },
  { $id: 'Permission', description: 'One permission of the catalog.' },
);
export type PermissionView = Static<typeof PermissionSchema>;

export const PermissionCatalogSchema = Type.Object(
  { data: Type.Array(Type.Ref('Permission'), { description: 'Every permission, in catalog order (grouped).' }) },
  { description: 'The permission catalog: short and fixed in code, so served whole (no pages).' },
);

export const RoleSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    key: Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member'), Type.Literal('store_manager'), Type.Literal('store_staff'), Type.Null()], {
      description: 'The built-in role’s key; null for a custom role.',
    }),
    name: Type.String({ description: 'Display name, unique in the tenant case-insensitively.' }),
    description: Type.String({ description: 'What the role is for (may be empty).' }),
    scope: Scope('`tenant`: held tenant-wide; `store`: held in one store at a time.'),
    permissions: Type.Array(Type.String(), { description: 'The permission keys it grants, in catalog order (a built-in role’s come from the catalog in code).' }),
    builtIn: Type.Boolean({ description: 'Built-in roles exist in every tenant and cannot be changed or deleted.' }),
    holders: Type.Integer({
      minimum: 0,
      description:
        'How many people hold it: for a custom role, people with an assignment (tenant-wide or in any store); for owner/admin/member, members with that tenant role; ' +
        'for the built-in store roles, people assigned to a live store with it. Deactivated members count (they keep their roles).',
    }),
    createdAt: DateTime('When the role was created.'),
    updatedAt: DateTime('When the role last changed.'),
  },
  { $id: 'Role', description: 'A role of the tenant: built-in or custom.' },
);
export type RoleView = Static<typeof RoleSchema>;

const RoleName = Type.String({ minLength: 1, maxLength: 100, description: 'Display name (trimmed; 1–100 characters), unique in the tenant case-insensitively, built-in names included.' });
const RoleDescription = Type.String({ maxLength: 500, description: 'What the role is for (up to 500 characters).' });
const PermissionKeys = (description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100, description });

export const CreateRoleBody = Type.Object(
  {
    name: RoleName,
    description: Type.Optional(RoleDescription),
    scope: Scope('`tenant`: assigned tenant-wide; `store`: assigned in one store (only `store`-scope permissions). Cannot change later.'),
    permissions: PermissionKeys('Permission keys of the catalog (GET /api/v1/permissions), each once; you must hold each one yourself.'),
  },
  { additionalProperties: false },
);
export type CreateRoleInput = Static<typeof CreateRoleBody>;

export const UpdateRoleBody = Type.Object(
  {
    name: Type.Optional(RoleName),
    description: Type.Optional(RoleDescription),
    permissions: Type.Optional(PermissionKeys('The new permission list, replacing the old one; you must hold every permission of the old and the new list.')),
  },
  { additionalProperties: false, minProperties: 1, description: 'The fields to change. The scope cannot change: create another role instead.' },
);
export type UpdateRoleInput = Static<typeof UpdateRoleBody>;

export const RoleIdParams = Type.Object({ id: Type.String({ format: 'uuid', description: 'Role id.' }) });

export const ListRolesQuery = Type.Object(
  {
    scope: Type.Optional(Scope('Only roles of this scope.')),
    ...paginationQuery,
  },
  { additionalProperties: false },
);
export type ListRolesInput = Static<typeof ListRolesQuery>;

export const DeleteRoleQuery = Type.Object(
  {
    reassignTo: Type.Optional(
      Type.String({
        format: 'uuid',
        description: 'Another custom role of the same scope: every assignment of the deleted role moves to it (same person, same store) before the deletion.',
      }),
    ),
  },
  { additionalProperties: false },
);

/** Registered once by the routes plugin, so `Type.Ref` resolves and OpenAPI names them. */
export const roleSchemas = [PermissionSchema, RoleSchema];

export const bearer = [{ bearerAuth: [] }];

/** Responses every role route can give besides its own. */
export const roleRouteErrors = {
  ...standardErrors,
  401: problemResponse('Missing, invalid or expired access token, or the session has ended (`auth.unauthenticated`).'),
  403: problemResponse(
    'The caller’s roles do not allow this (`auth.forbidden`); the membership is deactivated or the tenant suspended or closed (`auth.tenant_access_revoked`); or the tenant requires MFA (`auth.mfa_enrollment_required`).',
  ),
};

/** The 403 of the routes that change a role: the general refusals and the role rules. */
export const roleChangeForbidden = (rules: string) =>
  problemResponse(
    `\`auth.forbidden\` (no roles.manage), \`auth.tenant_access_revoked\`, \`auth.mfa_enrollment_required\`, or a role rule: ${rules}`,
  );

export const roleNotFoundResponse = problemResponse('No role of this tenant has this id (`role.not_found`); another tenant’s role answers the same.');
