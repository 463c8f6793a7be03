/**
 * Brute-force protection for every path that checks a secret (password, TOTP code, recovery code, reset
 * token). Two budgets per hour, counted through the platform's counters (Redis when configured, so every
 * process shares them):
 *
 * - per account — an attempt is *reserved* (counted) before the secret is checked and forgiven on
 *   success. Counting first is what makes the limit race-safe: 200 parallel guesses get 200 distinct
 *   counts, and only those within the budget reach the (expensive) check. The account key is the
 *   normalised email or user id whether or not the account exists, so unknown accounts lock the same way.
 * - per client address — failures across accounts (credential stuffing); `request.ip` honours
 *   X-Forwarded-For only when TRUST_PROXY says so, so a spoofed header moves nothing.
 *
 * Past a few failures each further attempt is delayed (progressively, capped); past the budget the
 * account or address is locked until its window ends (429 `auth.too_many_attempts` with Retry-After).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RateCounter } from '../../core/cache/rate-counter.js';
import { AppError } from '../../core/http/errors.js';
import { clientAddressKey } from '../../core/http/rate-limit.js';

const WINDOW_MS = 60 * 60 * 1000;
/** Failures allowed before delays start. */
const FREE_FAILURES = 3;
const BASE_DELAY_MS = 200;
const MAX_DELAY_MS = 3_000;

export interface AttemptGuardOptions {
  counters: RateCounter;
  perAccount: number;
  perIp: number;
  /** Tests shorten the delays; production uses the defaults. */
  delay?: (ms: number) => Promise<unknown>;
}

export interface AttemptTicket {
  /** The secret was right: the account's failures are forgiven. */
  succeeded(): Promise<void>;
  /** The secret was wrong: counts against the client address (the account's count is already taken). */
  failed(): Promise<void>;
}

export interface AttemptGuard {
  /**
   * Reserves one attempt on `account` from `ip`, waiting out the progressive delay; throws 429 when
   * either is locked. Call `succeeded()` or `failed()` on the ticket once the secret is checked.
   */
  begin(account: string, ip: string): Promise<AttemptTicket>;
  /** Clears an account's failures without an attempt (a completed password reset proves the person). */
  forgive(account: string): Promise<void>;
}

/** The delay before the attempt that follows `failures` failures. */
export function attemptDelayMs(failures: number): number {
  if (failures < FREE_FAILURES) return 0;
  return Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (failures - FREE_FAILURES));
}

function locked(resetAt: number): AppError {
  const retryAfter = Math.max(1, Math.ceil((resetAt - Date.now()) / 1000));
  return new AppError('auth.too_many_attempts', `Too many failed attempts; try again in ${retryAfter} s.`, { headers: { 'retry-after': String(retryAfter) } });
}

export function createAttemptGuard(options: AttemptGuardOptions): AttemptGuard {
  const { counters, perAccount, perIp } = options;
  const delay = options.delay ?? sleep;

  return {
    async begin(account, ip) {
      const accountKey = `auth:account:${account}`;
      // Grouped like the HTTP rate limits: rotating through an IPv6 /64 buys no extra guesses.
      const ipKey = `auth:ip:${clientAddressKey(ip)}`;
      const ipFailures = await counters.peek(ipKey);
      if (ipFailures && ipFailures.count >= perIp) throw locked(ipFailures.resetAt);
      const attempt = await counters.hit(accountKey, WINDOW_MS);
      if (attempt.count > perAccount) throw locked(attempt.resetAt);
      const wait = attemptDelayMs(attempt.count - 1);
      if (wait > 0) await delay(wait);
      return {
        succeeded: () => counters.reset(accountKey),
        failed: async () => void (await counters.hit(ipKey, WINDOW_MS)),
      };
    },
    forgive: (account) => counters.reset(`auth:account:${account}`),
  };
}
