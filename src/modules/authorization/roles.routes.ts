/**
 * `/api/v1/permissions` and `/api/v1/roles`: the permission catalog and the tenant's roles. HTTP only —
 * schemas, permission, one service call; the rules live in roles.service.ts. Assignments of roles to
 * people are served elsewhere (`/api/v1/users/:id/roles`).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { requestOrigin } from '../../core/audit/audit.js';
import type { Database } from '../../core/db/database.js';
import { AppError } from '../../core/http/errors.js';
import { pageSchema } from '../../core/http/pagination.js';
import { problemResponse } from '../../core/http/schemas.js';
import {
  bearer,
  CreateRoleBody,
  DeleteRoleQuery,
  ListRolesQuery,
  MAX_CUSTOM_ROLES,
  PermissionCatalogSchema,
  roleChangeForbidden,
  RoleIdParams,
  roleNotFoundResponse,
  roleRouteErrors,
  roleSchemas,
  UpdateRoleBody,
} from './roles.schemas.js';
import { createRole, deleteCustomRole, getRole, listPermissions, listTenantRoles, updateRoleDetails, type RoleCaller } from './roles.service.js';

const RoleRef = (description: string) => ({ ...Type.Ref('Role'), description });

/** The caller of a role route: the permission check ran, so the actor is a member and their grants are read. */
function callerOf(request: FastifyRequest): RoleCaller {
  const { actor, grants } = request;
  if (!actor?.tenantId || !actor.userId || !grants) throw new AppError('auth.tenant_access_revoked', 'This route acts in a tenant, and the credential names none.');
  return { tenantId: actor.tenantId, userId: actor.userId, actor, grants, origin: requestOrigin(request) };
}

const escalation = '`role.privilege_escalation` (a permission you do not hold yourself)';
const selfAssignment = '`role.self_assignment` (you hold this role yourself)';
const builtinReadonly = '`role.builtin_readonly` (a built-in role)';

export async function roleRoutes(untyped: FastifyInstance, options: { db: Database }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = options;
  for (const schema of roleSchemas) app.addSchema(schema);

  app.get(
    '/permissions',
    {
      config: { permission: 'roles.view' },
      schema: {
        tags: ['roles'],
        summary: 'The permission catalog',
        description:
          'Every permission a role can grant, with its description, group and scope, in catalog order. The catalog is short and fixed in code, so it is served whole (no pages).',
        security: bearer,
        response: { 200: PermissionCatalogSchema, ...roleRouteErrors },
      },
    },
    async () => listPermissions(),
  );

  app.get(
    '/roles',
    {
      config: { permission: 'roles.view' },
      schema: {
        tags: ['roles'],
        summary: 'List roles',
        description:
          'The tenant’s roles: the built-in ones first (owner, admin, member, store_manager, store_staff), then custom roles by name (case-insensitively); `scope` filters. ' +
          `Each names its permissions and how many people hold it. A tenant has at most ${MAX_CUSTOM_ROLES} custom roles, so \`limit=100\` fetches nearly all at once.`,
        security: bearer,
        querystring: ListRolesQuery,
        response: { 200: pageSchema(Type.Ref('Role'), 'One page of roles.'), ...roleRouteErrors },
      },
    },
    async (request) => listTenantRoles(db, callerOf(request), request.query),
  );

  app.get(
    '/roles/:id',
    {
      config: { permission: 'roles.view' },
      schema: {
        tags: ['roles'],
        summary: 'Get a role',
        description: 'One role of the tenant, built-in or custom, with its permissions and how many people hold it.',
        security: bearer,
        params: RoleIdParams,
        response: { 200: RoleRef('The role.'), ...roleRouteErrors, 404: roleNotFoundResponse },
      },
    },
    async (request) => getRole(db, callerOf(request), request.params.id),
  );

  app.post(
    '/roles',
    {
      // Only creating needs the feature: after a downgrade, the custom roles the tenant has can still be
      // narrowed (PATCH) or deleted, which a frozen role could not be when it grants too much.
      config: { permission: 'roles.manage', feature: 'custom_roles' },
      schema: {
        tags: ['roles'],
        summary: 'Create a custom role',
        description:
          'A custom role of `tenant` scope (assigned tenant-wide) or `store` scope (assigned in one store; only store-scope permissions). You must hold every permission you put in it. ' +
          `The name is unique in the tenant case-insensitively, built-in names included; at most ${MAX_CUSTOM_ROLES} custom roles. Writes the \`role.created\` audit row and event. Honours Idempotency-Key. ` +
          'Needs the plan feature `custom_roles`; changing or deleting existing custom roles does not (after a downgrade they can still be narrowed or removed).',
        security: bearer,
        body: CreateRoleBody,
        response: {
          201: RoleRef('The new role.'),
          ...roleRouteErrors,
          400: problemResponse('Invalid body (`request.validation_failed`), or unknown, repeated or out-of-scope permissions (`role.invalid_permissions`, one entry per key in `errors`).'),
          403: roleChangeForbidden(escalation),
          409: problemResponse('Another role has this name (`role.name_taken`), or the tenant has the most custom roles it may have (`role.limit_reached`).'),
        },
      },
    },
    async (request, reply) => reply.code(201).send(await createRole(db, callerOf(request), request.body)),
  );

  app.patch(
    '/roles/:id',
    {
      config: { permission: 'roles.manage' },
      schema: {
        tags: ['roles'],
        summary: 'Change a custom role',
        description:
          'Changes the name, description or permissions (the list is replaced) of a custom role; the scope cannot change. You must hold every permission the role grants now and will grant, ' +
          'and may not change a role you hold yourself. Its holders’ permissions change at their next request. Writes the `role.updated` audit row and event (none when nothing changes).',
        security: bearer,
        params: RoleIdParams,
        body: UpdateRoleBody,
        response: {
          200: RoleRef('The role as changed.'),
          ...roleRouteErrors,
          400: problemResponse('Invalid body (`request.validation_failed`), or unknown, repeated or out-of-scope permissions (`role.invalid_permissions`, one entry per key in `errors`).'),
          403: roleChangeForbidden(`${builtinReadonly}, ${selfAssignment} or ${escalation}.`),
          404: roleNotFoundResponse,
          409: problemResponse('Another role has this name (`role.name_taken`).'),
        },
      },
    },
    async (request) => updateRoleDetails(db, callerOf(request), request.params.id, request.body),
  );

  app.delete(
    '/roles/:id',
    {
      config: { permission: 'roles.manage' },
      schema: {
        tags: ['roles'],
        summary: 'Delete a custom role',
        description:
          'Deletes a custom role nobody holds. While it is assigned, `reassignTo` must name another custom role of the same scope whose permissions you hold: every assignment moves there ' +
          '(same person, same store; someone who already has it there keeps it once), in the same transaction. You must hold the role’s permissions and may not delete a role you hold yourself. ' +
          'Writes the `role.deleted` audit row and event.',
        security: bearer,
        params: RoleIdParams,
        querystring: DeleteRoleQuery,
        response: {
          204: Type.Null({ description: 'The role is deleted.' }),
          ...roleRouteErrors,
          400: problemResponse('Invalid id (`request.validation_failed`, also for `reassignTo` naming the role itself), or `reassignTo` names a built-in role or one of another scope (`role.scope_mismatch`).'),
          403: roleChangeForbidden(`${builtinReadonly}, ${selfAssignment} or ${escalation} (of this role or the \`reassignTo\` role).`),
          404: problemResponse('No role of this tenant has this id, or the `reassignTo` id (`role.not_found`).'),
          409: problemResponse('The role is still assigned and no `reassignTo` was given (`role.in_use`; `holders` and `assignments` say how many).'),
        },
      },
    },
    async (request, reply) => {
      await deleteCustomRole(db, callerOf(request), request.params.id, request.query.reassignTo);
      return reply.code(204).send(null);
    },
  );
}
