/**
 * The identity module's public face: sign-up, sign-in, sessions and tokens, MFA, the email flows, the
 * first platform administrator, and the authentication hook that turns a bearer token into
 * `request.actor` for every other module.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import { accountRoutes } from './account.routes.js';
import { createAttemptGuard } from './attempts.js';
import { identitySchemas } from './auth.schemas.js';
import { authenticatePlugin } from './authenticate.js';
import { bootstrapRoutes } from './bootstrap.routes.js';
import type { IdentityDeps } from './deps.js';
import { jwksRoutes } from './jwks.routes.js';
import { loginRoutes } from './login.routes.js';
import { mfaRoutes } from './mfa.routes.js';
import { createPasswordHasher } from './passwords.js';
import { sessionRoutes } from './session.routes.js';
import { createKeyRing, deriveKeyEncryptionKey, KEY_REFRESH_INTERVAL_MS, type KeyRing } from './signing-keys.js';
import { createAccessTokens, longestTokenLifetimeSeconds, type AccessTokens } from './tokens.js';

export type { KeyRing } from './signing-keys.js';
export type { AccessTokens } from './tokens.js';
export type { IdentityDeps } from './deps.js';
export { SELF } from './authenticate.js';
// For the organization module: the signed-in person (GET /users/me), password checks (DELETE /users/me,
// members created with a password) and the mailed link through which a new member sets their password.
export { signedInPerson, type SignedInPerson, type SignedInView } from './authenticate.js';
export { assertCurrentPassword } from './account.service.js';
// For tenants created through POST /api/v1/tenants: the same slugs as register derives.
export { tenantSlugCandidates } from './login.service.js';
export { assertPasswordAcceptable } from './passwords.js';
export { issueOneTimeToken } from './one-time-tokens.js';
export { authLink } from './auth-mails.js';
export { EmailSchema, PasswordSchema, PersonNameSchema, UserSchema, type TenantView, type UserView } from './auth.schemas.js';
// For invitations (organization module): emailed tokens, and accept-invite, which signs the invitee in
// (an existing account proves itself with a bearer token or its password).
export { generateSecretToken, hashSecretToken } from './secrets.js';
export { signIn } from './sign-in.js';
export { bearerToken } from './authenticate.js';
export { normalizeEmail, OpaqueTokenSchema, type LoginResponse } from './auth.schemas.js';
// For platform administration: ending every session of a person it disables.
export { sessions } from './identity.table.js';
// For governed impersonation (platform administration): its session, and revoking it when it ends early.
export { createImpersonationSession, revokeSession } from './sessions.js';

declare module 'fastify' {
  interface FastifyInstance {
    keyRing: KeyRing;
    accessTokens: AccessTokens;
    identity: IdentityDeps;
  }
}

export const AUTH_PREFIX = '/api/v1/auth';

/** Loads (or, on first start, creates) the signing key, authenticates every request, serves the routes. */
export const identityModule = fp(async function identity(app: FastifyInstance, options: { config: Config }) {
  const { config } = options;
  const { auth } = config;
  // Re-read periodically, so this process signs with a key rotated elsewhere (`atrium keys rotate`) soon.
  const keyRing = await createKeyRing({
    db: app.platform.db,
    encryptionKey: auth.keyEncryptionKey,
    // A previous key verifies as long as any token it signed may live (impersonation tokens: an hour).
    accessTokenTtlSeconds: longestTokenLifetimeSeconds(auth.accessTokenTtlSeconds),
    refreshIntervalMs: KEY_REFRESH_INTERVAL_MS,
    onReloadError: (error) => app.log.error({ err: error }, 'reloading the token signing keys failed; the keys already loaded stay in use'),
  });
  app.addHook('onClose', async () => keyRing.close());
  const accessTokens = createAccessTokens({ keyRing, issuer: auth.issuer, audience: auth.audience, ttlSeconds: auth.accessTokenTtlSeconds });
  const deps: IdentityDeps = {
    config,
    platform: app.platform,
    accessTokens,
    passwords: createPasswordHasher({ maxConcurrent: auth.passwordHash.concurrency, maxQueued: auth.passwordHash.queue }),
    attempts: createAttemptGuard({ counters: app.platform.counters, perAccount: auth.maxFailedAttempts.perAccount, perIp: auth.maxFailedAttempts.perIp }),
    lifetimes: { refreshTokenTtlSeconds: auth.refreshTokenTtlSeconds, sessionMaxAgeSeconds: auth.sessionMaxAgeSeconds },
    secretKey: deriveKeyEncryptionKey(auth.keyEncryptionKey),
  };
  app.decorate('keyRing', keyRing);
  app.decorate('accessTokens', accessTokens);
  app.decorate('identity', deps);
  for (const schema of identitySchemas) app.addSchema(schema);

  await app.register(authenticatePlugin, { accessTokens });
  await app.register(jwksRoutes, { keyRing });
  await app.register(loginRoutes, { prefix: AUTH_PREFIX, deps });
  await app.register(sessionRoutes, { prefix: AUTH_PREFIX, deps });
  await app.register(accountRoutes, { prefix: AUTH_PREFIX, deps });
  await app.register(mfaRoutes, { prefix: AUTH_PREFIX, deps });
  await app.register(bootstrapRoutes, { prefix: AUTH_PREFIX, deps });
});
