/**
 * Token signing keys (global: no tenant_id). The primary key is the JWT `kid`. Private keys are stored
 * encrypted with AES-256-GCM under AUTH_KEY_ENCRYPTION_KEY; the partial unique index allows at most one
 * active key, which also makes first-start key creation race-safe across processes.
 */
import { sql } from 'drizzle-orm';
import { check, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, idColumn } from '../../core/db/columns.js';

export const signingKeyStatuses = ['active', 'retired'] as const;
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
    retiredAt: timestamp('retired_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    uniqueIndex('signing_keys_one_active_key').on(t.status).where(sql`${t.status} = 'active'`),
    check('signing_keys_algorithm_check', sql`${t.algorithm} = 'EdDSA'`),
    check('signing_keys_status_check', sql`${t.status} in ('active', 'retired')`),
    check('signing_keys_retired_at_check', sql`(${t.status} = 'retired') = (${t.retiredAt} is not null)`),
  ],
);
