/**
 * `/api/v1/users`: the signed-in person (`/me`, in profile.routes.ts) and the members of the tenant the
 * token acts in. HTTP only — each handler makes one service call. The tenant always comes from the
 * credential (`actor.tenantId`), never from the request; another tenant's member id answers 404.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { requestOrigin } from '../../core/audit/audit.js';
import { pageSchema } from '../../core/http/pagination.js';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';
import { limitReachedResponse } from '../../core/tenancy/route-entitlements.js';
import type { OrganizationDeps } from './deps.js';
import { CreateMemberBody, MemberListQuery, MemberParams, memberSchemas, UpdateMemberBody } from './members.schemas.js';
import { granterOf } from './member-roles.js';
import { createMember, getTenantMember, listTenantMembers, removeMember, updateMember, type MemberCaller } from './members.service.js';
import { profileRoutes } from './profile.routes.js';

const bearer = [{ bearerAuth: [] }];
const unauthenticated = problemResponse('Missing, invalid or expired access token, or the session has ended (`auth.unauthenticated`).');
const forbidden = (what: string) =>
  problemResponse(
    `\`auth.forbidden\` (${what}), \`auth.tenant_access_revoked\` (deactivated membership, suspended or closed tenant), or ` +
      '`auth.mfa_enrollment_required` (the tenant requires MFA and the caller has none).',
  );
const notFound = problemResponse('`member.not_found`: no such member in this tenant (including members of other tenants only).');
const member = (description: string) => ({ ...Type.Ref('Member'), description });

/** The caller of a tenant-scoped route: authentication set `actor.tenantId` (the route guard checked it). */
function callerOf(request: FastifyRequest): MemberCaller {
  const { actor } = request;
  return { userId: actor!.userId!, tenantId: actor!.tenantId!, role: actor!.role, name: request.signedIn?.user.name };
}

export async function memberRoutes(untyped: FastifyInstance, options: { deps: OrganizationDeps }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { deps } = options;
  for (const schema of memberSchemas) app.addSchema(schema);
  await app.register(profileRoutes, { deps });

  app.get(
    '/',
    {
      config: { permission: 'users.view' },
      schema: {
        tags: ['users'],
        summary: 'List the members of the current tenant',
        description:
          'Members in the order they joined (stable: paging while people join neither skips nor repeats anyone). `search` matches part of the ' +
          'name or email address, case-insensitively; `status`, `role` (built-in tenant role), `roleId` and `storeId` filter. `roleId` takes any role of this tenant: ' +
          'a built-in tenant role matches the membership role, a built-in store role an assignment with it to any live store, a custom role its holders (tenant-wide or in a live store); ' +
          'an id that is no role of this tenant matches nobody (an empty page, not 404, as for `storeId`).',
        security: bearer,
        querystring: MemberListQuery,
        response: { 200: pageSchema(Type.Ref('Member'), 'One page of members.'), ...standardErrors, 401: unauthenticated, 403: forbidden('no users.view') },
      },
    },
    async (request) => listTenantMembers(deps, callerOf(request).tenantId, request.query),
  );

  app.get(
    '/:id',
    {
      config: { permission: 'users.view' },
      schema: {
        tags: ['users'],
        summary: 'One member of the current tenant',
        security: bearer,
        params: MemberParams,
        response: { 200: member('The member.'), ...standardErrors, 401: unauthenticated, 403: forbidden('no users.view'), 404: notFound },
      },
    },
    async (request) => getTenantMember(deps, callerOf(request).tenantId, request.params.id),
  );

  app.post(
    '/',
    {
      config: { permission: 'users.manage' },
      schema: {
        tags: ['users'],
        summary: 'Create a new person in the current tenant',
        description:
          'Creates an account for someone who has none, as a member of this tenant with `roleIds`, assigned to the given stores. ' +
          '`roleIds` are tenant-scope roles of this tenant: at most one built-in (`admin` or `member`, default `member`; `owner` answers 409 `role.owner_transfer_only`) plus any custom roles; ' +
          'a store role answers 400 `role.scope_mismatch`, an unknown id 400 naming `/roleIds/<i>`, a role with a permission the caller does not hold 403 `role.privilege_escalation`. `role` still works and must agree. ' +
          'Without a password the person is mailed a link to choose one; with one, a link to verify the address. An address that already ' +
          'has an account answers 409: invite that person instead (POST /api/v1/users/invite), so nobody joins a tenant without consent. The new member takes a seat of the plan’s `maxUsers`.',
        security: bearer,
        body: CreateMemberBody,
        response: {
          201: member('The new member.'),
          ...standardErrors,
          402: limitReachedResponse('maxUsers'),
          400: problemResponse(
            'Invalid body, `owner` as role, a store that is not a live store of this tenant, an unknown role or two built-in roles (`request.validation_failed`, naming the field), a store role (`role.scope_mismatch`), or a weak password (`auth.weak_password`).',
          ),
          401: unauthenticated,
          403: forbidden('no users.manage; or `role.privilege_escalation`: a role holds a permission the caller does not'),
          409: problemResponse('`member.email_has_account`: the address has an account; invite the person instead. `role.owner_transfer_only`: the owner role among `roleIds`.'),
          503: problemResponse('`service.unavailable`: too many password hashes are running; retry shortly (Retry-After).'),
        },
      },
    },
    async (request, reply) => {
      const created = await createMember(deps, callerOf(request), granterOf(request), request.body, requestOrigin(request));
      return reply.code(201).header('location', `/api/v1/users/${created.id}`).send(created);
    },
  );

  app.patch(
    '/:id',
    {
      config: { permission: 'users.manage' },
      schema: {
        tags: ['users'],
        summary: 'Change a membership',
        description:
          'Changes the status (`deactivated` cuts the member’s access to this tenant at once; their other tenants are unaffected), title or ' +
          'role (`admin` or `member`). The owner is never deactivated or re-roled (ownership moves by transfer), nobody changes their own ' +
          'status or role, and only the owner changes an administrator.',
        security: bearer,
        params: MemberParams,
        body: UpdateMemberBody,
        response: {
          200: member('The member, changed.'),
          ...standardErrors,
          401: unauthenticated,
          403: forbidden('no users.manage, or an administrator changing another administrator; or `role.privilege_escalation`: the new role holds a permission the caller does not'),
          404: notFound,
          409: problemResponse('`member.owner_protected` (the owner’s status or role) or `member.self_protected` (your own status or role).'),
        },
      },
    },
    async (request) => updateMember(deps, callerOf(request), granterOf(request), request.params.id, request.body, requestOrigin(request)),
  );

  app.delete(
    '/:id',
    {
      config: { permission: 'users.manage' },
      schema: {
        tags: ['users'],
        summary: 'Remove a member from the current tenant',
        description:
          'Removes the membership and the member’s store assignments here; the person’s account and other tenants stay. Never the owner; ' +
          'not yourself (leave with POST /api/v1/tenants/current/leave); an administrator only by the owner.',
        security: bearer,
        params: MemberParams,
        response: {
          204: Type.Null({ description: 'The membership is removed.' }),
          ...standardErrors,
          401: unauthenticated,
          403: forbidden('no users.manage, or an administrator removing another administrator'),
          404: notFound,
          409: problemResponse('`member.owner_protected` (the owner) or `member.self_protected` (yourself).'),
        },
      },
    },
    async (request, reply) => {
      await removeMember(deps, callerOf(request), granterOf(request), request.params.id, requestOrigin(request));
      return reply.code(204).send(null);
    },
  );
}
