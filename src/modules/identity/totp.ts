/**
 * TOTP (RFC 6238) for MFA: secret generation, the `otpauth://` provisioning URI and verification with
 * replay protection. Pure functions; the caller stores the secret and the last accepted time step.
 *
 * Parameters are the defaults every authenticator app supports: HMAC-SHA1, 6 digits, 30-second steps.
 *
 * Verification does not use otpauth's own `TOTP.validate`. That function does compare each candidate with
 * `crypto.timingSafeEqual`, but (1) it stops at the first match, so the time taken says which step of the
 * window matched; (2) it returns only the first matching offset (current, then -1, then +1), whereas replay
 * protection needs every matching step weighed against the last used one; (3) it converts the token with
 * `Buffer.from(string)`, so a 6-character token with a non-ASCII character (6 UTF-16 units, 7+ bytes)
 * makes `timingSafeEqual` throw a RangeError — a 500 from user input. Here the code is checked to be
 * exactly 6 ASCII digits first, then all candidate steps are always computed (otpauth's `HOTP.generate`,
 * the RFC 4226 dynamic truncation) and compared with `timingSafeEqual` on equal-length buffers, with no
 * early exit.
 */
import { constantTimeEqual } from '../../core/auth/constant-time.js';
import { HOTP, Secret, TOTP } from 'otpauth';

export const TOTP_ALGORITHM = 'SHA1';
export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
/** Steps accepted on either side of the current one, for clock drift (RFC 6238 §5.2 recommends one). */
export const TOTP_WINDOW = 1;
/** 160 bits: the HMAC-SHA1 output size, RFC 4226 §4's recommended length. */
export const TOTP_SECRET_BYTES = 20;

const CODE_PATTERN = /^[0-9]{6}$/;

/** A fresh random secret, base32 (RFC 4648, no padding): 20 bytes → 32 characters. */
export function generateTotpSecret(): string {
  return new Secret({ size: TOTP_SECRET_BYTES }).base32;
}

export interface OtpauthUrlInput {
  /** Base32 secret from `generateTotpSecret`. */
  secret: string;
  /** What the authenticator app shows under the issuer: the user's email. */
  accountName: string;
  /** The product name shown by the authenticator app. */
  issuer: string;
}

/**
 * The Key URI (`otpauth://totp/Issuer:account?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`) that
 * the client renders as a QR code. The issuer is both the label prefix and the `issuer` parameter, as the
 * Key URI format recommends. Neither part may contain a colon (the label separator): that is a caller bug.
 */
export function otpauthUrl({ secret, accountName, issuer }: OtpauthUrlInput): string {
  if (accountName.length === 0 || issuer.length === 0) throw new TypeError('TOTP accountName and issuer must not be empty');
  if (accountName.includes(':') || issuer.includes(':')) throw new TypeError('TOTP accountName and issuer must not contain ":"');
  return new TOTP({
    issuer,
    label: accountName,
    issuerInLabel: true,
    secret: Secret.fromBase32(secret),
    algorithm: TOTP_ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  }).toString();
}

/** The RFC 6238 time step (counter) containing `now`. */
export function totpStep(now: Date = new Date()): number {
  return Math.floor(now.getTime() / 1000 / TOTP_PERIOD_SECONDS);
}

export interface VerifyTotpInput {
  /** Base32 secret. */
  secret: string;
  /** What the user typed; spaces are ignored ("123 456"). */
  code: string;
  /** The step returned by the last successful verification, or null if the secret was never used. */
  lastUsedStep: number | null;
  /** Defaults to the current time. */
  now?: Date;
}

export type VerifyTotpResult = { ok: true; step: number } | { ok: false };

/**
 * Accepts a code for the current step ±1 that is later than `lastUsedStep` (RFC 6238 §5.2: an OTP is
 * accepted once). On success the caller must store the returned `step` and pass it back next time.
 * If the code matches more than one fresh step (a 1-in-10^6 coincidence) the latest is taken, so the same
 * digits cannot be accepted twice.
 */
export function verifyTotp({ secret, code, lastUsedStep, now = new Date() }: VerifyTotpInput): VerifyTotpResult {
  const normalized = code.replace(/\s+/g, '');
  if (!CODE_PATTERN.test(normalized)) return { ok: false };
  const given = Buffer.from(normalized, 'ascii');
  const key = Secret.fromBase32(secret);
  const current = totpStep(now);
  const floor = lastUsedStep ?? Number.NEGATIVE_INFINITY;

  let matched: number | null = null;
  // Every candidate is computed and compared; there is no early exit.
  for (let step = current - TOTP_WINDOW; step <= current + TOTP_WINDOW; step++) {
    const expected = Buffer.from(
      HOTP.generate({ secret: key, algorithm: TOTP_ALGORITHM, digits: TOTP_DIGITS, counter: step }),
      'ascii',
    );
    if (constantTimeEqual(expected, given) && step > floor) matched = step;
  }
  return matched === null ? { ok: false } : { ok: true, step: matched };
}
