/**
 * `POST /register`, `POST /login`, `POST /mfa/verify` under /api/v1/auth: HTTP only; the use-cases are in
 * login.service.ts. Their responses carry tokens, so they are never cached (`Cache-Control: no-store`,
 * RFC 6749 §5.1) and never stored for Idempotency-Key replay.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type, type Static } from 'typebox';
import { requestOrigin } from '../../core/audit/audit.js';
import { limitPerIp } from '../../core/http/rate-limit.js';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';
import { EmailSchema, OpaqueTokenSchema, PasswordSchema, PersonNameSchema, RecoveryCodeSchema, TotpCodeSchema } from './auth.schemas.js';
import type { IdentityDeps } from './deps.js';
import { loginWithPassword, registerAccount, verifyMfaLogin } from './login.service.js';

/** Sign-ups per client address per hour (the issue: registration is rate limited per IP). */
export const REGISTER_LIMIT_PER_HOUR = 10;

const RegisterBody = Type.Object(
  {
    email: EmailSchema,
    password: PasswordSchema,
    name: PersonNameSchema,
    tenantName: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "Name of the first tenant. Default: \"<name>'s workspace\"." })),
  },
  { additionalProperties: false },
);

const LoginBody = Type.Object(
  {
    email: EmailSchema,
    password: PasswordSchema,
    tenantId: Type.Optional(Type.String({ format: 'uuid', description: 'The tenant to act in (an active membership). Default: the last used, else the newest.' })),
  },
  { additionalProperties: false },
);

const MfaVerifyBody = Type.Union(
  [
    Type.Object({ mfaToken: OpaqueTokenSchema, code: TotpCodeSchema }, { additionalProperties: false, title: 'With a TOTP code' }),
    Type.Object({ mfaToken: OpaqueTokenSchema, recoveryCode: RecoveryCodeSchema }, { additionalProperties: false, title: 'With a recovery code' }),
  ],
  { description: 'The `mfaToken` from POST /login with exactly one of `code` and `recoveryCode`.' },
);

const overloaded = problemResponse('`service.unavailable`: too many password checks in progress; retry after Retry-After.');

/** Token-bearing answers must not be kept by any cache. */
const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store');

export async function loginRoutes(app: FastifyInstance, options: { deps: IdentityDeps }) {
  // The same object as `app.identity`; its members are read at each call, so tests can swap in
  // instrumented collaborators (a counting hasher, an attempt guard with recorded delays).
  const { deps } = options;

  app.post<{ Body: Static<typeof RegisterBody> }>(
    '/register',
    {
      config: { public: true, idempotency: false, rateLimit: limitPerIp({ max: REGISTER_LIMIT_PER_HOUR, timeWindow: '1 hour' }) },
      schema: {
        tags: ['auth'],
        summary: 'Register',
        description:
          'Creates a person, their first tenant (named `tenantName`, else "<name>\'s workspace") with them as owner, and signs them in. ' +
          'A verification link is emailed. An address already registered (in any capitalisation) answers 409 `auth.email_taken`: ' +
          `a documented trade-off, limited by ${REGISTER_LIMIT_PER_HOUR} registrations per client address per hour. ` +
          'The password must be 8 to 256 characters, not among the 10,000 most common, and not contain the email\'s local part (400 `auth.weak_password`). ' +
          'Idempotency-Key is not honoured: the response carries tokens, which are never stored; a retry answers 409.',
        body: RegisterBody,
        response: {
          201: { ...Type.Ref('LoginResponse'), description: 'Registered and signed in; the tokens act in the new tenant.' },
          ...standardErrors,
          409: problemResponse('`auth.email_taken`: an account with this email address exists.'),
          503: overloaded,
        },
      },
    },
    async (request, reply) => {
      const response = await registerAccount(deps, request.body, requestOrigin(request));
      noStore(reply).code(201);
      return response;
    },
  );

  app.post<{ Body: Static<typeof LoginBody> }>(
    '/login',
    {
      config: { public: true, idempotency: false },
      schema: {
        tags: ['auth'],
        summary: 'Sign in with email and password',
        description:
          'Answers the login response, or `{ mfaRequired: true, mfaToken }` when the person has MFA (complete it at POST /mfa/verify within 5 minutes). ' +
          'A wrong email and a wrong password give the same 401 `auth.invalid_credentials`, after the same work. ' +
          'Failed attempts are limited per account and per client address (progressive delays, then 429 `auth.too_many_attempts` with Retry-After), ' +
          'unknown accounts alike. With AUTH_REQUIRE_VERIFIED_EMAIL, an unverified address answers 403 `auth.email_not_verified` (only after the right password).',
        body: LoginBody,
        response: {
          200: Type.Union([Type.Ref('LoginResponse'), Type.Ref('MfaChallenge')], { description: 'Signed in, or the MFA challenge.' }),
          ...standardErrors,
          401: problemResponse('`auth.invalid_credentials`: the email address or the password is wrong (or the account is disabled).'),
          403: problemResponse('`auth.email_not_verified`: the address must be verified first.'),
          404: problemResponse('`tenant.not_found`: the person is not an active member of `tenantId`.'),
          503: overloaded,
        },
      },
    },
    async (request, reply) => {
      const response = await loginWithPassword(deps, request.body, requestOrigin(request));
      noStore(reply);
      return response;
    },
  );

  app.post<{ Body: Static<typeof MfaVerifyBody> }>(
    '/mfa/verify',
    {
      config: { public: true, idempotency: false },
      schema: {
        tags: ['auth'],
        summary: 'Complete a sign-in with a second factor',
        description:
          'Exchanges the `mfaToken` from POST /login and a TOTP code (or an unused recovery code) for the login response; the session is marked MFA-verified. ' +
          'A wrong or already used code answers 401 `auth.invalid_mfa_code` and the token stays usable until it expires; failures are limited per account ' +
          '(429 `auth.too_many_attempts`). An unknown, used or expired token answers 401 `auth.invalid_mfa_token`.',
        body: MfaVerifyBody,
        response: {
          200: { ...Type.Ref('LoginResponse'), description: 'Signed in.' },
          ...standardErrors,
          401: problemResponse('`auth.invalid_mfa_code` (wrong or reused code) or `auth.invalid_mfa_token` (sign in again).'),
          404: problemResponse('`tenant.not_found`: the person is not an active member of the tenant asked for at login.'),
        },
      },
    },
    async (request, reply) => {
      const response = await verifyMfaLogin(deps, request.body, requestOrigin(request));
      noStore(reply);
      return response;
    },
  );
}
