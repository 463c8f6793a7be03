/**
 * The identity module's public face. So far: the signing key ring, access tokens and the JWKS route;
 * sign-up, sign-in, sessions and MFA build on these.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import { jwksRoutes } from './jwks.routes.js';
import { createKeyRing, type KeyRing } from './signing-keys.js';
import { createAccessTokens, type AccessTokens } from './tokens.js';

export type { KeyRing } from './signing-keys.js';
export type { AccessTokens } from './tokens.js';

declare module 'fastify' {
  interface FastifyInstance {
    keyRing: KeyRing;
    accessTokens: AccessTokens;
  }
}

/** Loads (or, on first start, creates) the signing key, then serves the JWKS. */
export const identityModule = fp(async function identity(app: FastifyInstance, options: { config: Config }) {
  const { auth } = options.config;
  const keyRing = await createKeyRing({ db: app.platform.db, encryptionKey: auth.keyEncryptionKey });
  app.decorate('keyRing', keyRing);
  app.decorate('accessTokens', createAccessTokens({ keyRing, issuer: auth.issuer, audience: auth.audience, ttlSeconds: auth.accessTokenTtlSeconds }));
  await app.register(jwksRoutes, { keyRing });
});
