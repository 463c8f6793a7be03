/**
 * Opaque secrets handed to clients (refresh tokens, emailed tokens, MFA tokens): 256 bits from the CSPRNG,
 * base64url. Only their SHA-256 is stored; a fast hash is right for random secrets (nothing to guess), and
 * looking a token up by its hash never compares the secret itself with a timing-variable equality.
 */
import { createHash, randomBytes } from 'node:crypto';

export const SECRET_TOKEN_BYTES = 32;

/** A new opaque token: 43 base64url characters (256 bits). */
export function generateSecretToken(): string {
  return randomBytes(SECRET_TOKEN_BYTES).toString('base64url');
}

/** The stored form of a token (hex SHA-256). */
export function hashSecretToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
