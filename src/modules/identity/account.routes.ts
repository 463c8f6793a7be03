/**
 * The email flows under `/api/v1/auth`: forgotten password, email verification, password and email
 * changes. HTTP only — each handler makes one service call.
 *
 * `forgot-password` and `resend-verification` answer the same 202 whether or not the address has an
 * account, and do their work (lookup, token, mail) only after the response is sent, so neither the body
 * nor the timing tells an address with an account from one without. The work is tracked, and the app
 * waits for it when it closes.
 *
 * None of these routes honour Idempotency-Key: they create nothing a retry could duplicate, and their
 * bodies carry passwords and tokens, whose fingerprints must not be stored.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';
import { limitPerIp } from '../../core/http/rate-limit.js';
import { changePassword, requestEmailChange, type MailRequestOutcome } from './account.service.js';
import { EmailSchema, OpaqueTokenSchema, PasswordSchema } from './auth.schemas.js';
import { SELF, signedInPerson } from './authenticate.js';
import type { IdentityDeps } from './deps.js';
import { resendVerificationEmail, verifyEmail } from './email-verification.js';
import { requestPasswordReset, resetPassword } from './password-reset.js';

/** Per client address: enough for a person who mistypes, too few to probe or spam many addresses. */
const MAIL_REQUESTS_PER_IP = { max: 10, timeWindow: '15 minutes' };

export const FORGOT_PASSWORD_MESSAGE = 'If an account uses this address, a link to reset its password is on its way. It is valid for one hour.';
export const RESEND_VERIFICATION_MESSAGE = 'If an account with this address is waiting for verification, a new verification link is on its way.';
export const CHANGE_EMAIL_MESSAGE = 'A confirmation link was sent to the new address; the change takes effect once it is used (within 24 hours).';

const AcceptedSchema = (description: string) =>
  Type.Object({ message: Type.String({ description: 'What happens next, for showing to the person.' }) }, { additionalProperties: false, description });

const NoContent = (description: string) => Type.Null({ description });

const EmailBody = Type.Object({ email: EmailSchema }, { additionalProperties: false });
const ResetPasswordBody = Type.Object(
  { token: { ...OpaqueTokenSchema, description: 'The token of the reset link.' }, password: { ...PasswordSchema, description: 'The new password, 8 to 256 characters.' } },
  { additionalProperties: false },
);
const VerifyEmailBody = Type.Object(
  { token: { ...OpaqueTokenSchema, description: 'The token of a verification link or of an email-change confirmation link.' } },
  { additionalProperties: false },
);
const ChangePasswordBody = Type.Object(
  { currentPassword: PasswordSchema, newPassword: { ...PasswordSchema, description: 'The new password, 8 to 256 characters.' } },
  { additionalProperties: false },
);
const ChangeEmailBody = Type.Object(
  { newEmail: { ...EmailSchema, description: 'The address to move the account to.' }, password: { ...PasswordSchema, description: 'The current password.' } },
  { additionalProperties: false },
);

const tooManyRequests = problemResponse('`rate_limit.exceeded`: too many requests from this client address; see Retry-After.');
const tooManyAttempts = problemResponse('`auth.too_many_attempts`: too many failed checks (per account and per client address); see Retry-After.');
const hashingBusy = problemResponse('`service.unavailable`: too many password checks are running; retry shortly (Retry-After).');
const unauthenticated = problemResponse('`auth.unauthenticated` (no valid access token) or `auth.invalid_credentials` (wrong current password).');

/** Runs mail work after the response is sent; `settle()` waits for whatever is still running. */
function createAfterResponseWork() {
  const pending = new Set<Promise<void>>();
  return {
    run(log: FastifyBaseLogger, name: string, work: () => Promise<MailRequestOutcome>): void {
      const task: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
        .then(work)
        .then(
          (outcome) => log.debug({ outcome }, `${name} handled`),
          (error: unknown) => log.error({ err: error }, `${name} failed`),
        )
        .finally(() => pending.delete(task));
      pending.add(task);
    },
    async settle(): Promise<void> {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}

const afterResponseWork = new WeakMap<IdentityDeps, ReturnType<typeof createAfterResponseWork>>();

/**
 * Resolves once the mail work started by forgot-password and resend-verification has finished (tests:
 * the 202 comes before the token exists).
 */
export async function settleAccountMailWork(deps: IdentityDeps): Promise<void> {
  await afterResponseWork.get(deps)?.settle();
}


export async function accountRoutes(app: FastifyInstance, options: { deps: IdentityDeps }) {
  const { deps } = options;
  const work = createAfterResponseWork();
  afterResponseWork.set(deps, work);
  app.addHook('onClose', () => work.settle());

  app.post<{ Body: Static<typeof EmailBody> }>(
    '/forgot-password',
    {
      config: { public: true, idempotency: false, rateLimit: limitPerIp(MAIL_REQUESTS_PER_IP) },
      schema: {
        tags: ['auth'],
        summary: 'Ask for a password reset link',
        description:
          'Mails a single-use link (valid 1 hour) to the account with this address, if there is an active one. The answer is the same 202 ' +
          'whether or not it exists. Limited per client address, and to a few mails per hour per address.',
        body: EmailBody,
        response: { 202: AcceptedSchema('Accepted (whether or not the address has an account).'), ...standardErrors, 429: tooManyRequests },
      },
    },
    async (request, reply) => {
      const { email } = request.body;
      work.run(request.log, 'password reset request', () => requestPasswordReset(deps, email));
      return reply.code(202).send({ message: FORGOT_PASSWORD_MESSAGE });
    },
  );

  app.post<{ Body: Static<typeof ResetPasswordBody> }>(
    '/reset-password',
    {
      config: { public: true, idempotency: false },
      schema: {
        tags: ['auth'],
        summary: 'Set a new password with a reset link',
        description:
          'Spends the token of a reset link (single-use, 1 hour) on a new password. Every session of the account is signed out; ' +
          'MFA stays enabled and is asked for at the next sign-in; the address is marked verified; a notice is mailed. ' +
          'Failed token checks count against the client address.',
        body: ResetPasswordBody,
        response: {
          204: NoContent('Password changed; every session was signed out.'),
          ...standardErrors,
          400: problemResponse('`auth.invalid_token` (unknown, used or expired), `auth.weak_password` (the link stays usable), or an invalid body.'),
          429: tooManyAttempts,
          503: hashingBusy,
        },
      },
    },
    async (request, reply) => {
      await resetPassword(deps, request.body, request.ip);
      return reply.code(204).send();
    },
  );

  app.post<{ Body: Static<typeof VerifyEmailBody> }>(
    '/verify-email',
    {
      config: { public: true, idempotency: false },
      schema: {
        tags: ['auth'],
        summary: 'Verify an email address',
        description:
          'Spends the token of a verification link (marks the address verified) or of an email-change confirmation link (moves the ' +
          'account to the new address, verified; signs out every other session than the one that asked for the change; tells the old ' +
          'address). Failed token checks count against the client address.',
        body: VerifyEmailBody,
        response: {
          204: NoContent('The address is verified (and, for an email change, now the account’s address).'),
          ...standardErrors,
          400: problemResponse('`auth.invalid_token`: unknown, used or expired, or mailed to an address the account no longer has.'),
          409: problemResponse('`auth.email_taken`: another account took the new address meanwhile; nothing changed.'),
          429: tooManyAttempts,
        },
      },
    },
    async (request, reply) => {
      await verifyEmail(deps, request.body.token, request.ip);
      return reply.code(204).send();
    },
  );

  app.post<{ Body: Static<typeof EmailBody> }>(
    '/resend-verification',
    {
      config: { public: true, idempotency: false, rateLimit: limitPerIp(MAIL_REQUESTS_PER_IP) },
      schema: {
        tags: ['auth'],
        summary: 'Send the verification link again',
        description:
          'Mails a new verification link (valid 48 hours; earlier ones stop working) to the account with this address, if it is active ' +
          'and not yet verified. The answer is the same 202 either way. Limited per client address, and to a few mails per hour per address.',
        body: EmailBody,
        response: { 202: AcceptedSchema('Accepted (whether or not a mail is sent).'), ...standardErrors, 429: tooManyRequests },
      },
    },
    async (request, reply) => {
      const { email } = request.body;
      work.run(request.log, 'verification resend', () => resendVerificationEmail(deps, email));
      return reply.code(202).send({ message: RESEND_VERIFICATION_MESSAGE });
    },
  );

  app.post<{ Body: Static<typeof ChangePasswordBody> }>(
    '/change-password',
    {
      config: { permission: SELF, idempotency: false, notWhileImpersonating: true },
      schema: {
        tags: ['auth'],
        summary: 'Change the password',
        description:
          'Checks the current password (through the brute-force guard), applies the password policy to the new one, signs out every ' +
          'other session (this one stays signed in) and mails a notice.',
        security: [{ bearerAuth: [] }],
        body: ChangePasswordBody,
        response: {
          204: NoContent('Password changed; the other sessions were signed out.'),
          ...standardErrors,
          400: problemResponse('`auth.weak_password` (field `/newPassword`) or an invalid body.'),
          401: unauthenticated,
          429: tooManyAttempts,
          503: hashingBusy,
        },
      },
    },
    async (request, reply) => {
      await changePassword(deps, signedInPerson(request.actor), request.body, request.ip);
      return reply.code(204).send();
    },
  );

  app.post<{ Body: Static<typeof ChangeEmailBody> }>(
    '/change-email',
    {
      config: { permission: SELF, idempotency: false, notWhileImpersonating: true },
      schema: {
        tags: ['auth'],
        summary: 'Change the email address',
        description:
          'After the current password, mails a confirmation link (valid 24 hours) to the new address and a notice to the current one. ' +
          'The account keeps its address until the link is used with POST /api/v1/auth/verify-email.',
        security: [{ bearerAuth: [] }],
        body: ChangeEmailBody,
        response: {
          202: AcceptedSchema('Confirmation mailed to the new address.'),
          ...standardErrors,
          400: problemResponse('`auth.email_unchanged` (the new address is the current one) or an invalid body.'),
          401: unauthenticated,
          409: problemResponse('`auth.email_taken`: another account uses that address.'),
          429: problemResponse('`auth.too_many_attempts` (too many wrong passwords) or `rate_limit.exceeded` (too many confirmations mailed to that address); see Retry-After.'),
          503: hashingBusy,
        },
      },
    },
    async (request, reply) => {
      await requestEmailChange(deps, signedInPerson(request.actor), request.body, request.ip);
      return reply.code(202).send({ message: CHANGE_EMAIL_MESSAGE });
    },
  );
}
