/**
 * Passwords: the acceptance policy and argon2id hashing with bounded concurrency.
 *
 * Normalisation: every password is normalised to Unicode NFC before it is measured, checked, hashed or
 * verified, so the same text typed on different keyboards or platforms (a precomposed "é" versus "e" plus a
 * combining accent, which macOS and some IMEs produce) is the same password. NFC — not NFKC, which
 * NIST SP 800-63B also allows — only unifies canonically equivalent spellings of the same characters; it
 * does not fold compatibility characters (full-width letters, ligatures, superscripts) into others, so a
 * password is verified exactly as typed. The choice is part of the stored hashes: changing it later would
 * lock out users whose passwords it changes.
 *
 * Hashing runs on libuv's thread pool (`@node-rs/argon2`), never on the event loop. At most
 * `maxConcurrent` hashes/verifications run at once and at most `maxQueued` wait; beyond that the operation
 * is refused at once with 503 `service.unavailable` (Retry-After: 1) instead of queueing without bound.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { hash as argon2Hash, parseOptions, verify as argon2Verify, type Algorithm, type Options } from '@node-rs/argon2';
import { AppError } from '../../core/http/errors.js';

/** `Algorithm.Argon2id`; the enum is an ambient `const enum`, which isolated modules cannot read. */
const ARGON2ID = 2 as Algorithm;

/** OWASP minimum for argon2id (DESIGN §1): 19 MiB, 2 passes, 1 lane. */
export const ARGON2_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const satisfies Options;

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;
/** How many entries of the ranked common-password list are refused. */
export const COMMON_PASSWORD_COUNT = 10_000;
/** A local part shorter than this is not checked ("jo@…" would refuse every password containing "jo"). */
const MIN_LOCAL_PART_LENGTH = 3;

/** The form in which passwords are measured, hashed and verified. */
export function normalizePassword(password: string): string {
  return password.normalize('NFC');
}

// ---------------------------------------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------------------------------------

export type PasswordProblemReason = 'too_short' | 'too_long' | 'common' | 'contains_email';

export interface PasswordProblem {
  reason: PasswordProblemReason;
  /** Human-readable, safe to show to the user (never echoes the password). */
  detail: string;
}

let commonPasswords: Set<string> | undefined;

/**
 * The 10,000 most common passwords, lower-cased, loaded on first use. The list is the frequency-ranked
 * `passwords-common` dictionary of `@zxcvbn-ts/language-common` (MIT). Loaded through `require` so that
 * it stays synchronous and lazy: processes that never check a password never decompress it.
 */
function commonPasswordSet(): Set<string> {
  if (!commonPasswords) {
    const require = createRequire(import.meta.url);
    const { dictionary } = require('@zxcvbn-ts/language-common') as { dictionary: Record<string, string[]> };
    const ranked = dictionary['passwords-common'];
    if (!ranked || ranked.length < COMMON_PASSWORD_COUNT) throw new Error('common password list is missing or too short');
    commonPasswords = new Set(ranked.slice(0, COMMON_PASSWORD_COUNT).map((entry) => entry.toLowerCase()));
  }
  return commonPasswords;
}

/** True when the password is among the 10,000 most common ones (case-insensitive). */
export function isCommonPassword(password: string): boolean {
  return commonPasswordSet().has(normalizePassword(password).toLowerCase());
}

/**
 * Checks a new password against the policy: 8 to 256 characters (Unicode code points after NFC), not among
 * the 10,000 most common passwords, not containing the local part of the account's email (when that is at
 * least 3 characters). No composition rules (NIST SP 800-63B). Returns null when acceptable.
 */
export function checkPasswordPolicy(password: string, context: { email?: string } = {}): PasswordProblem | null {
  const normalized = normalizePassword(password);
  const length = [...normalized].length;
  if (length < PASSWORD_MIN_LENGTH) {
    return { reason: 'too_short', detail: `Password must be at least ${PASSWORD_MIN_LENGTH} characters long.` };
  }
  if (length > PASSWORD_MAX_LENGTH) {
    return { reason: 'too_long', detail: `Password must be at most ${PASSWORD_MAX_LENGTH} characters long.` };
  }
  const lower = normalized.toLowerCase();
  if (commonPasswordSet().has(lower)) {
    return { reason: 'common', detail: 'Password is too common; choose one that is harder to guess.' };
  }
  const at = context.email?.lastIndexOf('@') ?? -1;
  const localPart = at > 0 ? normalizePassword(context.email!.slice(0, at)).toLowerCase() : '';
  if ([...localPart].length >= MIN_LOCAL_PART_LENGTH && lower.includes(localPart)) {
    return { reason: 'contains_email', detail: 'Password must not contain your email address.' };
  }
  return null;
}

/**
 * Throws `auth.weak_password` (400) when the password breaks the policy. The problem carries `reason` and,
 * like a validation error, the failing field (`field`, a JSON Pointer into the body; default `/password`).
 */
export function assertPasswordAcceptable(password: string, context: { email?: string; field?: string } = {}): void {
  const problem = checkPasswordPolicy(password, context);
  if (problem) {
    throw new AppError('auth.weak_password', problem.detail, {
      reason: problem.reason,
      errors: [{ in: 'body', field: context.field ?? '/password', message: problem.detail }],
    });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Hashing
// ---------------------------------------------------------------------------------------------------------

export interface PasswordHasherOptions {
  /** Operations (hash or verify) running at once. */
  maxConcurrent: number;
  /** Operations allowed to wait for a slot; one more is refused with 503. */
  maxQueued: number;
}

export interface PasswordHasher {
  /** argon2id PHC string of the (NFC-normalised) password. */
  hash(password: string): Promise<string>;
  /** Whether the password matches the stored PHC hash. */
  verify(hash: string, password: string): Promise<boolean>;
  /**
   * Verifies against a dummy hash and always resolves false: the unknown-account path of a sign-in costs
   * the same argon2 work as a real one, so timing does not tell whether an email is registered.
   */
  verifyDummy(password: string): Promise<boolean>;
  /** Whether a stored hash was made with other parameters than today's (rehash it after a successful verify). */
  needsRehash(hash: string): boolean;
  /** Operations running and waiting now (for metrics and tests). */
  readonly load: { running: number; queued: number };
}

function overloaded(): AppError {
  return new AppError('service.unavailable', 'Too many password checks are in progress; try again shortly.', {
    headers: { 'retry-after': '1' },
  });
}

/** A counting semaphore that refuses instead of queueing past `maxQueued`. */
function createLimiter(maxConcurrent: number, maxQueued: number) {
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new RangeError('maxConcurrent must be an integer >= 1');
  if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new RangeError('maxQueued must be an integer >= 0');
  let running = 0;
  const waiting: Array<() => void> = [];

  const release = () => {
    const next = waiting.shift();
    // Hand the slot straight to the next waiter, so a newcomer cannot overtake the queue.
    if (next) next();
    else running -= 1;
  };

  return {
    get load() {
      return { running, queued: waiting.length };
    },
    /** Runs `task` in a slot. The slot is taken (or refused) synchronously, before the first await. */
    run<T>(task: () => Promise<T>): Promise<T> {
      let acquired: Promise<void>;
      if (running < maxConcurrent) {
        running += 1;
        acquired = Promise.resolve();
      } else if (waiting.length < maxQueued) {
        acquired = new Promise<void>((resolve) => waiting.push(resolve));
      } else {
        return Promise.reject(overloaded());
      }
      return acquired.then(task).finally(release);
    },
  };
}

export function createPasswordHasher(options: PasswordHasherOptions): PasswordHasher {
  const limiter = createLimiter(options.maxConcurrent, options.maxQueued);
  let dummyHash: Promise<string> | undefined;

  const getDummyHash = (): Promise<string> => {
    // A random secret nobody knows, hashed once with the same parameters as real passwords.
    dummyHash ??= argon2Hash(randomBytes(32).toString('base64url'), ARGON2_OPTIONS).catch((error: unknown) => {
      dummyHash = undefined;
      throw error;
    });
    return dummyHash;
  };

  return {
    hash(password) {
      const normalized = normalizePassword(password);
      return limiter.run(() => argon2Hash(normalized, ARGON2_OPTIONS));
    },
    verify(hash, password) {
      const normalized = normalizePassword(password);
      return limiter.run(() => argon2Verify(hash, normalized));
    },
    verifyDummy(password) {
      const normalized = normalizePassword(password);
      return limiter.run(async () => {
        await argon2Verify(await getDummyHash(), normalized);
        return false;
      });
    },
    needsRehash(hash) {
      try {
        const used = parseOptions(hash);
        return (
          used.algorithm !== ARGON2_OPTIONS.algorithm ||
          used.memoryCost !== ARGON2_OPTIONS.memoryCost ||
          used.timeCost !== ARGON2_OPTIONS.timeCost ||
          used.parallelism !== ARGON2_OPTIONS.parallelism
        );
      } catch {
        return true;
      }
    },
    get load() {
      return limiter.load;
    },
  };
}
