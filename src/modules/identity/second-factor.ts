/**
 * Checking a second factor against the stored state: TOTP (secret encrypted at rest, each time step
 * accepted once) and recovery codes (hashed, each usable once). Both update the database in the caller's
 * transaction with conditional UPDATEs, so two concurrent uses of one code cannot both succeed.
 */
import { and, eq, isNull, or, lt, sql } from 'drizzle-orm';
import type { Tx } from '../../core/db/database.js';
import { users } from '../../core/tenancy/tenancy.table.js';
import { recoveryCodes } from './identity.table.js';
import { findRecoveryCode, generateRecoveryCodes, hashRecoveryCode } from './recovery-codes.js';
import { decryptAtRest, encryptAtRest } from './signing-keys.js';
import { verifyTotp } from './totp.js';

/** The TOTP secret as stored: encrypted under the key encryption key, bound to the user's id. */
export function sealTotpSecret(key: Buffer, userId: string, secret: string): string {
  return encryptAtRest(key, `totp:${userId}`, secret);
}

export function openTotpSecret(key: Buffer, userId: string, sealed: string): string {
  return decryptAtRest(key, `totp:${userId}`, sealed);
}

/**
 * Checks a TOTP code for `user` and, when it is right, records its time step so the same code (or an
 * older one) is refused from now on. `requireEnabled: false` accepts the pending secret (enabling).
 */
export async function checkTotpCode(
  tx: Tx,
  key: Buffer,
  user: Pick<typeof users.$inferSelect, 'id' | 'totpSecret' | 'totpEnabledAt' | 'totpLastStep'>,
  code: string,
  options: { requireEnabled?: boolean } = {},
): Promise<boolean> {
  if (!user.totpSecret || ((options.requireEnabled ?? true) && !user.totpEnabledAt)) return false;
  const result = verifyTotp({ secret: openTotpSecret(key, user.id, user.totpSecret), code, lastUsedStep: user.totpLastStep });
  if (!result.ok) return false;
  // Conditional on the step still being older: a concurrent request that used the same code loses.
  const claimed = await tx
    .update(users)
    .set({ totpLastStep: result.step })
    .where(and(eq(users.id, user.id), or(isNull(users.totpLastStep), lt(users.totpLastStep, result.step))))
    .returning({ id: users.id });
  return claimed.length > 0;
}

/** Uses one of the user's recovery codes; false when none matches or it was already used. */
export async function useRecoveryCode(tx: Tx, userId: string, code: string): Promise<boolean> {
  const live = await tx.select({ codeHash: recoveryCodes.codeHash }).from(recoveryCodes).where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt)));
  const index = findRecoveryCode(live.map((row) => row.codeHash), code);
  if (index === -1) return false;
  const used = await tx
    .update(recoveryCodes)
    .set({ usedAt: sql`now()` })
    .where(and(eq(recoveryCodes.userId, userId), eq(recoveryCodes.codeHash, live[index]!.codeHash), isNull(recoveryCodes.usedAt)))
    .returning({ userId: recoveryCodes.userId });
  return used.length > 0;
}

/** Replaces the user's recovery codes with a new set and returns it (shown once). */
export async function replaceRecoveryCodes(tx: Tx, userId: string): Promise<string[]> {
  const codes = generateRecoveryCodes();
  await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
  await tx.insert(recoveryCodes).values(codes.map((code) => ({ userId, codeHash: hashRecoveryCode(code) })));
  return codes;
}
