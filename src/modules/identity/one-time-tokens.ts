/**
 * Single-use tokens that prove one thing once before they expire: an emailed verification, reset or
 * email-change link, or the MFA step between password and code. Stored hashed; consuming one is a single
 * conditional UPDATE, so two concurrent uses cannot both succeed.
 */
import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Tx } from '../../core/db/database.js';
import { oneTimeTokens, type OneTimeTokenPurpose } from './identity.table.js';
import { generateSecretToken, hashSecretToken } from './secrets.js';

export const ONE_TIME_TOKEN_TTL_SECONDS: Record<OneTimeTokenPurpose, number> = {
  verify_email: 48 * 3600,
  reset_password: 3600,
  change_email: 24 * 3600,
  mfa_login: 5 * 60,
};

export interface IssueOneTimeToken {
  userId: string;
  purpose: OneTimeTokenPurpose;
  /** The address the token is about (verification, email change). */
  email?: string;
  data?: Record<string, unknown>;
}

export type OneTimeTokenRow = typeof oneTimeTokens.$inferSelect;

/** Issues a token; the user's earlier unused tokens of the same purpose stop working. */
export async function issueOneTimeToken(tx: Tx, input: IssueOneTimeToken): Promise<string> {
  // Serialises issuers of one user and purpose until commit: two concurrent requests would otherwise each
  // retire only what they can see and both leave a live token.
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`one_time_token:${input.userId}:${input.purpose}`}, 0))`);
  await tx
    .update(oneTimeTokens)
    .set({ usedAt: sql`now()` })
    .where(and(eq(oneTimeTokens.userId, input.userId), eq(oneTimeTokens.purpose, input.purpose), isNull(oneTimeTokens.usedAt)));
  const token = generateSecretToken();
  await tx.insert(oneTimeTokens).values({
    tokenHash: hashSecretToken(token),
    userId: input.userId,
    purpose: input.purpose,
    email: input.email ?? null,
    data: input.data ?? {},
    expiresAt: new Date(Date.now() + ONE_TIME_TOKEN_TTL_SECONDS[input.purpose] * 1000),
  });
  return token;
}

/** Uses a live token of `purpose`: its row, or null when it is unknown, used, expired or of another purpose. */
export async function consumeOneTimeToken(tx: Tx, token: string, purpose: OneTimeTokenPurpose): Promise<OneTimeTokenRow | null> {
  const [row] = await tx
    .update(oneTimeTokens)
    .set({ usedAt: sql`now()` })
    .where(and(eq(oneTimeTokens.tokenHash, hashSecretToken(token)), eq(oneTimeTokens.purpose, purpose), isNull(oneTimeTokens.usedAt), gt(oneTimeTokens.expiresAt, sql`now()`)))
    .returning();
  return row ?? null;
}

/** Reads a live token without using it (the MFA step checks the code before spending the token). */
export async function findOneTimeToken(tx: Tx, token: string, purpose: OneTimeTokenPurpose): Promise<OneTimeTokenRow | null> {
  const [row] = await tx
    .select()
    .from(oneTimeTokens)
    .where(and(eq(oneTimeTokens.tokenHash, hashSecretToken(token)), eq(oneTimeTokens.purpose, purpose), isNull(oneTimeTokens.usedAt), gt(oneTimeTokens.expiresAt, sql`now()`)));
  return row ?? null;
}
