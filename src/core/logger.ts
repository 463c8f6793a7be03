/**
 * The process logger: pino JSON lines, with credentials censored at any depth of what is logged.
 *
 * Redaction runs only when a line is actually written (pino's `formatters.log`), not when Fastify creates
 * each request's child logger: pino's path-based `redact` also censors child bindings, which cost a
 * redaction pass on every request even at levels that log nothing.
 */
import pino, { type Logger } from 'pino';
import type { Config } from '../config.js';

/** Keys whose values never reach a log line (compared case-insensitively), wherever they appear. */
const SENSITIVE_KEYS = new Set(
  [
    'authorization',
    'cookie',
    'set-cookie',
    'x-api-key',
    'x-bootstrap-token',
    'password',
    'currentPassword',
    'newPassword',
    'token',
    'accessToken',
    'refreshToken',
    'secret',
    'code',
    'recoveryCode',
    'mfaToken',
  ].map((key) => key.toLowerCase()),
);

export const REDACTED = '[redacted]';
const MAX_DEPTH = 8;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * A copy of `value` with sensitive keys censored. Only plain objects and arrays are walked: errors,
 * requests and replies are left to their pino serializers, which name no credential.
 */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, depth + 1));
  if (!isPlainObject(value)) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    copy[key] = SENSITIVE_KEYS.has(key.toLowerCase()) ? REDACTED : redactSecrets(item, depth + 1);
  }
  return copy;
}

export function createLogger(config: Config, destination?: pino.DestinationStream): Logger {
  return pino({ level: config.log.level, formatters: { log: (object) => redactSecrets(object) as Record<string, unknown> } }, destination);
}
