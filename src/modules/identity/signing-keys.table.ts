/**
 * Token signing keys (global: no tenant_id). The primary key is the JWT `kid`. Private keys are stored
 * encrypted with AES-256-GCM under AUTH_KEY_ENCRYPTION_KEY; the partial unique index allows at most one
 * active key, which also makes first-start key creation race-safe across processes.
 *
 * Life of a key: `active` (signs and verifies) → `previous` once rotated (`rotated_at`; no longer signs,
 * still verifies the tokens it signed, still published in the JWKS) → `retired` once every token it can
 * have signed has expired (`retired_at`; neither verifies nor is published). A key retired by hand (or
 * before rotation existed) may skip `previous`, so a retired key need not have a `rotated_at`.
 */
import { sql } from 'drizzle-orm';
import { check, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, idColumn } from '../../core/db/columns.js';

export const signingKeyStatuses = ['active', 'previous', 'retired'] as const;
export type SigningKeyStatus = (typeof signingKeyStatuses)[number];

export const signingKeys = pgTable(
  'signing_keys',
  {
    id: idColumn().primaryKey(),
    algorithm: text('algorithm', { enum: ['EdDSA'] }).notNull().default('EdDSA'),
    /** The public key as a JWK (kty OKP, crv Ed25519, x). */
    publicJwk: jsonb('public_jwk').$type<{ kty: string; crv: string; x: string }>().notNull(),
    /** base64(iv | tag | ciphertext) of the PKCS#8 PEM private key. */
    privateKeyEncrypted: text('private_key_encrypted').notNull(),
    status: text('status', { enum: signingKeyStatuses }).notNull().default('active'),
    createdAt: createdAt(),
    /** When the key stopped signing (a rotation replaced it); its tokens keep verifying for one token lifetime. */
    rotatedAt: timestamp('rotated_at', { withTimezone: true, mode: 'date' }),
    retiredAt: timestamp('retired_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    uniqueIndex('signing_keys_one_active_key').on(t.status).where(sql`${t.status} = 'active'`),
    check('signing_keys_algorithm_check', sql`${t.algorithm} = 'EdDSA'`),
    check('signing_keys_status_check', sql`${t.status} in ('active', 'previous', 'retired')`),
    check('signing_keys_retired_at_check', sql`(${t.status} = 'retired') = (${t.retiredAt} is not null)`),
    // The active key has not been rotated; a previous key says when it was. (Retired: either.)
    check(
      'signing_keys_rotated_at_check',
      sql`${t.status} = 'retired' or (${t.status} = 'previous') = (${t.rotatedAt} is not null)`,
    ),
  ],
);
