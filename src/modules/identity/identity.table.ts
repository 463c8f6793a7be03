/**
 * Sessions and the secrets of sign-in (global tables: no tenant_id, DESIGN §5). Every secret handed to a
 * client — refresh tokens, one-time email/MFA tokens, recovery codes — is stored only as its SHA-256 (hex), so
 * a leaked table grants nothing.
 */
import { sql } from 'drizzle-orm';
import { boolean, check, index, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { createdAt, idColumn } from '../../core/db/columns.js';
import { tenants, users } from '../../core/tenancy/tenancy.table.js';

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** One sign-in on one device: the unit that refresh rotates and that logout and revocation end. */
export const sessions = pgTable(
  'sessions',
  {
    id: idColumn().primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The tenant the session acts in (switch-tenant moves it); null for a person without a tenant. */
    activeTenantId: uuid('active_tenant_id').references(() => tenants.id, { onDelete: 'set null' }),
    /** Whether a second factor was presented at sign-in. */
    mfaVerified: boolean('mfa_verified').notNull().default(false),
    ip: text('ip'),
    userAgent: text('user_agent'),
    createdAt: createdAt(),
    lastUsedAt: timestamptz('last_used_at').notNull().defaultNow(),
    /** Sliding end: moved forward by each refresh, never past `expiresAt`. */
    idleExpiresAt: timestamptz('idle_expires_at').notNull(),
    /** Absolute end, fixed at sign-in. */
    expiresAt: timestamptz('expires_at').notNull(),
    revokedAt: timestamptz('revoked_at'),
    revokedReason: text('revoked_reason'),
    /** Set on an impersonation session: the platform administrator acting as `user_id`. */
    impersonatorId: uuid('impersonator_id').references(() => users.id, { onDelete: 'cascade' }),
  },
  (t) => [
    // Listing and revoking a person's live sessions.
    index('sessions_user_idx').on(t.userId).where(sql`${t.revokedAt} is null`),
    check('sessions_lifetime_check', sql`${t.idleExpiresAt} <= ${t.expiresAt}`),
  ],
);

/**
 * Refresh tokens, single-use. A used row is kept until its session ends: presenting it again is the sign
 * of a stolen token, and revokes the whole session.
 */
export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
    usedAt: timestamptz('used_at'),
  },
  (t) => [index('refresh_tokens_session_idx').on(t.sessionId)],
);

export const oneTimeTokenPurposes = ['verify_email', 'reset_password', 'change_email', 'mfa_login'] as const;
export type OneTimeTokenPurpose = (typeof oneTimeTokenPurposes)[number];

/** Tokens mailed (or handed out between two sign-in steps) that prove one thing once, until they expire. */
export const oneTimeTokens = pgTable(
  'one_time_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: text('purpose', { enum: oneTimeTokenPurposes }).notNull(),
    /** The address the token proves (verification, email change): stale once the user's email moves on. */
    email: text('email'),
    /** Purpose-specific data, e.g. the tenant asked for at a sign-in waiting for its MFA step. */
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
    expiresAt: timestamptz('expires_at').notNull(),
    usedAt: timestamptz('used_at'),
  },
  (t) => [
    // Issuing a new token of a purpose retires the user's older ones.
    index('one_time_tokens_user_purpose_idx').on(t.userId, t.purpose),
    check('one_time_tokens_purpose_check', sql.raw(`purpose in (${oneTimeTokenPurposes.map((p) => `'${p}'`).join(', ')})`)),
  ],
);

/** MFA recovery codes: ten per set, each usable once; a new set replaces the old. */
export const recoveryCodes = pgTable(
  'recovery_codes',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').notNull(),
    createdAt: createdAt(),
    usedAt: timestamptz('used_at'),
  },
  (t) => [primaryKey({ name: 'recovery_codes_pkey', columns: [t.userId, t.codeHash] })],
);

