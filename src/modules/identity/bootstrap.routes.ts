/** `POST /api/v1/auth/bootstrap`: the first platform administrator of a fresh deployment. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';
import { EmailSchema, PasswordSchema, PersonNameSchema } from './auth.schemas.js';
import { assertBootstrapToken, createFirstAdministrator } from './bootstrap.service.js';
import type { IdentityDeps } from './deps.js';
import { signIn } from './sign-in.js';

const BootstrapBody = Type.Object({ email: EmailSchema, password: PasswordSchema, name: PersonNameSchema }, { additionalProperties: false });

const BootstrapHeaders = Type.Object({
  'x-bootstrap-token': Type.Optional(Type.String({ maxLength: 1024, description: 'Required when the deployment sets BOOTSTRAP_TOKEN.' })),
});

export async function bootstrapRoutes(untyped: FastifyInstance, options: { deps: IdentityDeps }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { deps } = options;

  app.post(
    '/bootstrap',
    {
      // Public: no one can sign in before the first administrator exists. The answer carries tokens, so
      // it is never stored for Idempotency-Key replays (a retry gets 409 auth.already_bootstrapped).
      config: { public: true, idempotency: false },
      schema: {
        tags: ['auth'],
        summary: 'Create the first platform administrator',
        description:
          'Creates the first platform administrator (email verified) and signs them in. Open only while no platform administrator exists; when BOOTSTRAP_TOKEN is configured, the `X-Bootstrap-Token` header must carry it. `atrium bootstrap` does the same from the command line.',
        headers: BootstrapHeaders,
        body: BootstrapBody,
        response: {
          201: { ...Type.Ref('LoginResponse'), description: 'The administrator, signed in (no tenant yet).' },
          ...standardErrors,
          400: problemResponse('Invalid body (`request.validation_failed`) or a password the policy refuses (`auth.weak_password`).'),
          401: problemResponse('BOOTSTRAP_TOKEN is configured and `X-Bootstrap-Token` is missing or wrong (`auth.invalid_bootstrap_token`).'),
          409: problemResponse('A platform administrator already exists (`auth.already_bootstrapped`), or the email is registered (`auth.email_taken`).'),
          503: problemResponse('Too many password hashes in progress (`service.unavailable`); retry after Retry-After.'),
        },
      },
    },
    async (request, reply) => {
      await assertBootstrapToken(deps, deps.config.auth.bootstrapToken, request.headers['x-bootstrap-token'], request.ip);
      const userAgent = request.headers['user-agent'] ?? null;
      const { result } = await createFirstAdministrator({ db: deps.platform.db, passwords: deps.passwords }, request.body, (tx, userId) =>
        signIn(tx, deps, { userId, mfaVerified: false, ip: request.ip, userAgent }),
      );
      // Tokens: never kept by a cache (RFC 6749 §5.1).
      return reply.code(201).header('cache-control', 'no-store').send(result);
    },
  );
}
