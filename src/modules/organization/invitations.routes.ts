/**
 * Invitations: `POST /users/invite`, `GET /invitations`, `POST /invitations/:id/resend`,
 * `DELETE /invitations/:id` (all `users.manage`), and the invitee's `POST /auth/accept-invite` (public).
 * Registered under /api/v1, so the paths are spelled in full. HTTP only; the use-cases are in
 * invitations.service.ts and accept-invite.service.ts.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { requestOrigin } from '../../core/audit/audit.js';
import { AppError } from '../../core/http/errors.js';
import { pageSchema } from '../../core/http/pagination.js';
import { limitPerActor, limitPerIp } from '../../core/http/rate-limit.js';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';
import { limitReachedResponse } from '../../core/tenancy/route-entitlements.js';
import { bearerToken } from '../identity/index.js';
import { acceptInvitation } from './accept-invite.service.js';
import type { OrganizationDeps } from './deps.js';
import { AcceptInviteBody, InvitationListQuery, InvitationParams, InvitationSchema, INVITATION_MESSAGE_MAX, InviteBody } from './invitations.schemas.js';
import { inviteMember, listInvitations, resendInvitation, revokeInvitation, type TenantActor } from './invitations.service.js';
import { granterOf } from './member-roles.js';

/** Invitation mails (sent and resent) per member per hour: an admin's account cannot be used to spam. */
export const INVITATION_MAILS_PER_ACTOR_PER_HOUR = 50;
/** Acceptances per client address per hour (each may cost an argon2 hash). */
export const ACCEPT_INVITE_PER_IP_PER_HOUR = 30;

const mailLimit = limitPerActor({ max: INVITATION_MAILS_PER_ACTOR_PER_HOUR, timeWindow: '1 hour', groupId: 'invitation-mail' });
const bearer = [{ bearerAuth: [] }];
const MANAGE = 'users.manage';

const unauthenticated = problemResponse('Missing, invalid or expired access token, or the session has ended (`auth.unauthenticated`).');
const forbidden = problemResponse(
  'The role lacks `users.manage` (`auth.forbidden`), the membership or tenant is no longer active (`auth.tenant_access_revoked`), or the tenant requires MFA first (`auth.mfa_enrollment_required`).',
);
const notFound = problemResponse('No invitation of this tenant has this id (`invitation.not_found`); another tenant’s ids answer the same.');

/** The acting member; the route guard has checked the permission, so a user token names its tenant here. */
function tenantActor(request: FastifyRequest): TenantActor {
  const { actor } = request;
  if (!actor?.userId || !actor.tenantId) throw new AppError('auth.forbidden', 'This route needs a member’s access token.');
  return { userId: actor.userId, tenantId: actor.tenantId };
}

export async function invitationRoutes(untyped: FastifyInstance, options: { deps: OrganizationDeps }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { deps } = options;
  app.addSchema(InvitationSchema);

  app.post(
    '/users/invite',
    {
      config: { permission: MANAGE, rateLimit: mailLimit },
      schema: {
        tags: ['invitations'],
        summary: 'Invite a person',
        description:
          'Emails an invitation to join this tenant with `roleIds` and `storeIds`, valid for 7 days and usable once (accepted at POST /api/v1/auth/accept-invite). ' +
          '`roleIds` are tenant-scope roles of this tenant (GET /api/v1/roles): at most one built-in (`admin` or `member`, default `member`; two answer 400 naming the field; `owner` answers 409 `role.owner_transfer_only`) plus any custom roles, given on acceptance (those deleted by then are skipped). ' +
          'A store role answers 400 `role.scope_mismatch` (give it in the store once the person has joined); an id that is no role of this tenant answers 400 `request.validation_failed` naming `/roleIds/<i>`. ' +
          '`role` (`admin` or `member`) still works and must agree with a built-in role in `roleIds`. Nobody invites with a permission they do not hold themselves (403 `role.privilege_escalation`; joining stores grants `store_staff` there). ' +
          'An open invitation for the same address is replaced: it is revoked and its link stops working. ' +
          'A person already in the tenant (active or deactivated) answers 409 `invitation.already_member`; an address outside the tenant’s `security.allowedEmailDomains` answers 400 `invitation.domain_not_allowed`; ' +
          'a store id that is not a live store of this tenant answers 400 naming it. ' +
          `\`message\` (at most ${INVITATION_MESSAGE_MAX} characters) is shown in the mail as plain text. At most ${INVITATION_MAILS_PER_ACTOR_PER_HOUR} invitation mails (with resends) per member per hour. Idempotency-Key is honoured. ` +
          'A pending invitation holds a seat of the plan’s `maxUsers` (accepting it then adds none); one it replaces gives its seat back.',
        security: bearer,
        body: InviteBody,
        response: {
          201: { ...Type.Ref('Invitation'), description: 'Invited; the mail is on its way.' },
          ...standardErrors,
          402: limitReachedResponse('maxUsers'),
          400: problemResponse('Invalid request (`request.validation_failed`, naming each field: unknown stores or roles, two built-in roles), `invitation.domain_not_allowed` or `role.scope_mismatch` (a store role).'),
          401: unauthenticated,
          403: problemResponse(`${forbidden.description} Or \`role.privilege_escalation\`: the roles hold a permission the inviter does not.`),
          409: problemResponse(
            '`invitation.already_member`: the person is in this tenant already; `role.owner_transfer_only`: the owner role is never given by invitation; or `resource.conflict`: a concurrent invitation of the same address.',
          ),
        },
      },
    },
    async (request, reply) => {
      const invitation = await inviteMember(deps, tenantActor(request), granterOf(request), request.body, requestOrigin(request));
      return reply.code(201).send(invitation);
    },
  );

  app.get(
    '/invitations',
    {
      config: { permission: MANAGE },
      schema: {
        tags: ['invitations'],
        summary: 'List invitations',
        description:
          'The tenant’s invitations, newest first, optionally of one `status` (pending, accepted, revoked, expired), each with the built-in `role` and custom `roleIds` it gives. Paginated with `limit` and `cursor`.',
        security: bearer,
        querystring: InvitationListQuery,
        response: { 200: pageSchema(Type.Ref('Invitation'), 'One page of invitations.'), ...standardErrors, 401: unauthenticated, 403: forbidden },
      },
    },
    async (request) => listInvitations(deps, tenantActor(request), request.query),
  );

  app.post(
    '/invitations/:id/resend',
    {
      config: { permission: MANAGE, rateLimit: mailLimit },
      schema: {
        tags: ['invitations'],
        summary: 'Resend an invitation',
        description:
          'Mails a pending or expired invitation again with a new link, valid for 7 days from now; the previous link stops working. ' +
          'An accepted or revoked invitation answers 409 `invitation.not_pending`; the domain policy and membership are checked again. ' +
          'A pending invitation keeps its seat of the plan’s `maxUsers`; an expired one held none and takes one again.',
        security: bearer,
        params: InvitationParams,
        response: {
          200: { ...Type.Ref('Invitation'), description: 'Sent again.' },
          ...standardErrors,
          402: limitReachedResponse('maxUsers'),
          400: problemResponse('Invalid id, or `invitation.domain_not_allowed`: the tenant’s domain policy no longer admits the address.'),
          401: unauthenticated,
          403: forbidden,
          404: notFound,
          409: problemResponse('`invitation.not_pending` (accepted or revoked) or `invitation.already_member`.'),
        },
      },
    },
    async (request) => resendInvitation(deps, tenantActor(request), request.params.id, requestOrigin(request)),
  );

  app.delete(
    '/invitations/:id',
    {
      config: { permission: MANAGE },
      schema: {
        tags: ['invitations'],
        summary: 'Revoke an invitation',
        description:
          'The invitation’s link stops working at once and its seat is free again. Revoking a revoked invitation succeeds; an accepted one answers 409 `invitation.not_pending` (remove the member instead).',
        security: bearer,
        params: InvitationParams,
        response: {
          204: Type.Null({ description: 'Revoked.' }),
          ...standardErrors,
          401: unauthenticated,
          403: forbidden,
          404: notFound,
          409: problemResponse('`invitation.not_pending`: the invitation was accepted.'),
        },
      },
    },
    async (request, reply) => {
      await revokeInvitation(deps, tenantActor(request), request.params.id, requestOrigin(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/auth/accept-invite',
    {
      // The answer carries tokens: never cached, never stored for Idempotency-Key replays.
      config: { public: true, idempotency: false, rateLimit: limitPerIp({ max: ACCEPT_INVITE_PER_IP_PER_HOUR, timeWindow: '1 hour' }), notWhileImpersonating: true },
      schema: {
        tags: ['auth'],
        summary: 'Accept an invitation',
        description:
          'Joins the invited tenant with the invited roles and stores (custom roles and stores deleted since the invitation are skipped), and answers the login response acting there. ' +
          'When no account has the invited address, `name` and `password` create one (password policy as at registration; the address counts as verified). ' +
          'When one does, its owner proves it with `Authorization: Bearer <access token>` of that account (another account’s token answers 403 `invitation.email_mismatch`) ' +
          'or with its `password` (401 `auth.invalid_credentials` when wrong, limited like sign-in); an account with two-factor authentication must use the bearer token. ' +
          'Without either, 401 `invitation.sign_in_required`. An unknown, used, revoked or expired token — or one of a suspended or closed tenant — answers 400 `auth.invalid_token`. ' +
          `At most ${ACCEPT_INVITE_PER_IP_PER_HOUR} per client address per hour. Idempotency-Key is not honoured: the response carries tokens.`,
        security: [{}, { bearerAuth: [] }],
        body: AcceptInviteBody,
        response: {
          200: { ...Type.Ref('LoginResponse'), description: 'Joined and signed in; the tokens act in the invited tenant.' },
          ...standardErrors,
          400: problemResponse('`auth.invalid_token`, `auth.weak_password`, or `request.validation_failed` (a new account needs `name` and `password`).'),
          401: problemResponse('`auth.invalid_credentials` (wrong password), `invitation.sign_in_required` (the address has an account: prove it), or `auth.unauthenticated` (the bearer token sent is invalid).'),
          403: problemResponse('`invitation.email_mismatch`: the bearer token is of another account than the invited address.'),
          409: problemResponse('`invitation.already_member`: already a member of the tenant; or `auth.email_taken`: the address was registered meanwhile.'),
          503: problemResponse('`service.unavailable`: too many password checks in progress; retry after Retry-After.'),
        },
      },
    },
    async (request, reply) => {
      const caller = { actor: request.actor, bearerPresented: bearerToken(request) !== null };
      const response = await acceptInvitation(deps, request.body, caller, requestOrigin(request));
      reply.header('cache-control', 'no-store');
      return response;
    },
  );
}
