/**
 * `/api/v1/users/:id/roles` (who holds which role) and `/api/v1/users/me/permissions` (what the caller
 * may do). HTTP only — schemas, permission, one service call; the rules live in assignments.service.ts.
 * Registered under the same prefix as the organization module's member routes (`/me`, `/:id`): the
 * paths here are longer, so no route of theirs is shadowed or shadows one of these.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { requestOrigin } from '../../core/audit/audit.js';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';
import { SELF, signedInPerson } from '../identity/index.js';
import { AssignmentParams, AssignRoleBody, assignmentSchemas, MemberParams, MyPermissionsQuery, RemoveRoleQuery } from './assignments.schemas.js';
import { assignRole, describeMyPermissions, listMemberRoles, removeRole, type AssignmentCaller } from './assignments.service.js';
import type { AuthorizationDeps } from './index.js';

const bearer = [{ bearerAuth: [] }];
const unauthenticated = problemResponse('Missing, invalid or expired access token, or the session has ended (`auth.unauthenticated`).');
const forbidden = (what: string) =>
  problemResponse(
    `${what}; \`auth.forbidden\` (the caller’s roles do not allow the route), \`auth.tenant_access_revoked\` (deactivated membership, ` +
      'suspended or closed tenant), `auth.mfa_enrollment_required` or `store.access_denied` (X-Store-ID names a store the caller may not act in).',
  );
const memberNotFound = problemResponse('`member.not_found`: no such member in this tenant (a member of another tenant only answers the same).');
const heldRole = (description: string) => ({ ...Type.Ref('HeldRole'), description });

/** The caller of a role change: the permission check set the tenant, the person and their custom grants. */
function callerOf(request: FastifyRequest): AssignmentCaller {
  const { actor, grants } = request;
  return { actor: { ...actor!, tenantId: actor!.tenantId!, userId: actor!.userId! }, grants: grants! };
}

export async function assignmentRoutes(untyped: FastifyInstance, options: { deps: AuthorizationDeps }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { deps } = options;
  for (const schema of assignmentSchemas) app.addSchema(schema);

  app.get(
    '/me/permissions',
    {
      config: { permission: SELF },
      schema: {
        tags: ['roles'],
        summary: 'What the signed-in person may do',
        description:
          'The roles the caller holds in the tenant the token acts in, and the permissions they give: tenant-wide, plus those held in ' +
          '`storeId` (a store the caller is assigned to, or any live store with `stores.manage`). The console shows or hides things by it. ' +
          'A token acting in no tenant, or in one where its access is revoked, holds nothing (`tenantId: null`).',
        security: bearer,
        querystring: MyPermissionsQuery,
        response: {
          200: { ...Type.Ref('EffectivePermissions'), description: 'The caller’s roles and permissions.' },
          ...standardErrors,
          401: unauthenticated,
          403: problemResponse('`store.access_denied`: the caller may not act in `storeId`; `auth.forbidden`: the credential is not a person’s session.'),
        },
      },
    },
    async (request) => {
      signedInPerson(request.actor);
      return describeMyPermissions(deps, request.actor!, request.query.storeId);
    },
  );

  app.get(
    '/:id/roles',
    {
      config: { permission: 'users.view' },
      schema: {
        tags: ['roles'],
        summary: 'The roles a member holds',
        description:
          'The member’s built-in tenant role, their built-in role in each live store they are assigned to, and their custom roles (tenant-wide ' +
          'or per live store): tenant-wide first, then by store. Deactivated members are listed too (their roles stay until changed).',
        security: bearer,
        params: MemberParams,
        response: {
          200: Type.Object({ data: Type.Array(Type.Ref('HeldRole')) }, { description: 'Every role the member holds (a short, complete list).' }),
          ...standardErrors,
          401: unauthenticated,
          403: forbidden('No `users.view`'),
          404: memberNotFound,
        },
      },
    },
    async (request) => ({ data: await listMemberRoles(deps, request.actor!.tenantId!, request.params.id) }),
  );

  app.post(
    '/:id/roles',
    {
      config: { permission: 'users.manage' },
      schema: {
        tags: ['roles'],
        summary: 'Give a member a role',
        description:
          'A built-in tenant role (`admin`, `member`) replaces the member’s current one. A store-scope role needs `storeId`: a built-in ' +
          'store role assigns the person to the store with it (replacing their role there); a custom store role is held in that store (the ' +
          'person is assigned to it as `store_staff` first if need be). A custom tenant role is held tenant-wide. Nobody changes their own ' +
          'roles, grants a permission they do not hold, or changes the roles of someone holding permissions they lack; only the owner changes ' +
          'an administrator’s roles; ownership moves only by transfer. Answers 201 when given now, 200 when held exactly so already.',
        security: bearer,
        params: MemberParams,
        body: AssignRoleBody,
        response: {
          200: heldRole('The member held this role (there) already: nothing changed.'),
          201: heldRole('The role, as now held.'),
          ...standardErrors,
          400: problemResponse('Invalid body, or `role.scope_mismatch`: `storeId` missing for a store role, or given for a tenant-wide role.'),
          401: unauthenticated,
          403: forbidden(
            '`role.self_assignment` (your own roles), `role.privilege_escalation` (the role, or the member, holds permissions you do not), ' +
              '`auth.forbidden` (an administrator’s roles, unless you are the owner, or no `users.manage`)',
          ),
          404: problemResponse('`member.not_found`, `role.not_found`, or `store.not_found` (not a live store of this tenant).'),
          409: problemResponse('`role.owner_transfer_only` (the owner role, or the owner’s built-in role) or `member.inactive` (a deactivated member).'),
        },
      },
    },
    async (request, reply) => {
      const { held, created } = await assignRole(deps, callerOf(request), requestOrigin(request), request.params.id, request.body);
      return reply.code(created ? 201 : 200).send(held);
    },
  );

  app.delete(
    '/:id/roles/:roleId',
    {
      config: { permission: 'users.manage' },
      schema: {
        tags: ['roles'],
        summary: 'Take a role from a member',
        description:
          'A custom role is unassigned (in `storeId` for a store role). A built-in store role with `storeId` removes the person from that ' +
          'store, with their custom roles there. The built-in tenant role is never taken, only replaced (POST). Deactivated members’ roles ' +
          'can be taken too. The same rules as giving a role apply.',
        security: bearer,
        params: AssignmentParams,
        querystring: RemoveRoleQuery,
        response: {
          204: Type.Null({ description: 'The role is taken.' }),
          ...standardErrors,
          400: problemResponse('`role.scope_mismatch`: `storeId` missing for a store role, or given for a tenant-wide role.'),
          401: unauthenticated,
          403: forbidden('`role.self_assignment`, `role.privilege_escalation`, or `auth.forbidden` (see POST)'),
          404: problemResponse('`member.not_found`, `role.not_found`, or `role.assignment_not_found` (the member does not hold the role there).'),
          409: problemResponse('`role.base_role_required`: the built-in tenant role is replaced, never taken.'),
        },
      },
    },
    async (request, reply) => {
      await removeRole(deps, callerOf(request), requestOrigin(request), request.params.id, request.params.roleId, request.query.storeId);
      return reply.code(204).send(null);
    },
  );
}
