/**
 * `/api/v1/users/me`: the signed-in person about themselves — their view, profile changes, their tenants,
 * deleting their account. Permission `self`: any signed-in person, whatever their standing in the tenant
 * the token names. HTTP only; the use-cases are in profile.service.ts.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { requestOrigin } from '../../core/audit/audit.js';
import { pageSchema } from '../../core/http/pagination.js';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';
import { SELF, signedInPerson } from '../identity/index.js';
import type { OrganizationDeps } from './deps.js';
import { DeleteAccountBody, OwnTenantsQuery, ProfileChangeSchema, type ProfileChange } from './members.schemas.js';
import { deleteOwnAccount, describeMe, listMyTenants, updateOwnProfile } from './profile.service.js';

const bearer = [{ bearerAuth: [] }];
const unauthenticated = problemResponse('Missing, invalid or expired access token, or the session has ended (`auth.unauthenticated`).');
const forbidden = problemResponse('The credential is not a person’s session, e.g. an API key (`auth.forbidden`).');
const me = (description: string) => ({ ...Type.Ref('Me'), description });

export async function profileRoutes(untyped: FastifyInstance, options: { deps: OrganizationDeps }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { deps } = options;

  app.get(
    '/me',
    {
      config: { permission: SELF },
      schema: {
        tags: ['users'],
        summary: 'The signed-in person',
        description:
          'The person behind the access token with their profile, the tenant the token acts in, their membership and built-in tenant role there, and their ' +
          'two-factor state. `tenant` and `membership` are null when the token acts in no tenant or its access there was revoked. Served from the authentication statement alone: ' +
          'store and custom roles and the effective permissions are at GET /api/v1/users/me/permissions (`?storeId=` for a store).',
        security: bearer,
        response: { 200: me('The signed-in person.'), ...standardErrors, 401: unauthenticated, 403: forbidden },
      },
    },
    async (request) => {
      signedInPerson(request.actor);
      return describeMe(request.signedIn, request.actor);
    },
  );

  const changeProfile = {
    config: { permission: SELF },
    schema: {
      tags: ['users'],
      summary: 'Change the signed-in person’s profile',
      description:
        'Changes the name, locale (BCP 47, stored canonicalised), time zone (IANA) or phone (E.164); null clears locale, time zone or phone, ' +
        'and omitted fields stay as they are. PUT takes the same body. Answers the person’s view as it now is.',
      security: bearer,
      body: ProfileChangeSchema,
      response: {
        200: me('The signed-in person, changed.'),
        ...standardErrors,
        400: problemResponse('Invalid body, unknown time zone or malformed locale (`request.validation_failed`, naming each field).'),
        401: unauthenticated,
        403: forbidden,
      },
    },
  } as const;
  const handleProfileChange = async (request: FastifyRequest<{ Body: ProfileChange }>) =>
    updateOwnProfile(deps, signedInPerson(request.actor), request.signedIn, request.actor, request.body, requestOrigin(request));
  app.patch('/me', changeProfile, handleProfileChange);
  app.put('/me', changeProfile, handleProfileChange);

  app.get(
    '/me/tenants',
    {
      config: { permission: SELF },
      schema: {
        tags: ['users'],
        summary: 'The signed-in person’s tenants',
        description:
          'Every membership of the person, with the tenant’s name, slug and status, by tenant name; `current` marks the tenant the token acts ' +
          'in. Includes deactivated memberships and suspended or closed tenants (switch only to active ones: POST /api/v1/auth/switch-tenant).',
        security: bearer,
        querystring: OwnTenantsQuery,
        response: { 200: pageSchema(Type.Ref('OwnTenant'), 'One page of the person’s memberships.'), ...standardErrors, 401: unauthenticated, 403: forbidden },
      },
    },
    async (request) => listMyTenants(deps, signedInPerson(request.actor), request.query),
  );

  app.delete(
    '/me',
    {
      config: { permission: SELF, notWhileImpersonating: true },
      schema: {
        tags: ['users'],
        summary: 'Delete the signed-in person’s account',
        description:
          'Deletes the account after checking the password: sessions, memberships and store assignments go with it. Refused while the person ' +
          'owns a tenant that has other members (transfer the ownership first); a tenant they own alone is closed. Wrong passwords count ' +
          'against the brute-force limits.',
        security: bearer,
        body: DeleteAccountBody,
        response: {
          204: Type.Null({ description: 'The account is deleted.' }),
          ...standardErrors,
          401: problemResponse('`auth.unauthenticated` (no valid access token) or `auth.invalid_credentials` (wrong password).'),
          403: forbidden,
          409: problemResponse('`member.sole_owner`: the person owns tenants with other members (listed in `tenants`).'),
          429: problemResponse('`auth.too_many_attempts`: too many wrong passwords; see Retry-After.'),
          503: problemResponse('`service.unavailable`: too many password checks are running; retry shortly (Retry-After).'),
        },
      },
    },
    async (request, reply) => {
      await deleteOwnAccount(deps, signedInPerson(request.actor), request.body.password, requestOrigin(request));
      return reply.code(204).send(null);
    },
  );
}
