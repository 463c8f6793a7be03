/**
 * `/api/v1/users`: the signed-in person (`GET /me`). Minimal here; the organization issue extends it.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';
import { SELF, signedInPerson } from './authenticate.js';
import type { IdentityDeps } from './deps.js';
import { describeMe } from './session.service.js';

const MeSchema = Type.Object(
  {
    user: Type.Ref('User'),
    tenant: Type.Union([Type.Ref('Tenant'), Type.Null()], { description: 'The tenant the token acts in; null when it acts in none (or access to it was revoked).' }),
    membership: Type.Union(
      [
        Type.Object({
          role: Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]),
          status: Type.Union([Type.Literal('active'), Type.Literal('deactivated')]),
        }),
        Type.Null(),
      ],
      { description: 'The person’s membership in `tenant`.' },
    ),
  },
  { $id: 'Me', description: 'The signed-in person and where they act.' },
);

export async function usersRoutes(untyped: FastifyInstance, _options: { deps: IdentityDeps }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(MeSchema);

  app.get(
    '/me',
    {
      config: { permission: SELF },
      schema: {
        tags: ['users'],
        summary: 'The signed-in person',
        description: 'The person behind the access token, the tenant it acts in and their membership there.',
        security: [{ bearerAuth: [] }],
        response: {
          200: { ...Type.Ref('Me'), description: 'The signed-in person.' },
          ...standardErrors,
          401: problemResponse('Missing, invalid or expired access token, or the session has ended (`auth.unauthenticated`).'),
          403: problemResponse('The credential is not a person’s session, e.g. an API key (`auth.forbidden`).'),
        },
      },
    },
    async (request) => {
      signedInPerson(request.actor);
      return describeMe(request.signedIn);
    },
  );
}
