import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  RECOVERY_CODE_ALPHABET,
  RECOVERY_CODE_LENGTH,
  findRecoveryCode,
  generateRecoveryCodes,
  hashRecoveryCode,
  normalizeRecoveryCode,
} from './recovery-codes.js';

describe('generateRecoveryCodes', () => {
  it('makes ten distinct codes by default, XXXX-XXXX-XXXX from the unambiguous alphabet', () => {
    const codes = generateRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) {
      expect(code).toMatch(/^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}$/);
      expect(code).not.toMatch(/[01OIL]/);
    }
  });

  it('honours a count and refuses a nonsensical one', () => {
    expect(generateRecoveryCodes(3)).toHaveLength(3);
    expect(() => generateRecoveryCodes(0)).toThrow(RangeError);
    expect(() => generateRecoveryCodes(2.5)).toThrow(RangeError);
  });

  it('carries at least 50 bits of entropy per code', () => {
    expect(new Set(RECOVERY_CODE_ALPHABET).size).toBe(RECOVERY_CODE_ALPHABET.length);
    expect(RECOVERY_CODE_ALPHABET).not.toMatch(/[01OIL]/);
    const bits = RECOVERY_CODE_LENGTH * Math.log2(RECOVERY_CODE_ALPHABET.length);
    expect(bits).toBeGreaterThanOrEqual(50);
    expect(generateRecoveryCodes(1)[0]!.replace(/-/g, '')).toHaveLength(RECOVERY_CODE_LENGTH);
  });

  it('uses the whole alphabet (not a biased or truncated subset)', () => {
    const seen = new Set(generateRecoveryCodes(200).join('').replace(/-/g, ''));
    // 2400 draws from 31 symbols: the chance of any symbol never appearing is about 31 * (30/31)^2400 < 1e-32.
    expect(seen.size).toBe(RECOVERY_CODE_ALPHABET.length);
  });
});

describe('hashRecoveryCode', () => {
  it('is the sha256 hex of the normalised code', () => {
    expect(normalizeRecoveryCode(' abcd-efgh -jkmn\t')).toBe('ABCDEFGHJKMN');
    expect(hashRecoveryCode('ABCD-EFGH-JKMN')).toBe(createHash('sha256').update('ABCDEFGHJKMN').digest('hex'));
  });

  it('ignores case, dashes and spaces', () => {
    const [code] = generateRecoveryCodes(1);
    const hash = hashRecoveryCode(code!);
    expect(hashRecoveryCode(code!.toLowerCase())).toBe(hash);
    expect(hashRecoveryCode(code!.replace(/-/g, ' '))).toBe(hash);
    expect(hashRecoveryCode(code!.replace(/-/g, ''))).toBe(hash);
    expect(hashRecoveryCode(code!.slice(0, -1))).not.toBe(hash);
  });
});

describe('findRecoveryCode', () => {
  const codes = generateRecoveryCodes();
  const hashes = codes.map(hashRecoveryCode);

  it('returns the index of the matching hash for each code, however it is typed', () => {
    codes.forEach((code, i) => {
      expect(findRecoveryCode(hashes, code)).toBe(i);
      expect(findRecoveryCode(hashes, ` ${code.toLowerCase().replace(/-/g, ' ')} `)).toBe(i);
    });
  });

  it('returns -1 for an unknown, empty or garbage input and for an empty list', () => {
    const [other] = generateRecoveryCodes(1);
    expect(codes).not.toContain(other);
    expect(findRecoveryCode(hashes, other!)).toBe(-1);
    expect(findRecoveryCode(hashes, '')).toBe(-1);
    expect(findRecoveryCode(hashes, 'é'.repeat(20))).toBe(-1);
    expect(findRecoveryCode([], codes[0]!)).toBe(-1);
  });

  it('survives malformed stored hashes and still finds a later match', () => {
    expect(findRecoveryCode(['', 'zz', hashes[0]!.slice(2), hashes[4]!], codes[4]!)).toBe(3);
  });

  it('once a used hash is removed, the same code no longer matches', () => {
    const remaining = [...hashes];
    const index = findRecoveryCode(remaining, codes[2]!);
    remaining.splice(index, 1);
    expect(findRecoveryCode(remaining, codes[2]!)).toBe(-1);
    expect(findRecoveryCode(remaining, codes[3]!)).toBe(2);
  });
});
