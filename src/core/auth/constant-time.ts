import { timingSafeEqual } from 'node:crypto';

/**
 * Compares two secrets in time that does not depend on where they differ (only their lengths may be
 * told apart). Strings are compared as UTF-8 bytes. Never throws, whatever the input.
 */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const left = typeof a === 'string' ? Buffer.from(a, 'utf8') : a;
  const right = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  return left.length === right.length && timingSafeEqual(left, right);
}
