import { createRequire } from 'node:module';
import { hash as argon2Hash, parseOptions } from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../core/http/errors.js';
import {
  ARGON2_OPTIONS,
  assertPasswordAcceptable,
  checkPasswordPolicy,
  COMMON_PASSWORD_COUNT,
  createPasswordHasher,
  isCommonPassword,
} from './passwords.js';

const hasher = createPasswordHasher({ maxConcurrent: 2, maxQueued: 16 });

describe('password hashing', () => {
  it('hashes with argon2id m=19456 KiB, t=2, p=1 and a fresh salt each time', async () => {
    const first = await hasher.hash('correct horse battery staple');
    const second = await hasher.hash('correct horse battery staple');
    expect(first).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(parseOptions(first)).toMatchObject({ memoryCost: 19456, timeCost: 2, parallelism: 1, saltLen: 16, outputLen: 32 });
    expect(second).not.toBe(first);
    expect(hasher.needsRehash(first)).toBe(false);
  });

  it('verifies the right password and refuses a wrong one', async () => {
    const stored = await hasher.hash('correct horse battery staple');
    expect(await hasher.verify(stored, 'correct horse battery staple')).toBe(true);
    expect(await hasher.verify(stored, 'correct horse battery stapler')).toBe(false);
    expect(await hasher.verify(stored, 'Correct horse battery staple')).toBe(false);
  });

  it('verifies the same text typed precomposed (NFC) or decomposed (NFD)', async () => {
    const nfc = 'caf\u00e9 cr\u00e8me br\u00fbl\u00e9e';
    const nfd = nfc.normalize('NFD');
    expect(nfd).not.toBe(nfc);
    expect(await hasher.verify(await hasher.hash(nfc), nfd)).toBe(true);
    expect(await hasher.verify(await hasher.hash(nfd), nfc)).toBe(true);
  });

  it('does not fold compatibility characters: full-width letters are a different password (NFC, not NFKC)', async () => {
    const stored = await hasher.hash('password-abc');
    expect(await hasher.verify(stored, 'password-\uff41\uff42\uff43')).toBe(false);
  });

  it('verifyDummy does the argon2 work and always answers false', async () => {
    await expect(hasher.verifyDummy('anything at all')).resolves.toBe(false);
    await expect(hasher.verifyDummy('')).resolves.toBe(false);
  });

  it('asks for a rehash of hashes made with other parameters', async () => {
    const weaker = await argon2Hash('legacy password', { ...ARGON2_OPTIONS, timeCost: 1 });
    expect(hasher.needsRehash(weaker)).toBe(true);
    expect(hasher.needsRehash('not a phc string')).toBe(true);
    // Old hashes still verify, whatever their parameters.
    expect(await hasher.verify(weaker, 'legacy password')).toBe(true);
  });

  it('rejects invalid limits', () => {
    expect(() => createPasswordHasher({ maxConcurrent: 0, maxQueued: 1 })).toThrow(RangeError);
    expect(() => createPasswordHasher({ maxConcurrent: 1, maxQueued: -1 })).toThrow(RangeError);
  });
});

describe('hashing concurrency', () => {
  it('runs maxConcurrent, queues maxQueued and refuses the rest at once with 503 service.unavailable', async () => {
    const limited = createPasswordHasher({ maxConcurrent: 1, maxQueued: 2 });
    const settled: Array<'fulfilled' | 'rejected'> = [];
    const attempts = Array.from({ length: 10 }, (_, i) =>
      limited.hash(`password number ${i}`).then(
        (value) => {
          settled.push('fulfilled');
          return value;
        },
        (error: unknown) => {
          settled.push('rejected');
          throw error;
        },
      ),
    );
    expect(limited.load).toEqual({ running: 1, queued: 2 });

    const results = await Promise.allSettled(attempts);
    const fulfilled = results.filter((result) => result.status === 'fulfilled');
    const rejected = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    expect(fulfilled).toHaveLength(3);
    expect(rejected).toHaveLength(7);
    // The first three got the slot or a place in the queue; the other seven were refused.
    expect(results.map((result) => result.status)).toEqual([...Array(3).fill('fulfilled'), ...Array(7).fill('rejected')]);
    // Refused without waiting: every refusal settled before the first hash finished.
    expect(settled).toEqual([...Array(7).fill('rejected'), ...Array(3).fill('fulfilled')]);
    for (const { reason } of rejected) {
      expect(reason).toBeInstanceOf(AppError);
      expect(reason).toMatchObject({ code: 'service.unavailable', status: 503, extras: { headers: { 'retry-after': '1' } } });
    }

    // Capacity comes back once the work is done.
    expect(limited.load).toEqual({ running: 0, queued: 0 });
    await expect(limited.hash('after the storm')).resolves.toMatch(/^\$argon2id\$/);
  });

  it('bounds verify and verifyDummy with the same limiter as hash', async () => {
    const limited = createPasswordHasher({ maxConcurrent: 1, maxQueued: 0 });
    const running = limited.hash('first in line');
    await expect(limited.verify('$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA', 'x')).rejects.toMatchObject({ code: 'service.unavailable' });
    await expect(limited.verifyDummy('x')).rejects.toMatchObject({ code: 'service.unavailable' });
    const stored = await running;
    await expect(limited.verify(stored, 'first in line')).resolves.toBe(true);
  });

  it('frees the slot when an operation fails', async () => {
    const limited = createPasswordHasher({ maxConcurrent: 1, maxQueued: 0 });
    await expect(limited.verify('not a phc string', 'password')).rejects.toThrow();
    expect(limited.load).toEqual({ running: 0, queued: 0 });
    await expect(limited.hash('still works')).resolves.toMatch(/^\$argon2id\$/);
  });
});

describe('password policy', () => {
  const email = 'margaret.h@example.com';

  it('accepts 8 to 256 characters and refuses 7 and 257', () => {
    expect(checkPasswordPolicy('xk4#vq2', { email })).toMatchObject({ reason: 'too_short' });
    expect(checkPasswordPolicy('xk4#vq2m', { email })).toBeNull();
    expect(checkPasswordPolicy('xk4#vq2m'.repeat(32), { email })).toBeNull();
    expect(checkPasswordPolicy(`${'xk4#vq2m'.repeat(32)}z`, { email })).toMatchObject({ reason: 'too_long' });
  });

  it('counts each emoji (one code point, two UTF-16 units) as one character', () => {
    expect(checkPasswordPolicy('\u{1F600}'.repeat(7))).toMatchObject({ reason: 'too_short' });
    expect(checkPasswordPolicy('\u{1F600}'.repeat(8))).toBeNull();
    expect(checkPasswordPolicy('\u{1F600}'.repeat(256))).toBeNull();
    expect(checkPasswordPolicy('\u{1F600}'.repeat(257))).toMatchObject({ reason: 'too_long' });
  });

  it('counts length after NFC: a decomposed accent is one character', () => {
    // Seven precomposed characters, fourteen code points when decomposed: still too short.
    expect(checkPasswordPolicy('\u00e9'.repeat(7).normalize('NFD'))).toMatchObject({ reason: 'too_short' });
  });

  it('has no composition rules', () => {
    expect(checkPasswordPolicy('correct horse battery staple')).toBeNull();
    expect(checkPasswordPolicy('zqxwvjkpmfdt')).toBeNull();
  });

  it('refuses common passwords, whatever their case', () => {
    expect(checkPasswordPolicy('password')).toMatchObject({ reason: 'common' });
    expect(checkPasswordPolicy('PassWord1')).toMatchObject({ reason: 'common' });
    expect(checkPasswordPolicy('ILOVEYOU')).toMatchObject({ reason: 'common' });
    expect(checkPasswordPolicy('Sunshine')).toMatchObject({ reason: 'common' });
    expect(isCommonPassword('qwertyuiop')).toBe(true);
    expect(isCommonPassword('correct horse battery staple')).toBe(false);
  });

  it('refuses exactly the first 10,000 entries of the ranked list', () => {
    const require = createRequire(import.meta.url);
    const ranked = (require('@zxcvbn-ts/language-common') as { dictionary: Record<string, string[]> }).dictionary['passwords-common']!;
    const included = new Set(ranked.slice(0, COMMON_PASSWORD_COUNT));
    expect(isCommonPassword(ranked[COMMON_PASSWORD_COUNT - 1]!)).toBe(true);
    const firstBeyond = ranked.slice(COMMON_PASSWORD_COUNT).find((entry) => !included.has(entry) && [...entry].length >= 8)!;
    expect(firstBeyond).toBeDefined();
    expect(isCommonPassword(firstBeyond)).toBe(false);
    expect(checkPasswordPolicy(firstBeyond)).toBeNull();
  });

  it("refuses a password containing the email's local part, case-insensitively", () => {
    expect(checkPasswordPolicy('my-Margaret.H-secret', { email })).toMatchObject({ reason: 'contains_email' });
    expect(checkPasswordPolicy('MARGARET.H2024!', { email })).toMatchObject({ reason: 'contains_email' });
    // Part of the local part is fine; so is the same password for another account.
    expect(checkPasswordPolicy('margaret-secret', { email })).toBeNull();
    expect(checkPasswordPolicy('my-Margaret.H-secret', { email: 'someone@example.com' })).toBeNull();
  });

  it('ignores local parts shorter than 3 characters', () => {
    expect(checkPasswordPolicy('jojojojo-long-pass', { email: 'jo@example.com' })).toBeNull();
    expect(checkPasswordPolicy('annabelle-long-pass', { email: 'ann@example.com' })).toMatchObject({ reason: 'contains_email' });
  });

  it('assertPasswordAcceptable throws auth.weak_password (400) naming the field, and passes good passwords', () => {
    expect(() => assertPasswordAcceptable('correct horse battery staple', { email })).not.toThrow();
    let thrown: unknown;
    try {
      assertPasswordAcceptable('short', { email, field: '/newPassword' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AppError);
    expect(thrown).toMatchObject({
      code: 'auth.weak_password',
      status: 400,
      title: 'Password not acceptable',
      extras: { reason: 'too_short', errors: [{ in: 'body', field: '/newPassword' }] },
    });
    expect((thrown as AppError).detail).not.toContain('short');
  });
});
