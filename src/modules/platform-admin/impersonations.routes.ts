/**
 * `/api/v1/admin/impersonations`: governed impersonation (platform administrators only). HTTP only —
 * schemas, permission, one service call; the rules live in impersonations.service.ts.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { requestOrigin } from '../../core/audit/audit.js';
import type { Actor } from '../../core/http/request-context.js';
import { pageSchema } from '../../core/http/pagination.js';
import { problemResponse } from '../../core/http/schemas.js';
import {
  bearer,
  IMPERSONATION_DEFAULT_MINUTES,
  IMPERSONATION_MAX_MINUTES,
  ImpersonationIdParams,
  impersonationRouteErrors,
  ImpersonationSchema,
  ListImpersonationsQuery,
  StartedImpersonationSchema,
  StartImpersonationBody,
} from './impersonations.schemas.js';
import { endImpersonation, listImpersonations, startImpersonation, type ImpersonatingAdmin, type ImpersonationDeps } from './impersonations.service.js';

/** The administrator behind a request the permission check let through (a person's own session). */
function adminOf(actor: Actor | undefined): ImpersonatingAdmin {
  if (!actor?.userId) throw new Error('impersonation routes run only after the platform permission check');
  return { userId: actor.userId, mfaVerified: actor.mfaVerified === true };
}

export async function impersonationRoutes(untyped: FastifyInstance, options: { deps: ImpersonationDeps }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { deps } = options;
  app.addSchema(ImpersonationSchema);

  app.get(
    '/',
    {
      config: { permission: 'platform.view' },
      schema: {
        tags: ['admin'],
        summary: 'List impersonations',
        description: 'Impersonations across tenants, newest first; `active=true` keeps those whose token still works (for the console’s banner and oversight).',
        security: bearer,
        querystring: ListImpersonationsQuery,
        response: { 200: pageSchema(Type.Ref('Impersonation'), 'One page of impersonations.'), ...impersonationRouteErrors },
      },
    },
    async (request) => listImpersonations(deps, request.query),
  );

  app.post(
    '/',
    {
      // The answer carries an access token: never stored for Idempotency-Key replays, never cached.
      config: { permission: 'platform.impersonate', idempotency: false },
      schema: {
        tags: ['admin'],
        summary: 'Start an impersonation',
        description:
          `Acts as an active member of an active tenant, for a reason and ${IMPERSONATION_DEFAULT_MINUTES} minutes (at most ${IMPERSONATION_MAX_MINUTES}). ` +
          'Answers an access token whose claims name the member (`sub`, `tid`) and the administrator (`act.sub`, RFC 8693); there is no refresh token, so it cannot be extended. ' +
          'The token cannot change passwords, email, two-factor settings, sessions or ownership (403 `auth.impersonation_restricted`), and every audit row written with it names the administrator (`impersonatorId`). ' +
          'Its session carries the administrator’s own two-factor state. Written to the platform’s audit trail and to the tenant’s (`impersonation.started`, with an event). ' +
          'Idempotency-Key is not honoured: the response carries a token.',
        security: bearer,
        body: StartImpersonationBody,
        response: {
          201: { ...StartedImpersonationSchema, description: 'Started; use `accessToken` as the member until `impersonation.expiresAt`.' },
          ...impersonationRouteErrors,
          403: problemResponse(
            '`impersonation.target_not_allowed` (yourself, a platform role holder or a disabled account), `impersonation.forbidden_by_tenant` (the tenant’s `security.allowImpersonation` is false), or `auth.forbidden` (not a platform administrator).',
          ),
          404: problemResponse('`tenant.not_found`: no active tenant has this id; `member.not_found`: the person is not an active member of it.'),
        },
      },
    },
    async (request, reply) => {
      const started = await startImpersonation(deps, adminOf(request.actor), requestOrigin(request), request.body);
      return reply.code(201).header('cache-control', 'no-store').send(started);
    },
  );

  app.delete(
    '/:id',
    {
      config: { permission: 'platform.impersonate' },
      schema: {
        tags: ['admin'],
        summary: 'End an impersonation',
        description:
          'Ends it early: its session is revoked, so its token answers 401 from the next request. Written to both audit trails (`impersonation.ended`). ' +
          'Any platform administrator may end any impersonation; ending one that is already over (ended or expired) answers 204 and changes nothing.',
        security: bearer,
        params: ImpersonationIdParams,
        response: {
          204: Type.Null({ description: 'It is over.' }),
          ...impersonationRouteErrors,
          404: problemResponse('`impersonation.not_found`: no impersonation has this id.'),
        },
      },
    },
    async (request, reply) => {
      await endImpersonation(deps, adminOf(request.actor), requestOrigin(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
}
