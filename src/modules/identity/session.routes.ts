/**
 * Sessions and tokens under `/api/v1/auth`: refresh, logout, logout everywhere, the session list and its
 * revocation, and switching tenant. HTTP only; the use-cases are in session.service.ts.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { requestOrigin } from '../../core/audit/audit.js';
import { limitPerIp } from '../../core/http/rate-limit.js';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';
import { OpaqueTokenSchema } from './auth.schemas.js';
import { SELF, signedInPerson } from './authenticate.js';
import type { IdentityDeps } from './deps.js';
import { listOwnSessions, logout, logoutEverywhere, refreshSession, revokeOwnSession, switchTenant } from './session.service.js';

/**
 * Refreshes per client address per minute. A client refreshes about once per access-token lifetime, so
 * this only bites scripted abuse (each attempt costs a database write); many users behind one NAT
 * still fit comfortably.
 */
export const REFRESH_PER_IP_PER_MINUTE = 60;

const SessionSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    createdAt: Type.String({ format: 'date-time', description: 'When the person signed in on this device.' }),
    lastUsedAt: Type.String({ format: 'date-time', description: 'The last sign-in, refresh or tenant switch.' }),
    ip: Type.Union([Type.String(), Type.Null()], { description: 'Client address at sign-in.' }),
    userAgent: Type.Union([Type.String(), Type.Null()], { description: 'User agent at sign-in.' }),
    current: Type.Boolean({ description: 'Whether this is the session of the token making the request.' }),
  },
  { $id: 'Session', description: 'A live sign-in on one device.' },
);

const unauthenticated = problemResponse('Missing, invalid or expired access token, or the session has ended (`auth.unauthenticated`).');
const forbidden = problemResponse('The credential is not a person’s session, e.g. an API key (`auth.forbidden`).');
const noContent = (description: string) => Type.Null({ description });
const bearer = [{ bearerAuth: [] }];

export async function sessionRoutes(untyped: FastifyInstance, options: { deps: IdentityDeps }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { deps } = options;
  app.addSchema(SessionSchema);

  app.post(
    '/refresh',
    {
      // Responses carry fresh secrets: never stored for Idempotency-Key replays.
      config: { public: true, idempotency: false, rateLimit: limitPerIp({ max: REFRESH_PER_IP_PER_MINUTE, timeWindow: '1 minute' }) },
      schema: {
        tags: ['auth'],
        summary: 'Refresh the token pair',
        description:
          'Exchanges a refresh token for a new access token and refresh token. Refresh tokens are single-use: presenting one that was already used revokes its whole session (`auth.refresh_token_reused`). Each refresh extends the session up to its absolute maximum age.',
        body: Type.Object({ refreshToken: OpaqueTokenSchema }, { additionalProperties: false }),
        response: {
          200: { ...Type.Ref('TokenPair'), description: 'The new pair; the presented refresh token is spent.' },
          ...standardErrors,
          401: problemResponse('Unknown, expired or revoked refresh token (`auth.invalid_refresh_token`), or a reused one (`auth.refresh_token_reused`, the session is now revoked).'),
        },
      },
    },
    async (request) => refreshSession(deps, request.body.refreshToken),
  );

  app.post(
    '/logout',
    {
      // Logging out neither creates nor charges, and repeating it is harmless: no Idempotency-Key storage.
      // An impersonation ends through DELETE /api/v1/admin/impersonations/:id, audited in both trails.
      config: { permission: SELF, idempotency: false, notWhileImpersonating: true },
      schema: {
        tags: ['auth'],
        summary: 'Sign out (this session)',
        description: 'Ends the session of the access token; its access and refresh tokens stop working at once.',
        security: bearer,
        response: { 204: noContent('The session has ended.'), ...standardErrors, 401: unauthenticated, 403: forbidden },
      },
    },
    async (request, reply) => {
      await logout(deps, signedInPerson(request.actor), requestOrigin(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/logout-all',
    {
      config: { permission: SELF, idempotency: false, notWhileImpersonating: true },
      schema: {
        tags: ['auth'],
        summary: 'Sign out everywhere',
        description: 'Ends every session of the signed-in person, this one included.',
        security: bearer,
        response: { 204: noContent('Every session has ended.'), ...standardErrors, 401: unauthenticated, 403: forbidden },
      },
    },
    async (request, reply) => {
      await logoutEverywhere(deps, signedInPerson(request.actor), requestOrigin(request));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/sessions',
    {
      config: { permission: SELF },
      schema: {
        tags: ['auth'],
        summary: 'List my sessions',
        description: 'The signed-in person’s live sessions, most recently used first; `current` marks the one making the request.',
        security: bearer,
        response: {
          200: Type.Object({ data: Type.Array(Type.Ref('Session')) }, { description: 'The live sessions.' }),
          ...standardErrors,
          401: unauthenticated,
          403: forbidden,
        },
      },
    },
    async (request) => ({ data: await listOwnSessions(deps, signedInPerson(request.actor)) }),
  );

  app.delete(
    '/sessions/:id',
    {
      config: { permission: SELF, notWhileImpersonating: true },
      schema: {
        tags: ['auth'],
        summary: 'Revoke one of my sessions',
        description: 'Ends a session of the signed-in person (e.g. a lost device); its access and refresh tokens stop working at once.',
        security: bearer,
        params: Type.Object({ id: Type.String({ format: 'uuid', description: 'Session id (from GET /sessions).' }) }),
        response: {
          204: noContent('The session has ended.'),
          ...standardErrors,
          401: unauthenticated,
          403: forbidden,
          404: problemResponse('No live session of yours has this id (`resource.not_found`).'),
        },
      },
    },
    async (request, reply) => {
      await revokeOwnSession(deps, signedInPerson(request.actor), request.params.id, requestOrigin(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/switch-tenant',
    {
      // The response carries a fresh refresh token: never stored for Idempotency-Key replays.
      config: { permission: SELF, idempotency: false, notWhileImpersonating: true },
      schema: {
        tags: ['auth'],
        summary: 'Switch tenant',
        description:
          'Moves this session to another tenant the person is an active member of and returns a token pair acting there (the previous refresh token stops working). The tenant becomes the default at the next sign-in.',
        security: bearer,
        body: Type.Object({ tenantId: Type.String({ format: 'uuid' }) }, { additionalProperties: false }),
        response: {
          200: { ...Type.Ref('LoginResponse'), description: 'Tokens acting in the chosen tenant.' },
          ...standardErrors,
          401: unauthenticated,
          403: forbidden,
          404: problemResponse('Not an active member of an active tenant with this id (`tenant.not_found`).'),
        },
      },
    },
    async (request) => switchTenant(deps, signedInPerson(request.actor), request.body.tenantId, requestOrigin(request)),
  );
}
