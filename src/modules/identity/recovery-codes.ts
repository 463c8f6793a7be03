/**
 * MFA recovery codes: generated once, shown once, stored as hashes, each usable once (the caller deletes
 * or marks the matching hash when `findRecoveryCode` finds it).
 *
 * Format: 12 characters from a 31-symbol alphabet with no 0/O/1/I/L, grouped `XXXX-XXXX-XXXX`.
 * 31^12 ≈ 2^59.4 per code. (Ten characters of this alphabet would give only 2^49.5, short of the 50-bit
 * floor, so the codes are twelve characters long.)
 */
import { createHash, randomInt } from 'node:crypto';
import { constantTimeEqual } from '../../core/auth/constant-time.js';

/** Digits 2-9 and A-Z without I, L, O: nothing that reads as another symbol. */
export const RECOVERY_CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
export const RECOVERY_CODE_LENGTH = 12;
export const RECOVERY_CODE_GROUP = 4;
export const RECOVERY_CODE_COUNT = 10;

function randomCode(): string {
  let raw = '';
  for (let i = 0; i < RECOVERY_CODE_LENGTH; i++) raw += RECOVERY_CODE_ALPHABET[randomInt(RECOVERY_CODE_ALPHABET.length)];
  const groups: string[] = [];
  for (let i = 0; i < raw.length; i += RECOVERY_CODE_GROUP) groups.push(raw.slice(i, i + RECOVERY_CODE_GROUP));
  return groups.join('-');
}

/** `count` distinct codes, formatted for display (`XXXX-XXXX-XXXX`). */
export function generateRecoveryCodes(count: number = RECOVERY_CODE_COUNT): string[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError('count must be a positive integer');
  const codes = new Set<string>();
  while (codes.size < count) codes.add(randomCode());
  return [...codes];
}

/** The canonical form that is hashed: uppercase, without dashes or whitespace. */
export function normalizeRecoveryCode(code: string): string {
  return code.replace(/[\s-]+/g, '').toUpperCase();
}

/**
 * SHA-256 (hex) of the normalised code. A fast hash is right here: each code is ~59 bits from a CSPRNG,
 * so a stolen hash cannot be brute-forced the way a human password can; a slow KDF (argon2) would only
 * cost CPU on every attempt, and ten of them per login attempt.
 */
export function hashRecoveryCode(code: string): string {
  return createHash('sha256').update(normalizeRecoveryCode(code), 'utf8').digest('hex');
}

/**
 * Index of the stored hash that `input` matches, or -1. Every stored hash is compared in constant time
 * and the loop never stops early, so the time taken says neither whether nor where a code matched.
 */
export function findRecoveryCode(hashes: readonly string[], input: string): number {
  const given = Buffer.from(hashRecoveryCode(input), 'hex');
  let found = -1;
  for (let i = 0; i < hashes.length; i++) {
    const stored = Buffer.from(hashes[i] ?? '', 'hex');
    if (constantTimeEqual(stored, given) && found === -1) found = i;
  }
  return found;
}
