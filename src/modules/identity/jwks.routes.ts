import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { KeyRing } from './signing-keys.js';

const JwkSchema = Type.Object(
  {
    kty: Type.Literal('OKP'),
    crv: Type.Literal('Ed25519'),
    x: Type.String({ description: 'The public key, base64url.' }),
    kid: Type.String({ description: 'Key id: the `kid` header of the tokens this key signed.' }),
    alg: Type.Literal('EdDSA'),
    use: Type.Literal('sig'),
  },
  { additionalProperties: false },
);

const JwksSchema = Type.Object({ keys: Type.Array(JwkSchema) }, { description: 'The keys that sign access tokens (RFC 7517 JWK Set).' });

/** How long verifiers may cache the key set. Short, so a new key is picked up soon after rotation. */
const MAX_AGE_SECONDS = 300;

/** `GET /.well-known/jwks.json`: the public keys that verify access tokens. */
export async function jwksRoutes(app: FastifyInstance, options: { keyRing: KeyRing }) {
  app.get(
    '/.well-known/jwks.json',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Token signing keys (JWKS)',
        description: 'Public Ed25519 keys for verifying access tokens offline, e.g. with `jose.createRemoteJWKSet`.',
        response: { 200: JwksSchema },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', `public, max-age=${MAX_AGE_SECONDS}`);
      return options.keyRing.publicJwks();
    },
  );
}
