/**
 * MFA management for the signed-in person (`/api/v1/auth/mfa/...`): TOTP setup, enable, disable, and a
 * new set of recovery codes. The sign-in half (`POST /mfa/verify`) lives with login. Use-cases are in
 * mfa.service.ts; answers that carry a secret are sent with `Cache-Control: no-store`.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';
import { PasswordSchema, TotpCodeSchema } from './auth.schemas.js';
import { SELF, signedInPerson } from './authenticate.js';
import type { IdentityDeps } from './deps.js';
import { disableTotp, enableTotp, regenerateRecoveryCodes, startTotpSetup, type MfaCaller } from './mfa.service.js';
import { RECOVERY_CODE_COUNT } from './recovery-codes.js';

const TotpSetupSchema = Type.Object(
  {
    secret: Type.String({ description: 'The new secret, base32 (for typing into an authenticator app by hand).' }),
    otpauthUrl: Type.String({ description: 'The `otpauth://totp/…` Key URI, to show as a QR code.' }),
  },
  { description: 'A pending TOTP secret: not used at sign-in until confirmed at POST /mfa/totp/enable.' },
);

const RecoveryCodesSchema = Type.Object(
  {
    recoveryCodes: Type.Array(Type.String({ description: '`XXXX-XXXX-XXXX`' }), {
      minItems: RECOVERY_CODE_COUNT,
      maxItems: RECOVERY_CODE_COUNT,
      description: 'Single-use codes that stand in for the authenticator. Shown this once (only their hashes are kept); any earlier set stops working.',
    }),
  },
  { description: 'A new set of recovery codes.' },
);

const SecondFactorCodeSchema = Type.String({
  minLength: 6,
  maxLength: 32,
  description: 'A six-digit code from the authenticator app, or one of the unused recovery codes.',
});

const EnableBody = Type.Object({ code: TotpCodeSchema }, { additionalProperties: false });
const DisableBody = Type.Object({ password: PasswordSchema, code: SecondFactorCodeSchema }, { additionalProperties: false });
const RecoveryCodesBody = Type.Object({ password: PasswordSchema }, { additionalProperties: false });

const unauthenticated = problemResponse('No valid credential (`auth.unauthenticated`).');
const passwordUnavailable = problemResponse('Too many password checks in progress (`service.unavailable`); retry after Retry-After.');
const security = [{ bearerAuth: [] }];

/** Secrets (the TOTP secret, recovery codes) must not be kept by any cache (RFC 9111 §5.2.2.5). */
const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store');

/** The person behind a `self` route (an API key has no MFA: 403), and where they call from. */
const callerOf = (request: FastifyRequest): MfaCaller => ({ ...signedInPerson(request.actor), ip: request.ip });

export async function mfaRoutes(untyped: FastifyInstance, options: { deps: IdentityDeps }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { deps } = options;

  app.post(
    '/mfa/totp/setup',
    {
      // The answer carries the secret: it must not be stored for Idempotency-Key replays.
      config: { permission: SELF, idempotency: false, notWhileImpersonating: true },
      schema: {
        tags: ['auth'],
        summary: 'Start TOTP setup',
        description:
          'Generates a TOTP secret (RFC 6238: SHA-1, 6 digits, 30 s) and its `otpauth://` URI. The secret is pending until a code from it is confirmed at POST /mfa/totp/enable; calling this again replaces a pending secret.',
        security,
        response: {
          200: TotpSetupSchema,
          ...standardErrors,
          401: unauthenticated,
          409: problemResponse('Two-factor authentication is already enabled (`auth.mfa_already_enabled`).'),
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      return startTotpSetup(deps, callerOf(request));
    },
  );

  app.post(
    '/mfa/totp/enable',
    {
      config: { permission: SELF, idempotency: false, notWhileImpersonating: true },
      schema: {
        tags: ['auth'],
        summary: 'Enable TOTP',
        description:
          'Confirms the pending secret with a current code and turns two-factor authentication on. Answers the 10 recovery codes, shown this once. Ends the person’s other sessions.',
        security,
        body: EnableBody,
        response: {
          200: RecoveryCodesSchema,
          ...standardErrors,
          401: problemResponse('No valid credential (`auth.unauthenticated`), or the code is wrong, expired or already used (`auth.invalid_mfa_code`).'),
          409: problemResponse('Already enabled (`auth.mfa_already_enabled`), or no setup was started (`auth.mfa_setup_required`).'),
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      return enableTotp(deps, callerOf(request), request.body.code);
    },
  );

  app.post(
    '/mfa/totp/disable',
    {
      config: { permission: SELF, notWhileImpersonating: true },
      schema: {
        tags: ['auth'],
        summary: 'Disable TOTP',
        description:
          'Turns two-factor authentication off. Needs the password and a current TOTP code or an unused recovery code. Removes the secret and the recovery codes, and ends the person’s other sessions.',
        security,
        body: DisableBody,
        response: {
          204: Type.Null({ description: 'Two-factor authentication is off.' }),
          ...standardErrors,
          401: problemResponse('No valid credential (`auth.unauthenticated`), a wrong password (`auth.invalid_credentials`), or a wrong or used code (`auth.invalid_mfa_code`).'),
          409: problemResponse('Two-factor authentication is not enabled (`auth.mfa_not_enabled`).'),
          503: passwordUnavailable,
        },
      },
    },
    async (request, reply) => {
      await disableTotp(deps, callerOf(request), request.body);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/mfa/recovery-codes',
    {
      config: { permission: SELF, idempotency: false, notWhileImpersonating: true },
      schema: {
        tags: ['auth'],
        summary: 'New recovery codes',
        description: 'Replaces the recovery codes with 10 new ones (shown this once); the previous set stops working. Needs the password.',
        security,
        body: RecoveryCodesBody,
        response: {
          200: RecoveryCodesSchema,
          ...standardErrors,
          401: problemResponse('No valid credential (`auth.unauthenticated`), or a wrong password (`auth.invalid_credentials`).'),
          409: problemResponse('Two-factor authentication is not enabled (`auth.mfa_not_enabled`).'),
          503: passwordUnavailable,
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      return regenerateRecoveryCodes(deps, callerOf(request), request.body);
    },
  );
}
